"""bootstrapd's web service: listens on [web] listen, announces the URL and, on an empty
store, the first admin's one-time password, which then logs in."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import aiohttp

from bootstrap import migrate
from bootstrap.context import ServiceContext
from bootstrap.store.engine import Store
from bootstrap.web.service import serve
from tests.support.web import csrf_of, make_settings

PORT = 18087


async def test_serve_announces_url_and_first_admin_password(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, listen=f"127.0.0.1:{PORT}")
    store = Store(settings.database.url)
    migrate.upgrade(store)
    lines: list[str] = []
    ctx = ServiceContext(settings=settings, store=store, announce=lines.append)
    task = asyncio.create_task(serve(ctx))
    try:
        for _ in range(100):
            if lines:
                break
            await asyncio.sleep(0.05)
        assert lines[0] == f"web: http://127.0.0.1:{PORT}/"
        m = re.search(r"operator 'admin' created with password (\S+)", lines[1])
        assert m, lines
        password = m.group(1)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            base = f"http://127.0.0.1:{PORT}"
            page = await (await http.get(f"{base}/login")).text()
            resp = await http.post(f"{base}/login", data={
                "name": "admin", "password": password, "csrf_token": csrf_of(page)})
            assert resp.status == 200 and "admin (admin)" in await resp.text()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.dispose()
    # second start: operators exist, no password is printed
    store = Store(settings.database.url)
    lines.clear()
    ctx = ServiceContext(settings=settings, store=store, announce=lines.append)
    task = asyncio.create_task(serve(ctx))
    try:
        for _ in range(100):
            if lines:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)
        assert lines == [f"web: http://127.0.0.1:{PORT}/"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.dispose()
