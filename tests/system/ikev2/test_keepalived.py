"""``bootstrapctl ha failover-config``: keepalived moves a failed HA host's IKE address.

Two HA hosts (a namespace each, charon in each) on one link; keepalived runs
in each with the files the store wrote.  Each host holds its own address;
when ha1's charon dies, its track script fails, its priority drops and ha2
takes ha1's address over.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import netlab as nl

BOOTSTRAPCTL = Path(sys.executable).parent / "bootstrapctl"
HA1, HA2 = "2001:db8:1::1", "2001:db8:1::2"
HA2_LINK = "2001:db8:0:1::2"


def ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(BOOTSTRAPCTL), "--config", str(config), *args],
                       capture_output=True, text=True, timeout=60, cwd=config.parent)
    assert "Traceback" not in r.stderr
    return r


def host_config(tmp: Path, name: str, socket: str) -> Path:
    path = tmp / f"{name}.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp / "store.db"}"\n'
                    f'[vici]\nsocket = "{socket}"\n')
    return path


def on_lo(ns: str, addr: str) -> bool:
    out = nl.run("ip", "-n", ns, "-6", "addr", "show", "dev", "lo").stdout
    return f"{addr}/128" in out


@contextlib.contextmanager
def keepalived(ns: str, conf: Path, d: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(d / "keepalived.out", "ab") as out:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "keepalived", "-n", "-l", "-D", "-f", str(conf),
             "-p", str(d / "k.pid"), "-r", str(d / "vrrp.pid"), "-c", str(d / "chk.pid")],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


@pytest.fixture
def link(tmp_path: Path) -> Iterator[tuple[nl.Topology, nl.Charon, nl.Charon]]:
    topo = nl.Topology(nl.new_tag())
    c1 = c2 = None
    try:
        topo.create(0, [])
        ns2 = topo.add_ha(HA2_LINK, [])
        c1 = nl.Charon(topo.ha, tmp_path / "c1", "ha")
        c2 = nl.Charon(ns2, tmp_path / "c2", "ha")
        c1.start()
        c2.start()
        yield topo, c1, c2
    finally:
        for c in (c1, c2):
            if c is not None:
                c.stop()
        topo.delete()


def test_failover_config_moves_the_address_of_a_host_whose_charon_died(
    tmp_path: Path, link: tuple[nl.Topology, nl.Charon, nl.Charon]
) -> None:
    topo, c1, c2 = link
    cfg1 = host_config(tmp_path, "ha1", c1.socket_path)
    cfg2 = host_config(tmp_path, "ha2", c2.socket_path)
    assert ctl(cfg1, "db", "upgrade").returncode == 0
    assert ctl(cfg1, "network", "add", "example.com", "--prefix", "2001:db8:1::/64").returncode == 0
    for fqdn, addr in (("ha1.example.com", HA1), ("ha2.example.com", HA2)):
        r = ctl(cfg1, "ha", "add", fqdn, "--network", "example.com", "--address", addr)
        assert r.returncode == 0, r.stderr
    # each host runs the command with its own config (its charon socket, its interface)
    r1 = ctl(cfg1, "ha", "failover-config", "--out", str(tmp_path / "k1"), "--interface", "br0",
             "--json")
    r2 = ctl(cfg2, "ha", "failover-config", "--out", str(tmp_path / "k2"), "--interface", "eth0")
    assert r1.returncode == 0 and r2.returncode == 0, (r1.stderr, r2.stderr)
    assert [w["home_agent"] for w in json.loads(r1.stdout)] == ["ha1.example.com",
                                                                 "ha2.example.com"]
    conf1 = tmp_path / "k1" / "ha1.example.com" / "keepalived.conf"
    conf2 = tmp_path / "k2" / "ha2.example.com" / "keepalived.conf"
    text1 = conf1.read_text()
    assert text1.count("vrrp_instance") == 2 and "priority 250" in text1
    assert "priority 200" in text1 and "weight -240" in text1
    ns1, ns2 = topo.ha, topo.extra_has[0]
    for ns, conf in ((ns1, conf1), (ns2, conf2)):  # keepalived's own check, on the host
        check = subprocess.run(["ip", "netns", "exec", ns, "keepalived", "-t", "-f", str(conf)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
    d1, d2 = tmp_path / "kd1", tmp_path / "kd2"
    d1.mkdir()
    d2.mkdir()
    with keepalived(ns1, conf1, d1), keepalived(ns2, conf2, d2):
        assert nl.wait_for(lambda: on_lo(ns1, HA1) and on_lo(ns2, HA2), 20), (
            (d1 / "keepalived.out").read_text()[-2000:], (d2 / "keepalived.out").read_text())
        assert not on_lo(ns2, HA1) and not on_lo(ns1, HA2)
        c1.kill9()
        assert nl.wait_for(lambda: on_lo(ns2, HA1), 20), (d2 / "keepalived.out").read_text()
        assert nl.wait_for(lambda: not on_lo(ns1, HA1), 5)
        assert on_lo(ns2, HA2)
        # charon back: the address returns to its own host
        c1.start()
        assert nl.wait_for(lambda: on_lo(ns1, HA1) and not on_lo(ns2, HA1), 20)


def test_failover_config_refuses_an_empty_store_in_one_sentence(tmp_path: Path) -> None:
    cfg = host_config(tmp_path, "h", "/run/charon.vici")
    assert ctl(cfg, "db", "upgrade").returncode == 0
    r = ctl(cfg, "ha", "failover-config", "--out", str(tmp_path / "k"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
