"""Seconds from ``kill -9`` of an HA host (charon + bootstrapd) to each of its MNs' SA up again.

Two HA hosts (a namespace and a charon each, a real ``bootstrapd`` each in the
root namespace) on one PostgreSQL; N certificate MNs (charon each) bound to ha1.
Each trial: kill -9 ha1's charon and bootstrapd, then per MN the seconds until
its binding is open on ha2 (the binding's ``up_at`` minus the kill time, the
store's own record).  Beside it, in the same run, the same MNs with the bundle
settings of before this work (``dpd_delay = 30s``, charon's default
retransmission, no responder connection) and no takeover: how many are back
within ``--baseline-wait`` seconds.

    sudo .venv/bin/python bench/failover.py --mns 20 --trials 5
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bootstrap import config, migrate  # noqa: E402
from bootstrap.services import (  # noqa: E402
    bindings,
    bundle,
    credentials,
    home_agents,
    networks,
    subscribers,
)
from bootstrap.services.actor import Actor  # noqa: E402
from bootstrap.store.engine import Store  # noqa: E402
from ikev2_glue import mn_bundle  # noqa: E402
from tests.support import netlab as nl  # noqa: E402

ACTOR = Actor("bench", "cli")
PG = "/var/run/postgresql"
HA1, HA2, HA2_LINK = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:0:1::2"
BOOTSTRAPD = ROOT / ".venv" / "bin" / "bootstrapd"


def bootstrapd_config(d: Path, url: str, fqdn: str, socket: str, takeover: bool) -> Path:
    path = d / f"{fqdn}.toml"
    timeout = 2.0 if takeover else 3600.0
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        '[store]\nsnapshot_poll_interval = 0.2\nsecret_key_file = "bootstrap.secret"\n'
        '[dhcp6]\nenabled = false\n[dhcp4]\nenabled = false\n[dns]\nenabled = false\n'
        f'[web]\nenabled = false\n[vici]\nenabled = true\nsocket = "{socket}"\n'
        f'home_agent = "{fqdn}"\n[ha]\nheartbeat_interval = 0.5\nfailure_timeout = {timeout}\n'
        'recovery_time = 3.0\nreinit_concurrency = 8\nreinit_rate = 50.0\n'
    )
    return path


def start(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([str(BOOTSTRAPD), "--config", str(cfg), "--only", "vici"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=cfg.parent,
                                start_new_session=True)


def stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def trial(d: Path, lab: nl.Topology, ha1: nl.Charon, ha2: nl.Charon, mns: list[nl.Mn],
          takeover: bool, wait: float) -> list[float | None]:
    db = f"mipi_fo_{os.getpid()}_{nl.new_tag()}"
    with psycopg.connect(host=PG, user="postgres", dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@/{db}?host={PG}"
    store = Store(url)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        migrate.upgrade(store)
        settings = config.from_mapping({"store": {"secret_key_file": "bootstrap.secret"}},
                                       d, "bench")
        settings = config.with_database(settings, url)
        networks.add(store, ACTOR, "example.com", "2001:db8:1::/64", None, ())
        home_agents.add(store, ACTOR, "ha1.example.com", "example.com", HA1, settings=settings)
        credentials.ca_init(store, settings)
        subs = [subscribers.enroll(store, settings, ACTOR, f"b{k}@example.com", auth="cert")
                .subscriber for k in range(len(mns))]
        home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2, settings=settings)
        for k, (s, mn) in enumerate(zip(subs, mns, strict=True)):
            bd = d / f"bundle{k}"
            bundle.write_bundle(bd, mn_bundle.renderer_for(settings)(
                bundle.mn_bundle_input(store, settings, s.identity)))
            if takeover:
                nl.run("ip", "netns", "exec", lab.mns[k], "sh", str(bd / "mip6-hoa-on-lo.sh"))
            else:
                conf = bd / "swanctl.conf"
                text = conf.read_text()
                head, secrets = text.split("  from-ha {")[0], text.split("\nsecrets {", 1)[1]
                conf.write_text(head.replace("dpd_delay = 5s", "dpd_delay = 30s")
                                + "}\nsecrets {" + secrets)
            mn.load_bundle(bd)
        procs.append(start(bootstrapd_config(d, url, "ha1.example.com", ha1.socket_path,
                                             takeover), d / "ha1.log"))
        procs.append(start(bootstrapd_config(d, url, "ha2.example.com", ha2.socket_path,
                                             takeover), d / "ha2.log"))
        nl.wait_for(lambda: all(h.last_heartbeat for h in home_agents.list_all(store)), 30)
        for mn in mns:
            ok, log = mn.initiate()
            if not ok:
                raise RuntimeError(log)
        nl.wait_for(lambda: len(bindings.list_open(store, "ha1.example.com")) == len(mns), 30)
        killed = time.time()
        ha1.kill9()
        stop(procs[0], signal.SIGKILL)
        nl.wait_for(lambda: len(bindings.list_open(store, "ha2.example.com")) == len(mns), wait,
                    0.2)
        up = {b.identity: b.up_at.timestamp() - killed
              for b in bindings.list_open(store, "ha2.example.com") if b.up_at is not None}
        return [up.get(s.identity) for s in subs]
    finally:
        for p in procs:
            stop(p)
        with contextlib.suppress(Exception):
            ha1.start()
        store.dispose()
        with psycopg.connect(host=PG, user="postgres", dbname="postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')  # type: ignore[arg-type]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mns", type=int, default=20)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--wait", type=float, default=30.0, help="seconds a trial waits for all MNs")
    ap.add_argument("--baseline-wait", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mip6-failover-") as tmp:
        root = Path(tmp)
        topo = nl.Topology(nl.new_tag())
        charons: list[nl.Charon] = []
        try:
            topo.create(args.mns, [HA1])
            ns2 = topo.add_ha(HA2_LINK, [HA2])
            for mn in topo.mns:
                nl.run("ip", "-n", mn, "-6", "route", "add", f"{HA2}/128", "via", HA2_LINK)
            ha1 = nl.Charon(topo.ha, root / "ha1", "ha")
            ha2 = nl.Charon(ns2, root / "ha2", "ha")
            charons += [ha1, ha2]
            mn_charons = [nl.Charon(ns, root / f"mn{k}", "mn", threads=12)
                          for k, ns in enumerate(topo.mns)]
            charons += mn_charons
            for c in charons:
                c.start(timeout=60)
            mns = [nl.Mn(c) for c in mn_charons]
            results: list[float | None] = []
            for t in range(args.trials):
                for c in charons:
                    nl.Mn(c).reset()
                d = root / f"t{t}"
                d.mkdir()
                got = trial(d, topo, ha1, ha2, mns, True, args.wait)
                results += got
                back = [x for x in got if x is not None]
                print(f"trial {t + 1}: {len(back)}/{len(got)} back, max"
                      f" {max(back) if back else float('nan'):.2f} s", flush=True)
            for c in charons:
                nl.Mn(c).reset()
            d = root / "baseline"
            d.mkdir()
            base = trial(d, topo, ha1, ha2, mns, False, args.baseline_wait)
        finally:
            for c in charons:
                c.stop()
            topo.delete()
    back = sorted(x for x in results if x is not None)
    n = len(results)
    q = statistics.quantiles(back, n=20)[18] if len(back) >= 2 else float("nan")
    print(f"takeover + HA-initiated: {len(back)}/{n} MN-trials back; median"
          f" {statistics.median(back):.2f} s, p95 {q:.2f} s, max {max(back):.2f} s")
    base_back = [x for x in base if x is not None]
    print(f"baseline (old bundle, no takeover): {len(base_back)}/{len(base)} back within"
          f" {args.baseline_wait:.0f} s")
    floor = args.baseline_wait if not base_back else statistics.median(base_back)
    print(f"ratio baseline/median >= {floor / statistics.median(back):.1f}x")


if __name__ == "__main__":
    main()
