"""Shared fixtures: stores on SQLite and on the local PostgreSQL, settings, an example network.

PostgreSQL (``tests.support.pg``) runs at 127.0.0.1:5432 with trust auth.
Each test run creates its own databases and drops them at the end: one migrated template,
then one copy per test (``CREATE DATABASE ... TEMPLATE``), which is much
faster than migrating each time.  A missing PostgreSQL fails the tests that
need it; nothing is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap import migrate
from bootstrap.config import Settings
from bootstrap.store.engine import Store
from tests.support import pg
from tests.support.store import add_example, make_settings


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that per-test databases are copied from."""
    name = pg.new_name("tpl")
    url = pg.create_database(name)
    store = Store(url)
    migrate.upgrade(store)
    store.dispose()
    try:
        yield name
    finally:
        pg.drop_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty (unmigrated) PostgreSQL database of this test, dropped afterwards."""
    name = pg.new_name()
    url = pg.create_database(name)
    try:
        yield url
    finally:
        pg.drop_database(name)


@pytest.fixture
def pg_store(pg_template: str) -> Iterator[Store]:
    name = pg.new_name()
    store = Store(pg.create_database(name, pg_template))
    try:
        yield store
    finally:
        store.dispose()
        pg.drop_database(name)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(store)
    try:
        yield store
    finally:
        store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Store:
    """A migrated, empty store on each backend."""
    name = "sqlite_store" if request.param == "sqlite" else "pg_store"
    value = request.getfixturevalue(name)
    assert isinstance(value, Store)
    return value


@pytest.fixture
def settings(tmp_path: Path, store: Store) -> Settings:
    """Settings whose files live in ``tmp_path`` and whose database is ``store``."""
    return make_settings(tmp_path, store.url)


@pytest.fixture
def example_store(store: Store, settings: Settings) -> Store:
    add_example(store, settings)
    return store
