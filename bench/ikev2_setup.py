"""IKE_SA + CHILD_SA setups/s of the strongSwan bridge, both assignment modes, one run.

Prints, measured in the same run on this machine:

* radius mode: 100,000 EAP subscribers in PostgreSQL, charon (eap-radius,
  ``pools = radius``) + FreeRADIUS on the store's views, C concurrent MNs
  (default 50) doing EAP-MSCHAPv2 logins: setups/s and latency, and the
  same MNs and EAP method against a plain charon range pool on a second HA
  address (FreeRADIUS skips the HoA query there, so the ratio isolates the
  cost of the HoA lookup; goal >= 0.95);
* per-subscriber mode at 1,000 and 10,000 subscribers: the bridge's load
  time and the setup latency of one MN.

Everything runs in ``mipi-*`` network namespaces this script creates and
deletes, with addresses from 2001:db8::/32.  The bulk subscribers are
written straight into the store's tables (the service layer enrolls about
100-250 per second on PostgreSQL, see bench/enroll.py: far too slow for
111,000 rows); they look exactly like
enrolled EAP subscribers (Fernet-encrypted secret, NT hash, HoA row).

Usage (root):  .venv/bin/python bench/ikev2_setup.py [--mns 50] [--phase 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import insert, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bootstrap import config, migrate  # noqa: E402
from bootstrap.services import (  # noqa: E402
    bundle,
    credentials,
    home_agents,
    networks,
    radius,
)
from bootstrap.services.actor import Actor  # noqa: E402
from bootstrap.store.engine import Store  # noqa: E402
from bootstrap.store.models import HomeAddress, HomeAgent, Subscriber, utcnow  # noqa: E402
from ikev2_glue import plan, profile, radius_config  # noqa: E402
from ikev2_glue.service import bridge_for  # noqa: E402
from tests.support import netlab as nl  # noqa: E402

ACTOR = Actor("bench", "cli")
PG = "/var/run/postgresql"
PREFIX = ipaddress.IPv6Network("2001:db8:1::/64")
RADIUS_HA = ("ha1.example.com", "2001:db8:1::1")
RANGE_ADDR = "2001:db8:1::3"
RANGE_POOL = "2001:db8:2::/108"
PERSUB = {
    1000: ("ps1k.example.com", "2001:db8:1::a"),
    10000: ("ps10k.example.com", "2001:db8:1::b"),
}
RADIUS_N = 100_000


def hoa(k: int, block: int) -> str:
    return str(PREFIX[(block << 32) + k])


def bulk(store: Store, settings: config.Settings, ha_fqdn: str, tag: str, n: int,
         block: int, start_id: int) -> list[tuple[str, str, str]]:
    """n EAP subscribers of ``ha_fqdn`` written in batches; returns (identity, secret, hoa)."""
    f = credentials.fernet(settings)
    out = []
    with store.session() as s:
        ha = s.query(HomeAgent).filter(HomeAgent.fqdn == ha_fqdn).one()
        ha_id, net_id = ha.id, ha.network_id
    now = utcnow()
    for lo in range(0, n, 5000):
        subs, addrs = [], []
        for k in range(lo + 1, min(lo + 5000, n) + 1):
            sid = start_id + k
            ident, secret = f"{tag}{k}@example.com", f"secret-{tag}-{k}"
            subs.append(dict(
                id=sid, identity=ident, fqdn=f"{tag}{k}.example.com", network_id=net_id,
                home_agent_id=ha_id, state="active", auth="eap", credential_ref="eap-secret",
                secret_enc=f.encrypt(secret.encode()), nt_hash=radius.nt_hash(secret),
                created_at=now, updated_at=now,
            ))
            addr = hoa(k, block)
            addrs.append(dict(network_id=net_id, subscriber_id=sid, family=6, address=addr,
                              assigned_at=now))
            out.append((ident, secret, addr))
        with store.session() as s:
            s.execute(insert(Subscriber), subs)
            s.execute(insert(HomeAddress), addrs)
    with store.session() as s:
        s.execute(update(HomeAgent).where(HomeAgent.id == ha_id).values(assigned=n))
    return out


# ---------------------------------------------------------------- MN side
def mn_conn(identity: str, ha_addr: str) -> dict[str, Any]:
    return {"home": {
        "version": "2", "remote_addrs": [ha_addr], "vips": ["::"],
        "proposals": list(profile.current().ike_proposals), "send_certreq": "no",
        "local-1": {"auth": "eap-mschapv2", "id": identity, "eap_id": identity},
        "remote-1": {"auth": "pubkey", "id": "example.com"},
        "children": {"home": {"local_ts": ["dynamic"], "remote_ts": ["::/0"],
                              "esp_proposals": list(profile.current().esp_proposals)}},
    }}


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    wrong: int = 0
    last_end: float = 0.0
    latencies: list[float] | None = None


def one_setup(s: Any, ident: str, secret: str, ha_addr: str) -> tuple[bool, float, list[str]]:
    s.load_shared({"id": "eap", "type": "EAP", "data": secret, "owners": [ident]})
    s.load_conn(mn_conn(ident, ha_addr))
    t0 = time.perf_counter()
    ok = True
    try:
        for _ in s.initiate({"child": "home", "ike": "home", "timeout": "30000",
                             "loglevel": "-1"}):
            pass
    except Exception:
        ok = False
    dt_ = time.perf_counter() - t0
    vips: list[str] = []
    if ok:
        for sa in s.list_sas({"ike": "home"}):
            for v in nl.dec(sa).values():
                if v.get("state") == "ESTABLISHED":
                    vips = v.get("local-vips", [])
    with contextlib.suppress(Exception):
        for _ in s.terminate({"ike": "home", "timeout": "5000", "loglevel": "-1"}):
            pass
    return ok, dt_, vips


def mn_worker(charon: nl.Charon, ca_pem: str, rows: list[tuple[str, str, str]], ha_addr: str,
              check: Any, start: threading.Barrier, stop_at: list[float], tally: Tally,
              lock: threading.Lock) -> None:
    s = charon.session(timeout=60)
    try:
        s.load_cert({"type": "x509", "flag": "ca", "data": ca_pem.encode()})
        start.wait()
        i = 0
        while time.monotonic() < stop_at[0]:
            ident, secret, want = rows[i % len(rows)]
            i += 1
            ok, lat, vips = one_setup(s, ident, secret, ha_addr)
            with lock:
                if not ok:
                    tally.failed += 1
                elif not check(vips, want):
                    tally.wrong += 1
                else:
                    tally.ok += 1
                    assert tally.latencies is not None
                    tally.latencies.append(lat)
                tally.last_end = max(tally.last_end, time.monotonic())
    finally:
        s.transport.close()


def load_phase(mns: list[nl.Charon], ca_pem: str, slices: list[list[tuple[str, str, str]]],
               ha_addr: str, check: Any, seconds: float) -> tuple[float, Tally]:
    tally = Tally(latencies=[])
    lock = threading.Lock()
    barrier = threading.Barrier(len(mns) + 1)
    stop_at = [0.0]
    threads = [threading.Thread(target=mn_worker, args=(
        c, ca_pem, slices[i], ha_addr, check, barrier, stop_at, tally, lock))
        for i, c in enumerate(mns)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + 3600
    barrier.wait()
    t0 = time.monotonic()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    wall = max(tally.last_end, t0 + 1e-3) - t0
    return tally.ok / wall, tally


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


# ---------------------------------------------------------------- bridge in a thread
class BridgeThread:
    def __init__(self, settings: config.Settings, store: Store) -> None:
        self.bridge = bridge_for(settings, store, poll_interval=1.0)
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.task = self.loop.create_task(self.bridge.run())
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.task)

    def start(self, timeout: float = 600) -> float:
        t0 = time.monotonic()
        self.thread.start()
        while not self.bridge.synced.is_set():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("bridge did not sync")
            time.sleep(0.05)
        return time.monotonic() - t0

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=10)


# ---------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mns", type=int, default=50)
    ap.add_argument("--phase", type=float, default=20.0, help="seconds per measured phase")
    ap.add_argument("--subscribers", type=int, default=RADIUS_N)
    ap.add_argument("--bridge", choices=["process", "off"], default="process",
                    help="during the radius phases run the bridge as 'bootstrapd --only vici'"
                    " (as in production; it records every binding) or stop it once charon is"
                    " loaded (isolates charon + FreeRADIUS + PostgreSQL)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mipi-bench-"))
    db = f"mipi_bench_{os.getpid()}"
    with psycopg.connect(host=PG, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    url = f"postgresql+psycopg://postgres@/{db}?host={PG}"
    store = Store(url)
    topo = nl.Topology(nl.new_tag())
    procs: list[nl.Charon] = []
    radiusd: subprocess.Popen[bytes] | None = None
    bridge: BridgeThread | None = None
    daemon: subprocess.Popen[bytes] | None = None
    try:
        migrate.upgrade(store)
        raw = {"vici": {"home_agent": RADIUS_HA[0], "assign": "radius",
                        "socket": str(tmp / "ha" / "charon.vici")},
               "store": {"heartbeat_timeout": 3600.0}}
        settings = config.from_mapping(raw, tmp, "bench")
        settings = config.with_database(settings, url)
        networks.add(store, ACTOR, "example.com", str(PREFIX), None)
        home_agents.add(store, ACTOR, RADIUS_HA[0], "example.com", RADIUS_HA[1],
                        capacity=200_000)
        for n, (fq, addr) in PERSUB.items():
            home_agents.add(store, ACTOR, fq, "example.com", addr, capacity=n)
        credentials.ca_init(store, settings)
        ca_pem = credentials.ca_cert_pem(store) or ""
        t0 = time.monotonic()
        rad_rows = bulk(store, settings, RADIUS_HA[0], "mn", args.subscribers, 1, 0)
        ps_rows = {n: bulk(store, settings, fq, f"p{n}x", n, 2 + i, 10_000_000 * (i + 1))
                   for i, (n, (fq, _a)) in enumerate(PERSUB.items())}
        with store.session() as s:
            s.connection().exec_driver_sql("ANALYZE")
        print(f"store: {args.subscribers:,} radius + {sum(PERSUB):,} per-subscriber EAP"
              f" subscribers written in {time.monotonic() - t0:.1f} s", flush=True)

        # ---------------- namespaces, FreeRADIUS, HA charon
        topo.create(0, [RADIUS_HA[1], RANGE_ADDR, *(a for _f, a in PERSUB.values())])
        for _ in range(args.mns):
            topo.add_mn()
        out = tmp / "radius"
        radius_config.write_config(store, settings, out)
        site = out / "raddb" / "sites-enabled" / "mip6"
        text = site.read_text()
        # bench only: the comparison address skips the HoA query (the Called-Station-Id
        # FreeRADIUS sees carries the HA address), so the ratio isolates the HoA lookup
        text = text.replace("        sql_hoa.authorize\n        if (notfound) {\n"
                            "            reject\n        }\n",
                            "        if (&Called-Station-Id =~ /^2001:db8:1::3\\[/) {\n"
                            "            ok\n        }\n        else {\n"
                            "            sql_hoa.authorize\n            if (notfound) {\n"
                            "                reject\n            }\n        }\n")
        if "Called-Station-Id" not in text:
            raise RuntimeError("generated site file changed; update the bench's edit")
        site.write_text(text)
        with open(tmp / "radius.out", "wb") as log:
            radiusd = subprocess.Popen(
                ["ip", "netns", "exec", topo.ha, "freeradius", "-f", "-d", str(out / "raddb")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        nl.wait_for(lambda: "[::1]:1812" in nl.run("ip", "netns", "exec", topo.ha, "ss",
                                                      "-lun").stdout, 15)
        ha = nl.Charon(topo.ha, tmp / "ha", "ha", threads=32, loglevel=0,
                       includes=(out / "strongswan.d" / "eap-radius.conf",),
                       extra_plugins="eap-radius")
        procs.append(ha)
        ha.start()
        mns = []
        for k, ns in enumerate(topo.mns, start=1):
            c = nl.Charon(ns, tmp / f"mn{k}", "mn", threads=12, loglevel=0)
            procs.append(c)
            c.start()
            mns.append(c)
        cfg = tmp / "bootstrap.toml"
        cfg.write_text(
            f'[database]\nurl = "{url}"\n[store]\nheartbeat_timeout = 3600.0\n'
            f'[vici]\nenabled = true\nassign = "radius"\nhome_agent = "{RADIUS_HA[0]}"\n'
            f'socket = "{ha.socket_path}"\n'
        )
        with open(tmp / "bootstrapd.out", "wb") as dlog:
            daemon = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "bootstrapd"), "--config", str(cfg),
                 "--only", "vici"], stdout=dlog, stderr=subprocess.STDOUT)

        def radius_conn_loaded() -> bool:
            sess = ha.session()
            try:
                return any(plan.RADIUS_CONN in nl.dec(item) for item in sess.list_conns())
            finally:
                sess.transport.close()

        if not nl.wait_for(radius_conn_loaded, 60):
            raise RuntimeError("bootstrapd did not load the radius connection")
        # the comparison connection: same auth (eap-radius), charon's own range pool
        creds = bundle.ha_credentials(store, settings, RADIUS_HA[0])
        side = plan.HaSide(RADIUS_HA[0], RANGE_ADDR, creds.cert_pem, creds.ca_pem,
                           ike_id="example.com", dual_stack=False)
        rng_conn = plan.radius_conn(side)[plan.RADIUS_CONN]
        rng_conn["pools"] = ["range6"]
        s = ha.session()
        s.load_pool({"range6": {"addrs": RANGE_POOL}})
        s.load_conn({"mip6-range": rng_conn})
        s.transport.close()

        if args.bridge == "off":
            stop_process(daemon, 10)
        per = len(rad_rows) // len(mns)
        slices = [rad_rows[i * per:(i + 1) * per] for i in range(len(mns))]
        in_range = ipaddress.IPv6Network(RANGE_POOL)
        checks = {
            "radius": (RADIUS_HA[1], lambda vips, want: vips == [want]),
            "range": (RANGE_ADDR, lambda vips, want: len(vips) == 1
                      and ipaddress.IPv6Address(vips[0]) in in_range),
        }
        print(f"radius mode: {len(mns)} concurrent MNs, EAP-MSCHAPv2, phases of "
              f"{args.phase:.0f} s (warm-up first)", flush=True)
        # warm both paths (caches, FreeRADIUS and rlm_sql pools, PostgreSQL backends)
        for mode in ("radius", "range", "radius"):
            load_phase(mns, ca_pem, slices, checks[mode][0], checks[mode][1], 10)
        rates: dict[str, list[float]] = {"radius": [], "range": []}
        # ABBA order: a load drift on this shared machine hits both modes alike
        for mode in ("radius", "range", "range", "radius"):
            addr, check = checks[mode]
            rate, t = load_phase(mns, ca_pem, slices, addr, check, args.phase)
            rates[mode].append(rate)
            done = t.latencies or []
            print(f"  {mode:6s}: {rate:7.1f} setups/s  ({t.ok} ok, {t.failed} failed,"
                  f" {t.wrong} wrong HoA; latency median {pct(done, 0.5):.0f} ms,"
                  f" p95 {pct(done, 0.95):.0f} ms)", flush=True)
        r_rad, r_rng = statistics.mean(rates["radius"]), statistics.mean(rates["range"])
        print(f"  ratio radius/range = {r_rad / r_rng:.2f}  (goal >= 0.95)"
              f" [bridge: {args.bridge}]", flush=True)
        stop_process(daemon, 10)
        daemon = None

        # ---------------- per-subscriber mode
        print("per-subscriber mode (one MN, 1 warm-up + 5 setups):", flush=True)
        for n, (fq, addr) in PERSUB.items():
            ha.stop()
            ha.conf = {"threads": 32, "loglevel": 0}
            ha.start()
            ps_settings = config.from_mapping(
                {"vici": {"home_agent": fq, "assign": "per-subscriber",
                          "per_subscriber_limit": 100_000,
                          "socket": ha.socket_path}}, tmp, "bench")
            ps_settings = config.with_database(ps_settings, url)
            bridge = BridgeThread(ps_settings, store)
            load_s = bridge.start()
            s = mns[0].session(timeout=120)
            s.load_cert({"type": "x509", "flag": "ca", "data": ca_pem.encode()})
            lats: list[float] = []
            wrong = 0
            for j in range(6):
                ident, secret, want = ps_rows[n][(j * 7919) % n]
                ok, lat, vips = one_setup(s, ident, secret, addr)
                if j and ok:
                    lats.append(lat)
                wrong += int(ok and vips != [want])
            s.transport.close()
            print(f"  {n:6,} subscribers: load {load_s:6.1f} s ({n / load_s:5.0f}/s),"
                  f" setup median {statistics.median(lats) * 1000 if lats else float('nan'):7.1f}"
                  f" ms ({len(lats)} ok, {wrong} wrong HoA)", flush=True)
            bridge.stop()
            bridge = None
    finally:
        # every step on its own: one that fails (a process that ignores SIGTERM) must not
        # leave the namespaces, charons and FreeRADIUS of the steps after it running
        if daemon is not None:
            stop_process(daemon, 10)
        if bridge is not None:
            with contextlib.suppress(Exception):
                bridge.stop()
        for c in procs:
            with contextlib.suppress(Exception):
                c.stop()
        if radiusd is not None:
            stop_process(radiusd, 10)
        with contextlib.suppress(Exception):
            topo.delete()
        with contextlib.suppress(Exception):
            store.dispose()
        with psycopg.connect(host=PG, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def stop_process(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; never raises."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        print(f"bench: pid {proc.pid} ignored SIGTERM for {grace:g} s; killing it", flush=True)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


if __name__ == "__main__":
    main()
