"""Helpers of the web tests (imported by name: tests/ has no package)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient

from bootstrap import config
from bootstrap.config import Settings
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store

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
    token = csrf_of(await page.text())
    resp = await client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token,
              "next": "/"},
    )
    assert resp.status == 200, await resp.text()
    assert resp.url.path == "/"
    return csrf_of(await resp.text())
