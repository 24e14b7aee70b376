"""Findings 1 and 7 of the hardening review (issue 14): login redirects and throttling.

Backend-independent (the rules live in the web face and in memory), so on SQLite only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bootstrap.web.app import create_app
from tests.support.web import PASSWORDS, World, csrf_of

# ---------------------------------------------------------------- 1. open redirect


OFF_ORIGIN = (
    "/\t/evil.example/path", "//evil.example/", "/\\evil.example", "https://evil.example/",
     "/\n/evil.example", "/ /evil.example", "/\u2028/evil.example", "evil.example",
     "/\x00/evil.example", "http:/evil.example",
)


async def test_login_never_redirects_off_origin(client: TestClient) -> None:
    """The review: GET /login?next=/%09/evil.example/path, log in, 303 to //evil.example/path."""
    for target in OFF_ORIGIN:
        await _login_with_next(client, target)


async def _login_with_next(client: TestClient, target: str) -> None:
    page = await client.get("/login?next=" + quote(target, safe=""))
    html = await page.text()
    if page.status == 200:  # the form carries no foreign target on
        assert 'name="next" value="/"' in html or "evil" not in html, html
    else:
        assert page.status == 422 and "control characters" in html, target
    token = csrf_of((await (await client.get("/login")).text()).split('action="/login"', 1)[1])
    resp = await client.post(
        "/login",
        data={"name": "admin", "password": PASSWORDS["admin"], "csrf_token": token,
              "next": target},
        allow_redirects=False,
    )
    assert resp.status == 303
    assert resp.headers["Location"] == "/", target


async def test_login_keeps_a_same_origin_next(client: TestClient) -> None:
    page = await client.get("/login?next=" + quote("/subscribers?search=mn&page=2", safe=""))
    html = await page.text()
    token = csrf_of(html[html.index('action="/login"'):])
    resp = await client.post(
        "/login",
        data={"name": "admin", "password": PASSWORDS["admin"], "csrf_token": token,
              "next": "/subscribers?search=mn&page=2"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/subscribers?search=mn&page=2"


# ---------------------------------------------------------------- 7. no lockout


async def _try_login(client: TestClient, name: str, password: str, source: str) -> int:
    page = await client.get("/login", headers={"X-Test-Source": source})
    html = await page.text()
    token = csrf_of(html[html.index('action="/login"'):])
    resp = await client.post("/login", data={"name": name, "password": password,
                                              "csrf_token": token},
                             headers={"X-Test-Source": source}, allow_redirects=False)
    return resp.status


async def test_wrong_passwords_from_one_source_lock_only_that_pair(
    aiohttp_client: Any, world: World
) -> None:
    """The review: five wrong passwords from anywhere locked the name everywhere."""
    app = create_app(world.settings, world.store)

    @web.middleware
    async def source_of(request: web.Request, handler: Any) -> web.StreamResponse:
        return await handler(request.clone(remote=request.headers.get("X-Test-Source",
                                                                       "198.51.100.1")))

    app.middlewares.insert(0, source_of)
    client = await aiohttp_client(app)
    for _ in range(world.settings.web.login_attempts):
        assert await _try_login(client, "oper", "wrong-password!", "198.51.100.66") == 401
    assert await _try_login(client, "oper", PASSWORDS["oper"], "198.51.100.66") == 429
    # the right password from another address works, and other users of the guessing address too
    assert await _try_login(client, "oper", PASSWORDS["oper"], "198.51.100.7") == 303
    assert await _try_login(client, "view", PASSWORDS["view"], "198.51.100.66") == 303



async def test_malformed_header_is_one_info_line(
    aiohttp_server: Any, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Finding 9: aiohttp logged a malformed request header as an ERROR with a traceback."""
    import asyncio
    import logging

    server = await aiohttp_server(create_app(world.settings, world.store))
    with caplog.at_level(logging.DEBUG):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n")
        await writer.drain()
        status = await reader.readline()
        writer.close()
        await asyncio.sleep(0.1)
    assert b" 400 " in status
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records and all(r.levelno < logging.WARNING and r.exc_info is None for r in records)
    assert all("\x00" not in r.getMessage() for r in caplog.records)
