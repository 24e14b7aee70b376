"""A bootstrapped node is really reachable, and really bootstraps (issue 13), end to end.

Two HA hosts (charon + bootstrapd each) share one PostgreSQL store on the home
link; named serves the zones; the MN sits on a visited link behind a router
running ISC dhcrelay, with its charon and the ``mip6-mn`` agent and nothing
but the exported bundle.  The agent finds ha1 by DHCPv6 (through the relay)
and SRV, gets its HoA, and the HoA answers pings by name from the home link
and from the visited link because the serving HA proxies ND for it.  After
``ha drain`` and after a killed charon (the other host's bootstrapd marks the
HA failed) the agent is on ha2 with the same HoA; no proxy entry is left
behind.  In registration mode the MN moves 20 times
and its AAAA/PTR never go away until it is revoked.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select

from bootstrap import config
from bootstrap.domain import HAState
from bootstrap.services import bindings, dnsoutbox, home_agents
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from tests.support import netlab as nl
from tests.support import reachlab as rl

IDENTITY, FQDN = "mn@example.com", "mn.example.com"
HA_FQDN = {rl.HA1: "ha1.example.com", rl.HA2: "ha2.example.com"}
PG_SOCKET = "/var/run/postgresql"
ACTOR = Actor("pytest", "cli")


@dataclass
class World:
    lab: rl.Lab
    store: Store
    config: dict[str, Path]
    charons: dict[str, nl.Charon]
    daemons: dict[str, rl.Proc]
    agent: rl.Proc
    status: Path
    bundle: Path

    def ctl(self, *args: str, host: str = "ha1") -> dict[str, object] | list[object]:
        r = rl.run(str(rl.VENV / "bootstrapctl"), "--config", str(self.config[host]), *args,
                   "--json", check=False, timeout=60)
        assert r.returncode == 0, f"bootstrapctl {' '.join(args)}: {r.stderr}"
        return json.loads(r.stdout) if r.stdout.strip() else {}  # type: ignore[no-any-return]

    def start_daemon(self, host: str) -> None:
        p = rl.Proc(f"bootstrapd-{host}", ["ip", "netns", "exec", self.lab.ns(host),
                                           str(rl.VENV / "bootstrapd"), "--config",
                                           str(self.config[host])],
                    self.lab.root / f"bootstrapd-{host}.log")
        p.start()
        self.lab.procs.append(p)
        self.daemons[host] = p

    def up_on(self, ha: str, timeout: float = 30) -> str:
        def ok() -> str | None:
            st = rl.status(self.status)
            return st.get("hoa") if st.get("phase") == "up" and st.get("ha") == ha else None
        return str(rl.wait_for(ok, timeout, f"agent not up on {ha}: {rl.status(self.status)}"
                               f"\n{self.agent.text()[-3000:]}"))


def config_for(host: str, root: Path, url: str, sock: str, named_key: Path) -> Path:
    fqdn = f"{host}.example.com"
    text = f"""[database]
url = "{url}"
[store]
secret_key_file = "{root / 'store.secret'}"
credentials_dir = "{root / 'credentials'}"
snapshot_poll_interval = 0.2
[vici]
enabled = true
socket = "{sock}"
home_agent = "{fqdn}"
home_interface = "eth0"
redirect_wait = 2.0
[ha]
heartbeat_interval = 0.5
failure_timeout = 2.0
recovery_time = 1.0
[web]
enabled = false
[dhcp6]
enabled = {'true' if host == 'ha1' else 'false'}
listen = "[::]:547"
[dns]
enabled = {'true' if host == 'ha2' else 'false'}
server = "[{rl.DNS}]:53"
tsig_key_file = "{named_key}"
poll_interval = 0.1
ttl = 60
"""
    path = root / f"{host}.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("reach")
    dbname = f"mip6bs_reach_{rl.secrets.token_hex(4)}"
    with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                         autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{dbname}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@/{dbname}?host={PG_SOCKET}"
    lab = rl.Lab(root)
    store = Store(url)
    charons: dict[str, nl.Charon] = {}
    try:
        lab.create()
        _named, key = rl.start_named(lab)
        for host in ("ha1", "ha2"):
            charons[host] = nl.Charon(lab.ns(host), root / f"c-{host}", "ha")
        charons["mn"] = nl.Charon(lab.ns("mn"), root / "c-mn", "mn", threads=12)
        for c in charons.values():
            c.start()
        config = {h: config_for(h, root, url, charons[h].socket_path, key)
                  for h in ("ha1", "ha2")}
        w = World(lab, store, config, charons, {}, None, root / "agent.json",  # type: ignore
                  root / "bundle")
        # the README's first steps, on a new config
        w.ctl("db", "upgrade")
        w.ctl("network", "add", "example.com", "--prefix", "2001:db8:1::/64",
              "--zone", "example.com", "--zone", rl.REVERSE.rstrip("."))
        w.ctl("ha", "add", "ha1.example.com", "--network", "example.com",
              "--address", rl.HA1, "--priority", "10")
        w.ctl("ha", "add", "ha2.example.com", "--network", "example.com",
              "--address", rl.HA2, "--priority", "20")
        w.ctl("ca", "init")
        w.ctl("enroll", IDENTITY)
        w.ctl("enroll", "idle@example.com")  # enrolled, never connects
        w.ctl("export", IDENTITY, "--format", "swanctl", "--out", str(w.bundle))
        for host in ("ha1", "ha2"):
            w.start_daemon(host)
        relay = lab.spawn("rt", "dhcrelay", "dhcrelay", "-6", "-d", "--no-pid",
                          "-l", "eth1", "-u", f"{rl.HA1}%eth0")
        # the network is ready before the node is switched on: relay listening, SRV published,
        # both bridges beating (so they have loaded their subscribers)
        rl.wait_for(lambda: "Listening on Socket/eth1" in relay.text(), 20, "dhcrelay not up")
        rl.wait_for(lambda: len(lab.dig("mn", "_mip6._ipv6.example.com", "SRV")) == 2, 30,
                    "SRV of both HAs not published")
        rl.wait_for(lambda: all(home_agents.get(store, f).last_heartbeat is not None
                                for f in HA_FQDN.values()), 30, "bridges not beating")
        t0 = time.monotonic()
        w.agent = lab.spawn("mn", "agent", str(rl.VENV / "mip6-mn"), "--bundle", str(w.bundle),
                            "--interface", "eth0", "--nameserver", rl.DNS,
                            "--vici", charons["mn"].socket_path, "--run-dir", str(root / "run"),
                            "--status", str(w.status), "--dpd-delay", "1",
                            "--connect-timeout", "8")
        w.up_on(rl.HA1, 40)
        w.first_up = time.monotonic() - t0  # type: ignore[attr-defined]
        yield w
    finally:
        if os.environ.get("REACH_KEEP"):  # logs for a developer; never stops the cleanup
            with contextlib.suppress(OSError, shutil.Error):
                shutil.copytree(root, Path(os.environ["REACH_KEEP"]) / lab.tag, dirs_exist_ok=True,
                                ignore_dangling_symlinks=True, symlinks=True,
                                ignore=shutil.ignore_patterns("*.vici"))
        for c in charons.values():
            with contextlib.suppress(Exception):
                c.stop()
        lab.close()
        store.dispose()
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')  # type: ignore


def pings(w: World) -> None:
    """The correspondent (home link) and the visited host ping the MN by its name."""
    t0 = time.monotonic()
    for host in ("cn", "vh"):
        rl.wait_for(lambda h=host: w.lab.ping(h, FQDN, wait=1), 15,
                    f"{host} cannot ping {FQDN}", interval=0.2)
    print(f"  pings by name from cn and vh answered within {time.monotonic() - t0:.1f} s")


def on(w: World, ha: str, hoa: str) -> None:
    """The store and the kernel agree: one open binding on ``ha``, proxied there only."""
    other = rl.HA2 if ha == rl.HA1 else rl.HA1
    host, other_host = ("ha1", "ha2") if ha == rl.HA1 else ("ha2", "ha1")

    def settled() -> bool:
        open_ = bindings.list_for(w.store, IDENTITY, open_only=True)
        return ([b.home_agent for b in open_] == [HA_FQDN[ha]]
                and w.lab.proxies(host) == [hoa] and w.lab.proxies(other_host) == [])
    rl.wait_for(settled, 15, f"binding/proxies not settled on {ha} (other {other}): "
                f"{w.lab.proxies('ha1')} {w.lab.proxies('ha2')}")


def test_agent_discovers_ha1_and_the_hoa_is_reachable_by_name_then_follows_to_ha2(
    world: World,
) -> None:
    w = world
    log = w.agent.text()
    m = re.search(r"discovery: DHCPv6 \[(.*?)\] \((\d+\.\d+) s\), SRV \[(.*?)\] \((\d+\.\d+) s\)",
                  log)
    assert m, log[-2000:]
    # DHCPv6 through the relay and SRV both name both HAs, ha1 (priority 10) first
    assert m.group(1) == f"'{rl.HA1}', '{rl.HA2}'" and m.group(3) == f"'{rl.HA1}', '{rl.HA2}'"
    print(f"\ndiscovery: DHCPv6 {m.group(2)} s, SRV {m.group(4)} s; first up after"
          f" {w.first_up:.1f} s")  # type: ignore[attr-defined]
    sub = w.ctl("show", IDENTITY)
    assert isinstance(sub, dict)
    hoa = w.up_on(rl.HA1)
    assert hoa in [str(a) for a in sub["hoas"]]  # type: ignore[union-attr]
    on(w, rl.HA1, hoa)
    assert w.lab.dig("cn", FQDN, "AAAA") == [hoa]
    pings(w)

    # bootstrapd restarts: no entry left behind, none missing
    w.daemons["ha1"].stop(signal.SIGKILL)
    w.lab.exec("ha1", "ip", "-6", "neigh", "add", "proxy", "2001:db8:1::dead", "dev", "eth0",
               check=True)
    w.start_daemon("ha1")
    rl.wait_for(lambda: w.lab.proxies("ha1") == [hoa], 20, "proxies not resynced on ha1")

    # ha drain ha1: redirected to ha2, same HoA, reachable again, nothing left on ha1
    t0 = time.monotonic()
    w.ctl("ha", "drain", "ha1.example.com")
    assert w.up_on(rl.HA2) == hoa
    print(f"drain ha1 -> up on ha2 after {time.monotonic() - t0:.1f} s")
    on(w, rl.HA2, hoa)
    pings(w)

    # back to ha1 (drain ha2), then ha1's charon is killed
    w.ctl("ha", "activate", "ha1.example.com")
    w.ctl("ha", "drain", "ha2.example.com")
    assert w.up_on(rl.HA1) == hoa
    w.ctl("ha", "activate", "ha2.example.com")
    on(w, rl.HA1, hoa)
    t0 = time.monotonic()
    w.charons["ha1"].kill9()  # no operator step: ha2's bootstrapd marks ha1 failed
    assert w.up_on(rl.HA2) == hoa
    print(f"ha1's charon killed -> up on ha2 after {time.monotonic() - t0:.1f} s")
    # ha1's bridge dropped its proxy entries when charon went away
    rl.wait_for(lambda: w.lab.proxies("ha2") == [hoa] and w.lab.proxies("ha1") == [], 10,
                "proxies after the kill")
    pings(w)
    # charon back: ha1's bridge reconciles, its stale binding closes, nothing reappears
    assert home_agents.get(w.store, "ha1.example.com").state is HAState.FAILED
    w.charons["ha1"].start()
    on(w, rl.HA2, hoa)
    rl.wait_for(lambda: home_agents.get(w.store, "ha1.example.com").state is HAState.ACTIVE,
                15, "ha1 did not recover after its charon came back")


def test_registration_mode_records_follow_20_moves_and_go_1s_after_revoke(world: World) -> None:
    w = world
    hoa = w.up_on(rl.HA2)
    # switching the store-wide mode reconciles by itself: the idle node's records go at once,
    # the connected node's stay (it has a binding)
    sw = w.ctl("dns", "publish", "registration", host="ha1")
    assert isinstance(sw, dict) and sw["changed"] == 1
    rl.wait_for(lambda: w.lab.dig("cn", "idle.example.com", "AAAA") == [], 5,
                "idle node's AAAA still published after the switch")
    with w.store.session() as s:
        mark = s.scalars(select(func.max(DnsOutbox.id))).one() or 0

    def records() -> tuple[list[str], list[str]]:
        fwd = w.lab.dig("cn", FQDN, "AAAA")
        rev = w.lab.exec("cn", "dig", "+short", "+tcp", f"@{rl.DNS}", "-x", hoa,
                         check=True).stdout.split()
        return fwd, rev

    assert records() == ([hoa], [FQDN + "."])
    here = rl.HA2
    times: list[float] = []
    settings = config.load(str(w.config["ha1"]))
    for move in range(20):
        there = rl.HA1 if here == rl.HA2 else rl.HA2
        t0 = time.monotonic()
        # the service calls 'bootstrapctl ha drain/down/activate' make (the CLI itself ran above)
        killed = move % 4 == 3
        if killed:  # every fourth move its HA's charon dies (the other host marks it failed)
            w.charons[host_of(here)].kill9()
        else:
            home_agents.drain(w.store, ACTOR, HA_FQDN[here], settings)
        assert w.up_on(there) == hoa
        times.append(time.monotonic() - t0)
        if killed:
            w.charons[host_of(here)].start()
        on(w, there, hoa)
        if killed:  # back when it beats again
            rl.wait_for(lambda h=here: home_agents.get(w.store, HA_FQDN[h]).state
                        is HAState.ACTIVE, 15, "killed HA did not recover")
        else:
            home_agents.activate(w.store, ACTOR, HA_FQDN[here], settings)
        rl.wait_for(lambda: dnsoutbox.pending_count(w.store) == 0, 10, "outbox not drained")
        assert records() == ([hoa], [FQDN + "."]), f"move {move + 1}: records missing"
        here = there
    print(f"\n20 moves: {sum(times) / len(times):.1f} s each on average (redirect"
          f" {avg(times, False):.1f} s, killed charon {avg(times, True):.1f} s)")
    with w.store.session() as s:
        withdrawn = s.scalars(select(DnsOutbox.id).where(
            DnsOutbox.id > mark, DnsOutbox.name == FQDN + ".", DnsOutbox.rdtype == "AAAA",
        )).all()
        rows = s.scalars(select(DnsOutbox).where(DnsOutbox.id.in_(withdrawn))).all()
        gone = [(r.id, r.reason) for r in rows if not r.rdatas]
        assert not gone, f"moves queued withdrawals of the AAAA: {gone}"
    t0 = time.monotonic()
    w.ctl("revoke", IDENTITY)
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    assert records() == ([], []), "records still there 1 s after revoke"


def host_of(ha: str) -> str:
    return "ha1" if ha == rl.HA1 else "ha2"


def avg(times: list[float], killed: bool) -> float:
    picked = [t for i, t in enumerate(times) if (i % 4 == 3) == killed]
    return sum(picked) / len(picked)
