"""``schemathesis run`` against the REST API on SQLite and PostgreSQL (issue 14).

Schemathesis (a tool the project did not write) reads the published OpenAPI
document and sends what it allows and what it does not: every check, the
examples, coverage and fuzzing phases, a bounded number of cases per
operation.  Any server error, undocumented status, response that breaks its
schema, missing ``Allow`` or accepted invalid input is a failure.  Token
revocation is left out: it would revoke the token the run itself uses.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bootstrap.daemon import bundle_renderer
from bootstrap.web.app import create_app
from bootstrap.web.openapi import document
from bootstrap.web.routing import SPECS
from tests.support.web import World

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
MAX_EXAMPLES = 8
CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.fixture
def world(world_both: World) -> World:
    return world_both


@pytest.fixture
def served(world: World) -> Iterator[tuple[str, web.Application]]:
    """The web app on a free loopback port, served by a thread of its own."""
    app = create_app(world.settings, world.store, bundle_renderer(world.settings))
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_schemathesis_finds_nothing(
    served: tuple[str, web.Application], world: World, tmp_path: Path
) -> None:
    base, app = served
    schema = tmp_path / "openapi.json"
    schema.write_text(json.dumps(document(list(app[SPECS].values()),
                                          world.settings.web.api_page_limit)))
    r = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(CONFIG), "run", str(schema), "--url", base,
         "--checks", "all",
         "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES),
         "--seed", "14", "--workers", "1", "--no-color", "--continue-on-failure",
         "--exclude-operation-id", "revoke_token", "--request-timeout", "30",
         "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml"),
         "-H", f"Authorization: Bearer {world.tokens['admin']}"],
        capture_output=True, text=True, timeout=300,
    )
    errors = r.stdout.find("ERRORS")
    tail = (r.stdout[errors:errors + 3000] if errors >= 0 else "") + r.stdout[-3000:]
    assert r.returncode == 0, tail + r.stderr[-2000:]
    assert "No issues found" in r.stdout or " 0 failures" in r.stdout or "failed" not in tail
    print(tail[-1500:])
