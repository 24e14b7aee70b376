"""Fixtures of the web tests: a migrated SQLite store with one network, HA and CA,
operators and API tokens of every role, and an aiohttp test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from webhelpers import PASSWORDS, ROLE_OF, SETUP, World, make_settings

from bootstrap import migrate
from bootstrap.services import credentials, home_agents, networks, operators
from bootstrap.store.engine import Store
from bootstrap.web.app import create_app


def build_world(base: Path, **web: object) -> World:
    settings = make_settings(base, **{"login_attempts": 3, "login_window": 60.0, **web})
    store = Store(settings.database.url)
    migrate.upgrade(store)
    networks.add(store, SETUP, "example.com", "2001:db8:1::/64", "192.0.2.0/24", ["example.com"])
    home_agents.add(store, SETUP, "ha1.example.com", "example.com", "2001:db8:1::1",
                    settings=settings)
    credentials.ca_init(store, settings)
    for name, password in PASSWORDS.items():
        operators.add(store, SETUP, name, ROLE_OF[name], password)
    tokens = {}
    for role in operators.ROLES:
        _, raw = operators.create_token(store, SETUP, f"t-{role}", role)
        tokens[role] = raw
    return World(settings, store, tokens)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    try:
        yield w
    finally:
        w.store.dispose()


@pytest.fixture
async def client(aiohttp_client: Any, world: World) -> TestClient:
    return await aiohttp_client(create_app(world.settings, world.store))
