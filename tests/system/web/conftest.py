"""Fixtures of the web tests: a migrated store with one network, HA and CA, operators and
API tokens of every role (built once per run, copied per test), and an aiohttp client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bootstrap.store.engine import Store
from bootstrap.web.app import create_app
from ikev2_glue.mn_bundle import renderer_for
from tests.support.web import World, build_world, clone_sqlite, pg_create, pg_drop, pg_world


@pytest.fixture(scope="session")
def sqlite_world_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    base = tmp_path_factory.mktemp("web-world")
    w = build_world(base)
    w.store.dispose()
    return w, base


@pytest.fixture(scope="session")
def pg_world_template(
    pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Path, str]]:
    """A PostgreSQL world database (from the migrated template of tests/conftest.py)."""
    base = tmp_path_factory.mktemp("web-world-pg")
    name, url = pg_create(pg_template)
    try:
        store = Store(url)
        w = build_world(base, store)
        store.dispose()
        yield w, base, name
    finally:
        pg_drop(name)


@pytest.fixture
def world(sqlite_world_template: tuple[World, Path], tmp_path: Path) -> Iterator[World]:
    template, base = sqlite_world_template
    w = clone_sqlite(template, base, tmp_path / "world")
    try:
        yield w
    finally:
        w.store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def world_both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The world on each store backend; a module opts in by overriding ``world`` with it."""
    if request.param == "postgresql":
        yield from pg_world(request.getfixturevalue("pg_world_template"), tmp_path)
        return
    template, base = request.getfixturevalue("sqlite_world_template")
    w = clone_sqlite(template, base, tmp_path / "world")
    try:
        yield w
    finally:
        w.store.dispose()


@pytest.fixture
async def client(aiohttp_client: Any, world: World) -> TestClient:
    # as bootstrapd wires it: the strongSwan face's bundle writer, injected
    return await aiohttp_client(
        create_app(world.settings, world.store, renderer_for(world.settings))
    )
