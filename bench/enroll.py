"""Bulk enrollment of N subscribers (default 100,000) into SQLite and PostgreSQL.

Prints, per backend: subscribers/s over the whole import and the mean HoA
allocation time (HA choice excluded: the random-IID insert of
``allocation.allocate_v6``) and mean enrollment time over the first and the
last 1,000 subscribers.  With an O(1) allocator the last/first ratio stays
near 1 whatever N is.

    .venv/bin/python bench/enroll.py [--count 100000] [--backend sqlite|postgresql|both]

PostgreSQL: a throw-away database on 127.0.0.1:5432 (trust auth), dropped afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

from bootstrap import config, migrate
from bootstrap.services import allocation, bulk, credentials, home_agents, networks, subscribers
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store

ACTOR = Actor("bench", "cli")
WINDOW = 1000


def timed(fn: Callable[..., Any], sink: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sink.append(time.perf_counter() - t0)

    return wrapper


def rows(n: int) -> Iterator[bulk.Row]:
    for i in range(n):
        yield bulk.Row(i + 1, f"mn{i:06d}@example.com")


def run(url: str, workdir: Path, count: int, batch: int) -> dict[str, float]:
    store = Store(url)
    migrate.upgrade(store)
    base = config.from_mapping({}, workdir, "bench")
    settings = dataclasses.replace(base, database=dataclasses.replace(base.database, url=url))
    credentials.fernet(settings)
    networks.add(store, ACTOR, "example.com", "2001:db8:1::/48", "198.51.100.0/24")
    for i in range(1, 5):
        home_agents.add(
            store, ACTOR, f"ha{i}.example.com", "example.com", f"2001:db8:1::{i}", capacity=count
        )
    alloc_times: list[float] = []
    enroll_times: list[float] = []
    orig_alloc, orig_enroll = allocation.allocate_v6, subscribers.enroll_in
    allocation.allocate_v6 = timed(orig_alloc, alloc_times)  # type: ignore[assignment]
    subscribers.enroll_in = timed(orig_enroll, enroll_times)  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        result = bulk.import_rows(store, settings, ACTOR, rows(count), batch)
        elapsed = time.perf_counter() - t0
    finally:
        allocation.allocate_v6 = orig_alloc  # type: ignore[assignment]
        subscribers.enroll_in = orig_enroll  # type: ignore[assignment]
    assert result.enrolled == count, result.rejected[:5]
    store.dispose()
    w = min(WINDOW, count)
    return {
        "seconds": elapsed,
        "per_s": count / elapsed,
        "alloc_first_us": statistics.fmean(alloc_times[:w]) * 1e6,
        "alloc_last_us": statistics.fmean(alloc_times[-w:]) * 1e6,
        "enroll_first_us": statistics.fmean(enroll_times[:w]) * 1e6,
        "enroll_last_us": statistics.fmean(enroll_times[-w:]) * 1e6,
    }


def pg_database() -> tuple[str, Callable[[], None]]:
    name = f"mip6bs_bench_{secrets.token_hex(4)}"
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
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"enrolling {args.count} subscribers per backend, batches of {args.batch}")
    print(
        f"{'backend':<11} {'seconds':>8} {'subs/s':>8} {'alloc first':>12} {'alloc last':>11}"
        f" {'ratio':>6} {'enroll first':>13} {'enroll last':>12} {'ratio':>6}"
    )
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            drop: Callable[[], None] = lambda: None  # noqa: E731
            if backend == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                url, drop = pg_database()
            try:
                r = run(url, Path(tmp), args.count, args.batch)
            finally:
                drop()
        print(
            f"{backend:<11} {r['seconds']:8.1f} {r['per_s']:8.0f} {r['alloc_first_us']:10.0f}us"
            f" {r['alloc_last_us']:9.0f}us {r['alloc_last_us'] / r['alloc_first_us']:6.2f}"
            f" {r['enroll_first_us']:11.0f}us {r['enroll_last_us']:10.0f}us"
            f" {r['enroll_last_us'] / r['enroll_first_us']:6.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
