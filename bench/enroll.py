"""Bulk import of N subscribers (default 100,000) into SQLite and PostgreSQL, beside a raw load.

Runs the path ``bootstrapctl import`` runs (:func:`bootstrap.services.bulk.import_rows`:
HA choice and claim, HoA by the database, Fernet-encrypted EAP secret and NT
hash, audit, DNS outbox, change version) and, in the same run on the same
database, the peer: the same number of subscriber-shaped rows loaded into a
table of the same shape (unique constraints and indexes included) by
PostgreSQL's ``COPY`` (psycopg) or SQLite's ``executemany`` (sqlite3).  Prints
subscribers/s of both, their ratio, and the rate of the first and of the
last 10,000 subscribers (O(1): their ratio stays near 1 whatever N is).

    .venv/bin/python bench/enroll.py [--count 100000] [--batch 1000] [--backend both]

PostgreSQL: a throw-away database on 127.0.0.1:5432 (trust auth), dropped afterwards.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg

from bootstrap import config, migrate
from bootstrap.services import bulk, credentials, home_agents, networks
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store

ACTOR = Actor("bench", "cli")
WINDOW = 10_000
COLUMNS = (
    "identity",
    "fqdn",
    "network_id",
    "home_agent_id",
    "state",
    "auth",
    "credential_ref",
    "secret_enc",
    "nt_hash",
    "created_at",
    "updated_at",
)


def rows(n: int) -> Iterator[bulk.Row]:
    for i in range(n):
        yield bulk.Row(i + 1, f"mn{i:06d}@example.com")


def peer_rows(n: int) -> list[tuple[object, ...]]:
    """Subscriber-shaped rows (a Fernet-token-sized secret, a 32-hex NT hash), made beforehand."""
    now = dt.datetime.now(dt.UTC)
    blob = os.urandom(120)
    return [
        (
            f"peer{i:06d}@example.com",
            f"peer{i:06d}.example.com",
            1,
            1 + i % 4,
            "active",
            "eap",
            "eap-secret",
            blob,
            secrets.token_hex(16),
            now,
            now,
        )
        for i in range(n)
    ]


def peer_sqlite(path: Path, data: list[tuple[object, ...]]) -> float:
    """sqlite3 executemany into a copy of the subscribers table (same DDL, same indexes)."""
    con = sqlite3.connect(path)
    ddl = con.execute("SELECT sql FROM sqlite_master WHERE name = 'subscribers'").fetchone()[0]
    idx = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'subscribers' AND type = 'index'"
            " AND sql IS NOT NULL"
        )
    ]
    con.execute(ddl.replace("subscribers", "peer_subscribers", 1))
    for i, sql in enumerate(idx):
        con.execute(
            sql.replace(" ON subscribers", " ON peer_subscribers").replace(" ix_", f" p{i}_")
        )
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.commit()
    cols = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    rows_ = [tuple(c.isoformat() if isinstance(c, dt.datetime) else c for c in r) for r in data]
    t0 = time.perf_counter()
    con.executemany(f"INSERT INTO peer_subscribers ({cols}) VALUES ({marks})", rows_)
    con.commit()
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def peer_postgresql(dsn: str, data: list[tuple[object, ...]]) -> float:
    """COPY into ``CREATE TABLE ... (LIKE subscribers INCLUDING ALL)``."""
    with psycopg.connect(dsn) as con:
        con.execute("CREATE TABLE peer_subscribers (LIKE subscribers INCLUDING ALL)")
        con.commit()
        t0 = time.perf_counter()
        with con.cursor() as cur:
            cols = ", ".join(COLUMNS)
            with cur.copy(f"COPY peer_subscribers ({cols}) FROM STDIN") as copy:  # type: ignore[arg-type]
                for r in data:
                    copy.write_row(r)
        con.commit()
        return time.perf_counter() - t0


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
    marks: list[tuple[int, float]] = []
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        marks.append((done, time.perf_counter()))

    t0 = time.perf_counter()
    result = bulk.import_rows(store, settings, ACTOR, rows(count), batch, progress)
    elapsed = time.perf_counter() - t0
    assert result.enrolled == count, result.rejected[:5]
    assert len(result.secrets) == count
    store.dispose()
    w = min(WINDOW, count)
    first = next(t for n, t in marks if n >= w) - t0
    last = elapsed - (next(t for n, t in marks if n >= count - w) - t0 if count > w else 0.0)
    data = peer_rows(count)
    if url.startswith("sqlite"):
        peer = peer_sqlite(Path(url.removeprefix("sqlite:///")), data)
    else:
        peer = peer_postgresql(url.replace("postgresql+psycopg", "postgresql"), data)
    return {
        "seconds": elapsed,
        "per_s": count / elapsed,
        "peer_s": count / peer,
        "first_s": w / first,
        "last_s": w / last,
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
    ap.add_argument("--batch", type=int, default=bulk.BATCH)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    w = min(WINDOW, args.count)
    print(f"importing {args.count} subscribers per backend, batches of {args.batch}")
    print(
        f"{'backend':<11} {'seconds':>8} {'subs/s':>8} {'peer/s':>9} {'ratio':>6}"
        f" {f'first {w}/s':>14} {f'last {w}/s':>13} {'last/first':>10}"
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
            f"{backend:<11} {r['seconds']:8.1f} {r['per_s']:8.0f} {r['peer_s']:9.0f}"
            f" {r['per_s'] / r['peer_s']:6.3f} {r['first_s']:14.0f} {r['last_s']:13.0f}"
            f" {r['last_s'] / r['first_s']:10.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
