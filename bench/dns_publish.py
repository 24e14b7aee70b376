"""Benchmark: publishing 10,000 enrollments (AAAA + PTR) to a real named.

Three ways, same records, same batch size, each into a fresh named on
loopback, in one run:

1. our publisher: outbox rows (as enrollment writes them) drained by
   ``dns_updater`` (wire-format UPDATEs, TSIG, TCP, claims and marks in the store);
2. a raw dnspython loop: ``dns.update.UpdateMessage.replace`` per RRset,
   batched, sent over one TCP connection with ``dns.query.tcp``;
3. ``nsupdate -v -k key`` fed the same records, one ``send`` per batch;
4. ``bootstrapctl dns flush`` as an operator runs it (a whole process on the
   same store kind), net: minus the same command on the then empty outbox,
   so its start-up is not counted.

Every method's result is checked by a TSIG AXFR of both zones.  Prints seconds,
records/s and the ratios.  Machines are noisy: compare within one run only.

    .venv/bin/python bench/dns_publish.py [--count 10000] [--batch 500] [--repeat 3] [--pg]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dns.query
import dns.update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bootstrap import config, migrate  # noqa: E402
from bootstrap.config import DnsConfig  # noqa: E402
from bootstrap.dnsrecords import RRset, subscriber_rrsets  # noqa: E402
from bootstrap.domain import AuthMethod, Subscriber, SubscriberState  # noqa: E402
from bootstrap.services import dnsoutbox, outbox  # noqa: E402
from bootstrap.store.engine import Store  # noqa: E402
from dns_updater import keyfile  # noqa: E402
from dns_updater.service import make_publisher  # noqa: E402
from dns_updater.settings import from_settings  # noqa: E402
from tests.support.named import FORWARD, REVERSE6, Named  # noqa: E402

ZONES = (FORWARD, REVERSE6)
PREFIX = ipaddress.IPv6Network("2001:db8:1::/64")


def rrsets(count: int) -> list[RRset]:
    """The RRsets enrollment writes for ``count`` subscribers (AAAA + PTR each)."""
    out: list[RRset] = []
    for i in range(count):
        sub = Subscriber(
            id=i, identity=f"mn{i}@example.com", fqdn=f"mn{i}.example.com", network="example.com",
            network_id=1, home_agent="ha1.example.com", state=SubscriberState.ACTIVE,
            auth=AuthMethod.EAP, hoas=(PREFIX[0x1000 + i],),
        )
        out.extend(subscriber_rrsets(sub, True))
    return out


def check(named: Named, sets: list[RRset]) -> None:
    """AXFR both zones and compare with what should be there."""
    key = keyfile.load(str(named.key_file))
    want = {(r.name, r.rdtype): set(r.rdatas) for r in sets}
    have: dict[tuple[str, str], set[str]] = {}
    for zone in ZONES:
        for msg in dns.query.xfr(named.host, zone, port=named.port, keyring=key,
                                 keyname=key.name, relativize=False, lifetime=300):
            for rrset in msg.answer:
                k = (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype))
                if k in want:
                    have.setdefault(k, set()).update(r.to_text() for r in rrset)
    missing = [k for k, v in want.items() if have.get(k) != v]
    if missing:
        raise SystemExit(f"check failed: {len(missing)} RRsets wrong, e.g. {missing[:3]}")


def run_ours(named: Named, sets: list[RRset], batch: int, pg: bool, work: Path) -> float:
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_pg()) if pg else f"sqlite:///{work / 'bench.db'}"
        store = Store(url)
        stack.callback(store.dispose)
        migrate.upgrade(store)
        with store.session() as s:
            outbox.enqueue(s, sets, ZONES, "bench")
        settings = config.from_mapping({}, work, "bench")
        settings = dataclasses.replace(settings, dns=DnsConfig(
            enabled=True, server=named.server, tsig_key_file=str(named.key_file),
            batch_size=2 * batch, max_in_flight=4, timeout=30.0,
        ))
        pub = make_publisher(from_settings(settings), store)

        async def go() -> float:
            t0 = time.perf_counter()
            res = await pub.flush()
            dt = time.perf_counter() - t0
            await pub.close()
            if res.failed or dnsoutbox.pending_count(store):
                raise SystemExit(f"our publisher left rows: {res.errors}")
            return dt

        return asyncio.run(go())


def run_cli(named: Named, sets: list[RRset], batch: int, pg: bool, work: Path) -> float:
    """``bootstrapctl dns flush`` wall time minus that of the same command with nothing to do."""
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_pg()) if pg else f"sqlite:///{work / 'cli.db'}"
        store = Store(url)
        stack.callback(store.dispose)
        migrate.upgrade(store)
        with store.session() as s:
            outbox.enqueue(s, sets, ZONES, "bench")
        cfg = work / "bootstrap.toml"
        cfg.write_text(
            f'[database]\nurl = "{url}"\n[dns]\nserver = "{named.server}"\n'
            f'tsig_key_file = "{named.key_file}"\nbatch_size = {2 * batch}\n'
            "max_in_flight = 4\ntimeout = 30.0\n"
        )
        argv = [str(Path(sys.executable).parent / "bootstrapctl"), "--config", str(cfg)]
        env = {**os.environ, "BOOTSTRAP_DATABASE_URL": ""}

        def flush() -> float:
            t0 = time.perf_counter()
            subprocess.run([*argv, "dns", "flush"], check=True, env=env, capture_output=True)
            return time.perf_counter() - t0

        full = flush()
        if dnsoutbox.pending_count(store):
            raise SystemExit("bootstrapctl dns flush left rows")
        return full - flush()


def run_raw(named: Named, sets: list[RRset], batch: int) -> float:
    key = keyfile.load(str(named.key_file))
    t0 = time.perf_counter()
    sock = socket.create_connection((named.host, named.port))
    try:
        for zone in ZONES:
            mine = [r for r in sets if r.name.endswith("." + zone)]
            for i in range(0, len(mine), batch):
                u = dns.update.UpdateMessage(zone)
                for r in mine[i : i + batch]:
                    u.replace(r.name, 300, r.rdtype, *r.rdatas)
                u.use_tsig(key)
                resp = dns.query.tcp(u, named.host, port=named.port, sock=sock, timeout=30)
                if resp.rcode() != 0:
                    raise SystemExit(f"raw loop: {dns.rcode.to_text(resp.rcode())}")
    finally:
        sock.close()
    return time.perf_counter() - t0


def run_nsupdate(named: Named, sets: list[RRset], batch: int, work: Path) -> float:
    lines = [f"server {named.host} {named.port}"]
    for zone in ZONES:
        mine = [r for r in sets if r.name.endswith("." + zone)]
        for i in range(0, len(mine), batch):
            lines.append(f"zone {zone}")
            for r in mine[i : i + batch]:
                lines.append(f"update delete {r.name} {r.rdtype}")
                lines += [f"update add {r.name} 300 {r.rdtype} {d}" for d in r.rdatas]
            lines.append("send")
    script = work / "nsupdate.txt"
    script.write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    subprocess.run(["nsupdate", "-v", "-k", str(named.key_file), str(script)], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10000, help="enrollments (default 10000)")
    ap.add_argument("--batch", type=int, default=500, help="RRsets per UPDATE (default 500)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs per method, interleaved; the median is compared (default 3)")
    ap.add_argument("--pg", action="store_true",
                    help="our store on a temporary PostgreSQL database (default: SQLite)")
    bench(ap.parse_args())


@contextlib.contextmanager
def temporary_pg() -> Iterator[str]:
    import psycopg

    name = f"mip6bs_bench_dns_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def bench(args: argparse.Namespace) -> None:
    sets = rrsets(args.count)
    records = len(sets)
    methods = ("ours", "raw dnspython", "nsupdate", "dns flush (CLI)")
    times: dict[str, list[float]] = {m: [] for m in methods}
    store_kind = "PostgreSQL" if args.pg else "SQLite"
    print(f"{args.count} enrollments = {records} RRsets (AAAA + PTR), {args.batch} RRsets per "
          f"UPDATE, TCP, TSIG hmac-sha256; our store: {store_kind}; {args.repeat} runs each")
    with tempfile.TemporaryDirectory(prefix="dnsbench") as tmp:
        for run in range(args.repeat):
            for k in range(len(methods)):  # rotate the order: load drifts over a run
                method = methods[(run + k) % len(methods)]
                work = Path(tmp) / f"{run}_{method.replace(' ', '_')}"
                work.mkdir()
                named = Named(work / "named")
                named.start()
                try:
                    if method == "ours":
                        secs = run_ours(named, sets, args.batch, args.pg, work)
                    elif method == "raw dnspython":
                        secs = run_raw(named, sets, args.batch)
                    elif method == "dns flush (CLI)":
                        secs = run_cli(named, sets, args.batch, args.pg, work)
                    else:
                        secs = run_nsupdate(named, sets, args.batch, work)
                    check(named, sets)
                finally:
                    named.stop()
                times[method].append(secs)
                print(f"  run {run + 1} {method:15s} {secs:6.2f} s {records / secs:8.0f} records/s",
                      flush=True)
    med = {m: statistics.median(v) for m, v in times.items()}
    print("median:")
    for m in methods:
        print(f"  {m:15s} {med[m]:6.2f} s {records / med[m]:8.0f} records/s")
    print(f"ratio ours / raw dnspython: {med['raw dnspython'] / med['ours']:.2f}x the speed")
    print(f"ratio ours / nsupdate:      {med['nsupdate'] / med['ours']:.2f}x the speed")
    print(f"ratio CLI flush (net) / nsupdate: {med['nsupdate'] / med['dns flush (CLI)']:.2f}x"
          " the speed (goal >= 0.8)")


if __name__ == "__main__":
    main()
