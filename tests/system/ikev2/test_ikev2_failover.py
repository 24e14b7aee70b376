"""HA failure, end to end: two HA hosts (charon + bootstrapd each) on one PostgreSQL, MNs on ha1.

``kill -9`` of ha1's charon and of its bootstrapd: ha2's bootstrapd marks ha1
``failed`` (guarded UPDATE, ``[ha] failure_timeout``), moves its subscribers
to ha2 with their HoAs, and ha2's bridge initiates IKEv2 to each MN's last
care-of address (HoA as CHILD_SA TS, paced by ``[ha] reinit_concurrency``).
The MNs answer with their bundle's responder connection: no MN action, same
HoA, bindings name ha2.  Then ha1 comes back: ``active`` after ``[ha]
recovery_time``, once, and its old nodes stay on ha2.

bootstrapd runs in the root namespace (it reaches PostgreSQL on 127.0.0.1 and
charon through its VICI socket file); each charon in its HA namespace.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import update

from bootstrap import migrate
from bootstrap.services import audit, bindings, bundle, home_agents, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import HomeAgent as HomeAgentRow
from ikev2_glue import mn_bundle
from tests.support import netlab as nl
from tests.support.ikev2 import (
    ACTOR,
    HaLab,
    ike_settings,
    populate,
    reset_ha,
    start_lab,
    stop_lab,
)

HA2_LINK, HA2_ADDR = "2001:db8:0:1::2", "2001:db8:1::2"
N_MN = 3
FAILURE_TIMEOUT = 2.0
RECOVERY = 3.0
BOOTSTRAPD = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "bootstrapd"


@dataclasses.dataclass
class TwoHas:
    lab: HaLab
    ha2: nl.Charon


@pytest.fixture(scope="module")
def two_has(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHas]:
    root = tmp_path_factory.mktemp("failover")
    lab = start_lab(root, n_mn=N_MN)
    ha2: nl.Charon | None = None
    try:
        ns = lab.topo.add_ha(HA2_LINK, [HA2_ADDR])
        for mn in lab.topo.mns:
            nl.run("ip", "-n", mn, "-6", "route", "add", f"{HA2_ADDR}/128", "via", HA2_LINK)
        ha2 = nl.Charon(ns, root / "ha2", "ha")
        ha2.start()
        yield TwoHas(lab, ha2)
    finally:
        if ha2 is not None:
            ha2.stop()
        stop_lab(lab)


def config_for(tmp: Path, url: str, fqdn: str, socket: str, assign: str = "per-subscriber"
               ) -> Path:
    path = tmp / f"{fqdn}.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n'
        '[store]\nsnapshot_poll_interval = 0.2\nsecret_key_file = "bootstrap.secret"\n'
        '[dhcp6]\nenabled = false\n[dhcp4]\nenabled = false\n'
        '[dns]\nenabled = false\n[web]\nenabled = false\n'
        f'[vici]\nenabled = true\nsocket = "{socket}"\nhome_agent = "{fqdn}"\n'
        f'assign = "{assign}"\n'
        f'[ha]\nheartbeat_interval = 0.5\nfailure_timeout = {FAILURE_TIMEOUT}\n'
        f'recovery_time = {RECOVERY}\nreinit_concurrency = 2\nreinit_rate = 20.0\n'
    )
    return path


def start_bootstrapd(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([str(BOOTSTRAPD), "--config", str(config), "--only", "vici"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=config.parent,
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


def wait_for(pred: object, timeout: float, what: str) -> object:
    value = nl.wait_for(pred, timeout, 0.1)
    assert value, f"{what} (after {timeout} s)"
    return value


def max_in_flight(log: str) -> int:
    """The most HA-initiated exchanges charon had open at once, from its own log."""
    open_: set[str] = set()
    most = 0
    for line in log.splitlines():
        if m := re.search(r"initiating IKE_SA (reinit-\d+)\[", line):
            open_.add(m.group(1))
            most = max(most, len(open_))
        elif m := re.search(r"IKE_SA (reinit-\d+)\[\d+\] established", line):
            open_.discard(m.group(1))
    return most


def test_kill_9_of_ha1_brings_every_mn_back_through_ha2_with_its_hoa(
    two_has: TwoHas, pg_store: Store, tmp_path: Path
) -> None:
    lab, ha2 = two_has.lab, two_has.ha2
    for c in [lab.ha, ha2, *lab.mn_charons]:
        reset_ha(c)
    settings = ike_settings(tmp_path, pg_store.url, lab.ha.socket_path)
    store = pg_store
    populate(store, settings)
    subs = [subscribers.enroll(store, settings, ACTOR, f"mn{k}@example.com", auth="cert")
            .subscriber for k in range(N_MN)]
    assert {s.home_agent for s in subs} == {"ha1.example.com"}
    home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2_ADDR, settings=settings)
    hoa = {s.identity: str(s.hoas[0]) for s in subs}
    for k, (s, mn) in enumerate(zip(subs, lab.mns, strict=True)):
        d = tmp_path / f"bundle{k}"
        bundle.write_bundle(d, mn_bundle.renderer_for(settings)(
            bundle.mn_bundle_input(store, settings, s.identity)))
        nl.run("ip", "netns", "exec", lab.topo.mns[k], "sh", str(d / "mip6-hoa-on-lo.sh"))
        mn.load_bundle(d)
    cfg1 = config_for(tmp_path, store.url, "ha1.example.com", lab.ha.socket_path)
    cfg2 = config_for(tmp_path, store.url, "ha2.example.com", ha2.socket_path)
    d1 = d2 = None
    try:
        d1 = start_bootstrapd(cfg1, tmp_path / "ha1.log")
        d2 = start_bootstrapd(cfg2, tmp_path / "ha2.log")
        wait_for(lambda: all(h.last_heartbeat for h in home_agents.list_all(store)), 20,
                 "both bootstrapd write heartbeats")
        for mn in lab.mns:
            ok, log = mn.initiate()
            assert ok, log
        wait_for(lambda: len(bindings.list_open(store, "ha1.example.com")) == N_MN, 10,
                 "every MN bound on ha1")
        ha2_log = ha2.log_size()

        killed = time.monotonic()
        lab.ha.kill9()
        stop(d1, signal.SIGKILL)
        wait_for(lambda: home_agents.get(store, "ha1.example.com").state.value == "failed",
                 FAILURE_TIMEOUT + 5, "ha1 never marked failed")
        failed_after = time.monotonic() - killed

        def back_on_ha2() -> bool:
            open2 = bindings.list_open(store, "ha2.example.com")
            return sorted((b.identity, b.hoa) for b in open2) == sorted(hoa.items())

        wait_for(back_on_ha2, 20, "not every MN came back through ha2 with its HoA")
        back_after = time.monotonic() - killed
        print(f"ha1 failed after {failed_after:.2f} s; all {N_MN} MNs back after"
              f" {back_after:.2f} s")
        assert failed_after < FAILURE_TIMEOUT + 2.5
        for s in subs:
            assert subscribers.get(store, s.identity).home_agent == "ha2.example.com"
        for mn in lab.mns:
            up = [sa for sa in mn.sas() if sa.get("state") == "ESTABLISHED"
                  and sa.get("remote-host") == HA2_ADDR]
            assert len(up) == 1, mn.sas()
        assert bindings.list_open(store, "ha1.example.com") == []
        log2 = ha2.log_since(ha2_log)
        assert log2.count("initiating IKE_SA reinit-") >= N_MN
        assert max_in_flight(log2) <= 2
        entries = audit.recent(store, 50, target="ha1.example.com")
        assert [e.action for e in entries].count("ha.failed") == 1
        takeover = [e for e in entries if e.action == "ha.reassign"]
        assert len(takeover) == 1 and takeover[0].detail["moved"] == N_MN

        # ha1 comes back: active after the recovery time, once; its old nodes stay on ha2
        lab.ha.start()
        d1 = start_bootstrapd(cfg1, tmp_path / "ha1.log")
        wait_for(lambda: home_agents.get(store, "ha1.example.com").state.value == "active",
                 RECOVERY + 10, "ha1 never became active again")
        time.sleep(RECOVERY)
        entries = audit.recent(store, 50, target="ha1.example.com")
        assert [e.action for e in entries].count("ha.failed") == 1
        assert [e.action for e in entries].count("ha.recovered") == 1
        assert home_agents.get(store, "ha1.example.com").state.value == "active"
        for s in subs:
            assert subscribers.get(store, s.identity).home_agent == "ha2.example.com"
        open_all = bindings.list_open(store, "ha1.example.com") + bindings.list_open(
            store, "ha2.example.com")
        assert sorted(b.hoa for b in open_all) == sorted(hoa.values())  # 0 wrong, 0 duplicate
    finally:
        stop(d1)
        stop(d2)
        if lab.ha.proc is None:
            lab.ha.start()


RADIUS_MNS = 10


def test_radius_mode_kill_9_of_ha1_brings_ten_mns_back_through_ha2(
    tmp_path: Path,
) -> None:
    """Radius mode (FreeRADIUS on each HA host), 10 MNs: the same takeover and re-initiation."""
    from tests.system.ikev2.test_ikev2_radius import PG_SOCKET, start_freeradius, stop_process

    db = f"mipi_failover_{os.getpid()}_{nl.new_tag()}"
    with psycopg.connect(host=PG_SOCKET, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@/{db}?host={PG_SOCKET}"
    store = Store(url)
    lab: HaLab | None = None
    ha2: nl.Charon | None = None
    procs: list[subprocess.Popen[bytes]] = []
    d1 = d2 = None
    try:
        migrate.upgrade(store)
        settings = ike_settings(tmp_path, url, str(tmp_path / "lab" / "ha" / "charon.vici"),
                                assign="radius")
        populate(store, settings)
        home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2_ADDR,
                        capacity=RADIUS_MNS, settings=settings)
        with store.session() as s:  # every subscriber starts on ha1
            s.execute(update(HomeAgentRow).where(HomeAgentRow.fqdn == "ha2.example.com")
                      .values(state="draining"))
        subs = [subscribers.enroll(store, settings, ACTOR, f"r{k}@example.com", auth="cert")
                .subscriber for k in range(RADIUS_MNS)]
        home_agents.activate(store, ACTOR, "ha2.example.com", settings)
        assert {s.home_agent for s in subs} == {"ha1.example.com"}
        includes = []
        for k, fqdn in enumerate(("ha1.example.com", "ha2.example.com")):
            cfg = config_for(tmp_path, url, fqdn, "unused", assign="radius")
            out = subprocess.run([str(BOOTSTRAPD.parent / "bootstrapctl"), "--config", str(cfg),
                                  "radius", "config", "--out", str(tmp_path / f"radius{k}")],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            includes.append(tmp_path / f"radius{k}" / "strongswan.d" / "eap-radius.conf")
        lab = start_lab(tmp_path / "lab", n_mn=RADIUS_MNS,
                        ha_role_conf={"includes": (includes[0],), "extra_plugins": "eap-radius"})
        ns2 = lab.topo.add_ha(HA2_LINK, [HA2_ADDR])
        for mn in lab.topo.mns:
            nl.run("ip", "-n", mn, "-6", "route", "add", f"{HA2_ADDR}/128", "via", HA2_LINK)
        ha2 = nl.Charon(ns2, tmp_path / "lab" / "ha2", "ha", includes=(includes[1],),
                        extra_plugins="eap-radius")
        ha2.start()
        procs.append(start_freeradius(lab.topo.ha, tmp_path / "radius0" / "raddb",
                                      tmp_path / "radius0.out"))
        procs.append(start_freeradius(ns2, tmp_path / "radius1" / "raddb",
                                      tmp_path / "radius1.out"))
        hoa = {s.identity: str(s.hoas[0]) for s in subs}
        for k, (s, mn) in enumerate(zip(subs, lab.mns, strict=True)):
            d = tmp_path / f"bundle{k}"
            bundle.write_bundle(d, mn_bundle.renderer_for(settings)(
                bundle.mn_bundle_input(store, settings, s.identity)))
            nl.run("ip", "netns", "exec", lab.topo.mns[k], "sh", str(d / "mip6-hoa-on-lo.sh"))
            mn.load_bundle(d)
        cfg1 = config_for(tmp_path, url, "ha1.example.com", lab.ha.socket_path, assign="radius")
        cfg2 = config_for(tmp_path, url, "ha2.example.com", ha2.socket_path, assign="radius")
        d1 = start_bootstrapd(cfg1, tmp_path / "ha1.log")
        d2 = start_bootstrapd(cfg2, tmp_path / "ha2.log")
        wait_for(lambda: all(h.last_heartbeat for h in home_agents.list_all(store)), 20,
                 "both bootstrapd write heartbeats")
        for mn in lab.mns:
            ok, log = mn.initiate()
            assert ok, log
        wait_for(lambda: len(bindings.list_open(store, "ha1.example.com")) == RADIUS_MNS, 20,
                 "every MN bound on ha1")
        killed = time.monotonic()
        lab.ha.kill9()
        stop(d1, signal.SIGKILL)

        def back_on_ha2() -> bool:
            open2 = bindings.list_open(store, "ha2.example.com")
            return sorted((b.identity, b.hoa) for b in open2) == sorted(hoa.items())

        wait_for(back_on_ha2, 30, "not every MN came back through ha2 with its HoA")
        back_after = time.monotonic() - killed
        print(f"radius mode: all {RADIUS_MNS} MNs back through ha2 {back_after:.2f} s after"
              " the kill")
        for s in subs:
            assert subscribers.get(store, s.identity).home_agent == "ha2.example.com"
        for mn in lab.mns:
            up = [sa for sa in mn.sas() if sa.get("state") == "ESTABLISHED"
                  and sa.get("remote-host") == HA2_ADDR]
            assert len(up) == 1, mn.sas()
        assert max_in_flight(ha2.log_since(0)) <= 2
        entries = audit.recent(store, 50, target="ha1.example.com")
        assert [e.action for e in entries].count("ha.failed") == 1
        assert sum(e.detail["moved"] for e in entries if e.action == "ha.reassign") == RADIUS_MNS
        open_all = bindings.list_open(store, "ha2.example.com")
        assert len({b.hoa for b in open_all}) == RADIUS_MNS  # 0 duplicate HoAs
    finally:
        stop(d1)
        stop(d2)
        for p in procs:
            stop_process(p)
        if ha2 is not None:
            ha2.stop()
        if lab is not None:
            stop_lab(lab)
        store.dispose()
        with psycopg.connect(host=PG_SOCKET, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')  # type: ignore[arg-type]
