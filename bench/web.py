"""Web UI and REST API with N subscribers (default 100,000): time of each page, beside a peer.

Fills a store (SQLite and PostgreSQL) with ``bootstrapctl import``'s path,
starts the real application (``bootstrap.web.app.create_app``) on loopback,
logs in, and times (median of ``--runs``, after one warm-up) the subscribers
page, a search for one identity, the dashboard and ``GET /api/v1/subscribers``
(first page and a page deep in the list), and every other page of the
operator UI (filtered and sorted lists, a subscriber, the confirmation
steps, home agents, networks, DNS, operators, the audit log).  The peer, in the same run: the
same store's primary-key lookup of one subscriber row through SQLAlchemy
(what no page can beat), and ``/healthz`` (the server's own floor).

    .venv/bin/python bench/web.py [--count 100000] [--runs 5] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import psycopg
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bootstrap import config, migrate
from bootstrap.services import bulk, credentials, home_agents, networks, operators
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from bootstrap.store.models import Subscriber
from bootstrap.web.app import create_app

ACTOR = Actor("bench", "cli")
PASSWORD = "bench-password-123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fill(url: str, work: Path, count: int) -> tuple[config.Settings, Store, str]:
    store = Store(url)
    migrate.upgrade(store)
    base = config.from_mapping({"web": {"login_attempts": 1000}}, work, "bench")
    settings = dataclasses.replace(base, database=dataclasses.replace(base.database, url=url))
    credentials.fernet(settings)
    networks.add(store, ACTOR, "example.com", "2001:db8:1::/48", None, ["example.com"])
    for i in range(1, 5):
        home_agents.add(
            store, ACTOR, f"ha{i}.example.com", "example.com", f"2001:db8:1::{i}", capacity=count
        )
    rows = (bulk.Row(i + 1, f"mn{i:06d}@example.com") for i in range(count))
    result = bulk.import_rows(store, settings, ACTOR, rows, 2000)
    assert result.enrolled == count, result.rejected[:3]
    operators.add(store, ACTOR, "bench", "admin", PASSWORD)
    _, token = operators.create_token(store, ACTOR, "bench", "viewer")
    return settings, store, token


async def timed(runs: int, call: Callable[[], Awaitable[None]]) -> float:
    await call()  # warm-up: caches, first plan
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


async def measure(
    settings: config.Settings, store: Store, token: str, count: int, runs: int
) -> dict[str, float]:
    app = create_app(settings, store)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        page = await client.get("/login")
        csrf = CSRF.findall(await page.text())[-1]
        resp = await client.post(
            "/login", data={"name": "bench", "password": PASSWORD, "csrf_token": csrf, "next": "/"}
        )
        assert resp.status == 200 and resp.url.path == "/", resp.status
        bearer = {"Authorization": f"Bearer {token}"}
        one = f"mn{count // 2:06d}@example.com"

        def get(path: str, **kw: object) -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                r = await client.get(path, **kw)  # type: ignore[arg-type]
                body = await r.read()
                assert r.status == 200, (path, r.status, body[:200])

            return call

        def lookup() -> Callable[[], Awaitable[None]]:
            async def call() -> None:
                with store.session() as s:
                    s.execute(select(Subscriber).where(Subscriber.id == count // 2)).one()

            return call

        cases = {
            "peer: pk lookup": lookup(),
            "peer: /healthz": get("/healthz"),
            "subscribers page": get("/subscribers"),
            "search one identity": get(f"/subscribers?q={one}"),
            "dashboard": get("/"),
            "api first page": get("/api/v1/subscribers?limit=100", headers=bearer),
            "api page at 90%": get(
                f"/api/v1/subscribers?limit=100&offset={count * 9 // 10}", headers=bearer
            ),
            # every other page of the operator UI
            "list: filter+sort": get(
                "/subscribers?network=example.com&state=active&auth=eap&sort=home_agent&dir=desc"
            ),
            "list: HA, page 50": get("/subscribers?home_agent=ha2.example.com&page=50&size=100"),
            "list: page at 90%": get(f"/subscribers?page={count * 9 // 10 // 50}"),
            "one subscriber": get(f"/subscribers/{one}"),
            "enroll form": get("/subscribers/new"),
            "import form": get("/subscribers/import"),
            "mn configuration": get(f"/subscribers/{one}/config"),
            "confirm revoke": get(f"/subscribers/{one}/revoke"),
            "home agents": get("/home-agents"),
            "one home agent": get("/home-agents/ha1.example.com"),
            "confirm drain": get("/home-agents/ha1.example.com/drain"),
            "networks": get("/networks"),
            "one network": get("/networks/example.com"),
            "dns": get("/dns"),
            "operators": get("/operators"),
            "audit": get("/audit"),
            "audit: filtered": get("/audit?action=subscriber.&source=cli&since=2020-01-01"),
            "audit: one target": get(f"/audit?target={one}"),
        }
        return {name: await timed(runs, call) for name, call in cases.items()}
    finally:
        await client.close()


def pg_database() -> tuple[str, Callable[[], None]]:
    name = f"mip6bs_bench_web_{secrets.token_hex(4)}"
    admin = {"host": "127.0.0.1", "user": "postgres", "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as c:  # type: ignore[arg-type]
        c.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]

    def drop() -> None:
        with psycopg.connect(**admin) as c:  # type: ignore[arg-type]
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, dict[str, float]] = {}
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            drop: Callable[[], None] = lambda: None  # noqa: E731
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'web.db'}"
            else:
                url, drop = pg_database()
            try:
                settings, store, token = fill(url, Path(tmp), args.count)
                results[backend] = asyncio.run(
                    measure(settings, store, token, args.count, args.runs)
                )
                store.dispose()
            finally:
                drop()
    print(f"{args.count} subscribers; median of {args.runs} requests, ms (goal: <= 100 each)")
    print(f"{'request':<24}" + "".join(f" {b:>11}" for b in results))
    for name in next(iter(results.values())):
        print(f"{name:<24}" + "".join(f" {r[name]:11.1f}" for r in results.values()))


if __name__ == "__main__":
    main()
