"""Helpers of the web tests.

A "world" (store with a network, an HA, a CA, operators and tokens) costs
several Argon2 hashes and a migration; it is built once per run and copied
for each test: the SQLite file and key directory with ``copytree``, the
PostgreSQL database with ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient

from bootstrap import config, migrate
from bootstrap.config import Settings
from bootstrap.services import credentials, home_agents, networks, operators
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from tests.support import pg

SETUP = Actor("pytest", "cli")
PASSWORDS = {
    "admin": "admin-password-123",
    "oper": "oper-password-123",
    "view": "view-password-123",
}
ROLE_OF = {"admin": "admin", "oper": "operator", "view": "viewer"}


@dataclass
class World:
    settings: Settings
    store: Store
    tokens: dict[str, str]
    """role -> clear API token"""

    def bearer(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_settings(base: Path, **web: object) -> Settings:
    return config.from_mapping(
        {"database": {"url": f"sqlite:///{base / 'web.db'}"}, "web": dict(web)}, base, "test"
    )


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "page has no CSRF field"
    return m.group(1)


async def login(client: TestClient, name: str, password: str | None = None) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = await client.get("/login")
    html = await page.text()
    token = csrf_of(html[html.index('action="/login"'):])
    resp = await client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token,
              "next": "/"},
    )
    assert resp.status == 200, await resp.text()
    assert resp.url.path == "/"
    return csrf_of(await resp.text())


def build_world(base: Path, store: Store | None = None, **web: object) -> World:
    """Settings in ``base``, a migrated store (SQLite in ``base`` unless given), one network
    with one HA, a CA, operators admin/oper/view and a token per role."""
    settings = make_settings(base, **{"login_attempts": 3, "login_window": 60.0, **web})
    if store is None:
        store = Store(settings.database.url)
        migrate.upgrade(store)
    else:
        db = dataclasses.replace(settings.database, url=store.url)
        settings = dataclasses.replace(settings, database=db)
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


def clone_sqlite(template: World, template_dir: Path, into: Path) -> World:
    """A private copy of a SQLite world (database, secret key, credentials)."""
    shutil.copytree(template_dir, into)
    settings = make_settings(into, **_web_of(template.settings))
    return World(settings, Store(settings.database.url), dict(template.tokens))


def _web_of(settings: Settings) -> dict[str, object]:
    return dataclasses.asdict(settings.web)


def pg_create(template: str) -> tuple[str, str]:
    """A new database copied from ``template``: (name, SQLAlchemy URL)."""
    name = pg.new_name()
    return name, pg.create_database(name, template)


def pg_drop(name: str) -> None:
    pg.drop_database(name)


def pg_world(template: tuple[World, Path, str], tmp_path: Path) -> Iterator[World]:
    """A private PostgreSQL copy of the world, dropped afterwards."""
    w0, base, tpl = template
    name, url = pg_create(tpl)
    w = clone_sqlite(w0, base, tmp_path / "world")  # same key files and settings
    w.store.dispose()
    store = Store(url)
    settings = dataclasses.replace(
        w.settings, database=dataclasses.replace(w.settings.database, url=url)
    )
    try:
        yield World(settings, store, dict(w0.tokens))
    finally:
        store.dispose()
        pg_drop(name)
