"""Shared fixtures: stores on SQLite and on the local PostgreSQL, settings, an example network.

PostgreSQL runs at 127.0.0.1:5432 with trust auth (``make test`` starts it
when it is installed but stopped).  Each test run creates its own databases
named ``mip6bs_<run>_*`` and drops them at the end: one migrated template,
then one copy per test (``CREATE DATABASE ... TEMPLATE``), which is much
faster than migrating each time.  A missing PostgreSQL fails the tests that
need it; nothing is skipped.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bootstrap import migrate
from bootstrap.config import Settings
from bootstrap.store.engine import Store
from tests.support.store import add_example, make_settings

PG_HOST = os.environ.get("BOOTSTRAP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BOOTSTRAP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BOOTSTRAP_TEST_PG_USER", "postgres")
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
_counter = itertools.count()


def pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    )


def pg_url_for(dbname: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{dbname}"


def create_pg_database(name: str, template: str | None = None) -> str:
    with pg_admin() as conn:
        tpl = f" TEMPLATE {template}" if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{tpl}')  # type: ignore[arg-type]
    return pg_url_for(name)


def drop_pg_database(name: str) -> None:
    with pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that per-test databases are copied from."""
    name = f"mip6bs_{RUN_ID}_tpl"
    url = create_pg_database(name)
    store = Store(url)
    migrate.upgrade(store)
    store.dispose()
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty (unmigrated) PostgreSQL database of this test, dropped afterwards."""
    name = f"mip6bs_{RUN_ID}_{next(_counter)}"
    url = create_pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture
def pg_store(pg_template: str) -> Iterator[Store]:
    name = f"mip6bs_{RUN_ID}_{next(_counter)}"
    store = Store(create_pg_database(name, pg_template))
    try:
        yield store
    finally:
        store.dispose()
        drop_pg_database(name)


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
