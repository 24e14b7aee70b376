"""Findings of the hardening review (issue 14) through the web faces, on both backends.

Each test replays what the review sent and checks what an operator would:
the status, the one-sentence error, the store and the log.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from bootstrap.services import audit, subscribers
from bootstrap.web.security import same_origin_path
from tests.support.web import World, csrf_of, login

API = "/api/v1"


@pytest.fixture
def world(world_both: World) -> World:
    return world_both


async def call(client: TestClient, world: World, method: str, path: str, role: str = "admin",
               **kw: Any) -> tuple[int, Any]:
    headers = {**world.bearer(role), **kw.pop("headers", {})}
    resp = await client.request(method, path, headers=headers, **kw)
    body = await resp.json() if resp.content_type == "application/json" else await resp.text()
    return resp.status, body


# ---------------------------------------------------------------- 2. newline in identity


async def test_api_refuses_control_characters_in_identity(
    client: TestClient, world: World
) -> None:
    """The review: 201 for {"identity": "api\\n@example.com"}."""
    for identity in ("api\n@example.com", "api@example.com\n", "a\x00b@example.com",
                     "a\u2028b@example.com", "a\tb@example.com", "a\x85b@example.com"):
        status, body = await call(client, world, "POST", f"{API}/subscribers",
                                  json={"identity": identity})
        assert status == 422, body
        assert "control characters" in body["error"]
    assert subscribers.list_page(world.store)[1] == 0


async def test_api_refuses_newline_in_fqdn(client: TestClient, world: World) -> None:
    status, body = await call(client, world, "POST", f"{API}/subscribers",
                              json={"identity": "mn@example.com", "fqdn": "nl\n.example.com"})
    assert status == 422 and "control characters" in body["error"]


# ---------------------------------------------------------------- 3. every NAI reachable


REACHABLE = (
    "a`id`{x}|y@example.com", "ha#sh@example.com", "a/b@example.com", "q?x=1&y@example.com",
    "per%cent@example.com", "\u00e9t\u00e9@example.com", "o'hara~+!$*=^@example.com",
)


async def test_every_accepted_identity_is_reachable(client: TestClient, world: World) -> None:
    """The review: enrolled by the CLI, 404 in the API, UI links not percent-encoded."""
    csrf = await login(client, "admin")
    for n, identity in enumerate(REACHABLE):
        await _reach(client, world, identity, f"mn{n}.example.com", csrf)


async def _reach(client: TestClient, world: World, identity: str, fqdn: str, csrf: str) -> None:
    status, body = await call(client, world, "POST", f"{API}/subscribers",
                              json={"identity": identity, "fqdn": fqdn})
    assert status == 201, body
    assert body["identity"] == identity
    path = f"{API}/subscribers/{quote(identity, safe='')}"
    status, body = await call(client, world, "GET", path)
    assert status == 200 and body["identity"] == identity
    status, body = await call(client, world, "POST", f"{path}/suspend")
    assert status == 200 and body["state"] == "suspended"
    # the UI links to it with the identity as one percent-encoded path segment
    html = await (await client.get(f"/subscribers?q={quote(identity[:4], safe='')}")).text()
    assert f'href="/subscribers/{quote(identity, safe="@")}"' in html
    page = await client.get(f"/subscribers/{quote(identity, safe='')}")
    assert page.status == 200
    resp = await client.post(f"/subscribers/{quote(identity, safe='')}/revoke",
                             data={"csrf_token": csrf, "confirm": "yes"},
                             allow_redirects=False)
    assert resp.status == 303
    assert same_origin_path(resp.headers["Location"]) is not None
    assert subscribers.get(world.store, identity).state.value == "revoked"


async def test_identity_outside_rfc7542_is_refused_with_one_sentence(
    client: TestClient, world: World
) -> None:
    for bad in ("a b@example.com", "a..b@example.com", "a\"b@example.com", "a,b@example.com",
                "a@b@example.com", "x" * 250 + "@example.com"):
        status, body = await call(client, world, "POST", f"{API}/subscribers",
                                  json={"identity": bad})
        assert status == 422, (bad, body)
        assert body["error"].count(". ") == 0 and "\n" not in body["error"]


# ---------------------------------------------------------------- 4. NUL on every backend


NUL_PATHS = (
    f"{API}/subscribers?search=%00", f"{API}/subscribers?network=%00",
     f"{API}/subscribers?state=%00", f"{API}/audit?target=%00",
     f"{API}/home-agents?network=%00", f"{API}/subscribers/x%00y@example.com",
    f"{API}/networks/x%00y", f"{API}/home-agents/x%00y",
    f"{API}/subscribers/x%00y@example.com/suspend",
)


async def test_nul_is_refused_before_the_store(client: TestClient, world: World) -> None:
    """The review: 503 'the store cannot be used right now' on PostgreSQL for 8 endpoints."""
    for path in NUL_PATHS:
        method = "POST" if path.endswith("/suspend") else "GET"
        status, body = await call(client, world, method, path, role="operator")
        assert status == 422, (path, body)
        assert "control characters" in body["error"]
    await login(client, "view")
    resp = await client.get("/subscribers?search=%00")
    assert resp.status == 422 and "control characters" in await resp.text()


async def test_nul_in_login_name_is_a_wrong_login(client: TestClient, world: World) -> None:
    page = await client.get("/login")
    html = await page.text()
    token = csrf_of(html[html.index('action="/login"'):])
    resp = await client.post("/login", data={"name": "adm\x00in", "password": "x" * 12,
                                             "csrf_token": token})
    assert resp.status == 401 and "wrong name or password" in await resp.text()
    fails = [e for e in audit.recent(world.store, limit=5)
             if e.action == "operator.login_failed"]
    assert fails and "\x00" not in fails[0].target


async def test_forged_log_line_is_quoted(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    forged = "x\n2026-12-02 15:46:00,000 INFO bootstrap.web: admin logged in@example.com"
    with caplog.at_level(logging.DEBUG):
        status, _ = await call(client, world, "GET", f"{API}/subscribers/{quote(forged)}")
        await call(client, world, "GET", f"{API}/subscribers/{quote('x' + chr(0) + forged)}")
    assert status == 422
    for record in caplog.records:
        assert "\n" not in record.getMessage(), record.getMessage()


# ---------------------------------------------------------------- 5. no 500s


async def test_token_lifetime_overflow_is_a_422(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        for days in (3_000_000, 1e308, 36_501):
            status, body = await call(client, world, "POST", f"{API}/tokens",
                                      json={"name": f"long{int(days) % 97}", "role": "viewer",
                                            "days": days})
            assert status == 422, body
            assert "at most 36500" in body["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    status, body = await call(client, world, "POST", f"{API}/tokens",
                              json={"name": "century", "role": "viewer", "days": 36_500})
    assert status == 201, body


async def test_deeply_nested_body_is_a_400(client: TestClient, world: World) -> None:
    for raw in ("[" * 100_000, "{\"a\":" * 50_000, '"\\ud800"', '{"identity": "\\ud800@x.com"}'):
        status, body = await call(client, world, "POST", f"{API}/subscribers", data=raw,
                                  headers={"Content-Type": "application/json"})
        assert status in (400, 422), (raw[:20], status, body)
        assert "error" in body
