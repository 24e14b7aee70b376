"""Interop with real peers: bootstrapd's DHCP service in a network namespace, answering
ISC ``dhclient -6 -S``, a Relay-forward and a DHCPINFORM (both captured from the lab's
scapy probes), from a store filled through the service layer; then an HA drained with
``bootstrapctl ha drain`` disappears from the next answers.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootstrap import migrate
from bootstrap.services import home_agents, networks
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from dhcp_hinfo import wire4, wire6
from tests.support import udp_probe
from tests.support.dhcp import vector

SRV, CLI = "mipd-dsrv", "mipd-dcli"
SRV_IF, CLI_IF = "mipd-s0", "mipd-c0"
VENV = Path(sys.executable).parent
PROBE = Path(udp_probe.__file__)
ACTOR = Actor("pytest", "cli")

DHCLIENT_CONF = """
option space mip6vd code width 2 length width 2;
option space mip6id code width 2 length width 2;
option space mip6ud code width 2 length width 2;
option dhcp6.mip6-hnidf code 49 = domain-list;
option dhcp6.mip6-vdinf code 50 = encapsulate mip6vd;
option dhcp6.mip6-idinf code 69 = encapsulate mip6id;
option dhcp6.mip6-udinf code 70 = encapsulate mip6ud;
option mip6vd.hnp code 71 = { unsigned integer 8, ip6-address };
option mip6vd.haa code 72 = array of ip6-address;
option mip6vd.haf code 73 = domain-list;
option mip6id.hnp code 71 = { unsigned integer 8, ip6-address };
option mip6id.haa code 72 = array of ip6-address;
option mip6id.haf code 73 = domain-list;
option mip6ud.hnp code 71 = { unsigned integer 8, ip6-address };
option mip6ud.haa code 72 = array of ip6-address;
option mip6ud.haf code 73 = domain-list;
send dhcp6.mip6-hnidf "home.example";
also request dhcp6.mip6-vdinf, dhcp6.mip6-idinf, dhcp6.mip6-udinf;
"""

SCRIPT = """#!/bin/sh
{ echo "=== reason=$reason"; env | grep -E '^(reason|new_|requested_)' | sort; } >> "{envlog}"
exit 0
"""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=check, capture_output=True, text=True)


def in_ns(ns: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *args]


@dataclass
class Lab:
    tmp: Path
    config: Path
    store: Store
    daemon: subprocess.Popen[str]


def _cleanup_netns() -> None:
    for ns in (SRV, CLI):
        sh("ip", "netns", "del", ns, check=False)


def _make_netns() -> None:
    _cleanup_netns()
    for ns in (SRV, CLI):
        sh("ip", "netns", "add", ns)
        for key in ("all", "default"):
            sh(*in_ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0"))
        sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
    sh("ip", "link", "add", SRV_IF, "netns", SRV, "type", "veth", "peer", CLI_IF, "netns", CLI)
    sh(*in_ns(SRV, "ip", "addr", "add", "2001:db8:1::1/64", "dev", SRV_IF, "nodad"))
    sh(*in_ns(SRV, "ip", "addr", "add", "192.0.2.1/24", "dev", SRV_IF))
    sh(*in_ns(CLI, "ip", "addr", "add", "2001:db8:1::100/64", "dev", CLI_IF, "nodad"))
    sh(*in_ns(CLI, "ip", "addr", "add", "192.0.2.100/24", "dev", CLI_IF))
    for ns, dev in ((SRV, SRV_IF), (CLI, CLI_IF)):
        sh(*in_ns(ns, "ip", "link", "set", dev, "up"))


def _fill_store(url: str) -> Store:
    store = Store(url)
    migrate.upgrade(store)
    networks.add(store, ACTOR, "home.example", "2001:db8:200::/64", ha_info="both")
    networks.add(store, ACTOR, "visited.example", "2001:db8:100::/64", ha_info="address")
    home_agents.add(
        store,
        ACTOR,
        "ha.home.example",
        "home.example",
        "2001:db8:200::1",
        ipv4="192.0.2.10",
        priority=10,
    )
    home_agents.add(
        store,
        ACTOR,
        "ha2.home.example",
        "home.example",
        "2001:db8:200::2",
        ipv4="192.0.2.11",
        priority=10,
    )
    home_agents.add(
        store,
        ACTOR,
        "ha1.visited.example",
        "visited.example",
        "2001:db8:100::1",
        ipv4="192.0.2.12",
        priority=20,
    )
    return store


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if needle in line:
                return line
    raise AssertionError(f"bootstrapd never said {needle!r}; output: {''.join(seen)!r}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    tmp = tmp_path_factory.mktemp("dhcplab")
    db = tmp / "store.db"
    store = _fill_store(f"sqlite:///{db}")
    cfg = tmp / "bootstrap.toml"
    cfg.write_text(
        f"""
[database]
url = "sqlite:///{db}"
[store]
snapshot_poll_interval = 0.2
[dhcp6]
listen = "[::]:547"
interfaces = ["{SRV_IF}"]
links = ["if:{SRV_IF}=visited.example", "2001:db8:2::/64=home.example"]
rate_limit = 0.0
[dhcp4]
enabled = true
listen = "0.0.0.0:67"
interfaces = ["{SRV_IF}"]
rate_limit = 0.0
"""
    )
    _make_netns()
    daemon = subprocess.Popen(
        in_ns(SRV, str(VENV / "bootstrapd"), "--config", str(cfg), "--only", "dhcp"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_line(daemon, "dhcp: home information", 20)
        yield Lab(tmp, cfg, store, daemon)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        store.dispose()
        _cleanup_netns()


def run_dhclient(lab: Lab, name: str) -> dict[str, str]:
    """One stateless dhclient exchange; the env its script saw on the first answer."""
    conf = lab.tmp / "dhclient6.conf"
    conf.write_text(DHCLIENT_CONF)
    envlog = lab.tmp / f"{name}.env"
    script = lab.tmp / f"{name}.sh"
    script.write_text(SCRIPT.replace("{envlog}", str(envlog)))
    script.chmod(0o755)
    cmd = in_ns(
        CLI,
        "dhclient",
        "-6",
        "-S",
        "-d",
        "-v",
        "-1",
        "-cf",
        str(conf),
        "-sf",
        str(script),
        "-lf",
        str(lab.tmp / f"{name}.leases"),
        "-pf",
        str(lab.tmp / f"{name}.pid"),
        CLI_IF,
    )
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if envlog.exists() and "new_mip6" in envlog.read_text():
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    text = envlog.read_text() if envlog.exists() else ""
    assert "new_mip6" in text, f"dhclient got no home information; stderr: {err[-2000:]}"
    block = (
        text[text.rindex("=== reason") :] if "new_mip6" in text.split("=== reason")[-1] else text
    )
    values: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.startswith(("new_mip6", "new_dhcp6_mip6")):
            values[key] = value.strip("'")
    return values


def probe(
    ns: str,
    family: str,
    bind: str,
    port: int,
    dest: str,
    dport: int,
    payload: bytes,
    timeout: float = 2.0,
) -> bytes:
    out = sh(
        *in_ns(
            ns,
            sys.executable,
            str(PROBE),
            family,
            bind,
            str(port),
            dest,
            str(dport),
            payload.hex(),
            str(timeout),
        )
    )
    return bytes.fromhex(out.stdout.strip())


def inform_has(lab: Lab) -> list[str]:
    reply = probe(
        CLI, "4", "192.0.2.100", 68, "192.0.2.1", 67, vector("v4-inform-prl1-3-68-request")
    )
    assert reply, "no DHCPACK to the DHCPINFORM"
    ack = wire4.decode(reply)
    assert ack.message_type == wire4.ACK
    assert ack.get(54) == wire4.ServerIdentifier(ipaddress.IPv4Address("192.0.2.1"))
    opt = ack.get(68)
    assert isinstance(opt, wire4.MobileIpHomeAgent)
    return [str(a) for a in opt.addresses]


def test_dhclient_stateless_gets_the_store_home_information(lab: Lab) -> None:
    env = run_dhclient(lab, "first")
    # VDINF: the link mipd-s0 is bound to visited.example (ha_info "address": no HAF)
    assert env["new_mip6vd_hnp"] == "64 2001:db8:100::"
    assert env["new_mip6vd_haa"] == "2001:db8:100::1"
    assert "new_mip6vd_haf" not in env
    # IDINF for the HNIDF dhclient sent: both live HAs of home.example, address and name
    assert env["new_mip6id_hnp"] == "64 2001:db8:200::"
    # dhclient shows only the first HAA/HAF (best first: address and name of the same HA);
    # the raw container it also exports carries both live HAs
    pairs = {"2001:db8:200::1": "ha.home.example.", "2001:db8:200::2": "ha2.home.example."}
    assert pairs[env["new_mip6id_haa"]] == env["new_mip6id_haf"]
    raw = bytes(int(x, 16) for x in env["new_dhcp6_mip6_idinf"].split(":"))
    inside = wire6.decode_options(raw, 0, wire6.IDINF)
    assert inside[0] == wire6.Hnidf("home.example.")
    assert {str(o.address) for o in inside if isinstance(o, wire6.Haa)} == set(pairs)
    assert {o.name for o in inside if isinstance(o, wire6.Haf)} == set(pairs.values())
    # UDINF: one best HA, priority 10 -> one of home.example's
    assert env["new_mip6ud_haa"] in {"2001:db8:200::1", "2001:db8:200::2"}


def test_relay_forward_gets_a_relay_reply_for_the_relay_link(lab: Lab) -> None:
    # scapy-built Relay-forward from the lab: link-address 2001:db8:2::1, Interface-Id
    # "dhcplab-r0", inner Information-request with HNIDF home.example and ORO 50/69/70
    reply = probe(
        CLI, "6", "2001:db8:1::100", 547, "2001:db8:1::1", 547, vector("v6-relay-request")
    )
    assert reply, "no Relay-reply"
    msg = wire6.decode_message(reply)
    assert isinstance(msg, wire6.RelayMessage) and msg.msg_type == wire6.RELAY_REPL
    assert str(msg.link_address) == "2001:db8:2::1"
    assert wire6.InterfaceId(b"dhcplab-r0") in msg.options
    inner = msg.inner
    assert isinstance(inner, wire6.ClientServerMessage) and inner.msg_type == wire6.REPLY
    vd = inner.get(wire6.VDINF)[0]
    assert isinstance(vd, wire6.Vdinf)
    # 2001:db8:2::/64 is bound to home.example, so VDINF names home.example's HAs
    assert wire6.Hnp(ipaddress.IPv6Network("2001:db8:200::/64")) in vd.options
    assert {str(o.address) for o in vd.find(wire6.Haa)} == {  # type: ignore[attr-defined]
        "2001:db8:200::1",
        "2001:db8:200::2",
    }


def test_two_relay_hops_built_here_get_two_relay_reply_levels(lab: Lab) -> None:
    inner = wire6.decode_message(vector("v6-relay-request"))  # hop 0 from the lab
    outer = wire6.RelayMessage(
        wire6.RELAY_FORW,
        1,
        ipaddress.IPv6Address("::"),
        ipaddress.IPv6Address("2001:db8:1::100"),
        (wire6.InterfaceId(b"outer-7"), wire6.RelayMsg(inner)),
    )
    reply = probe(
        CLI, "6", "2001:db8:1::100", 547, "2001:db8:1::1", 547, wire6.encode_message(outer)
    )
    assert reply, "no Relay-reply"
    top = wire6.decode_message(reply)
    assert isinstance(top, wire6.RelayMessage) and top.hop_count == 1
    assert top.options[0] == wire6.InterfaceId(b"outer-7")
    mid = top.inner
    assert isinstance(mid, wire6.RelayMessage) and mid.hop_count == 0
    assert str(mid.link_address) == "2001:db8:2::1"
    assert mid.options[0] == wire6.InterfaceId(b"dhcplab-r0")
    answer = mid.inner
    assert isinstance(answer, wire6.ClientServerMessage) and answer.xid == 0x4D4950
    (idinf,) = answer.get(wire6.IDINF)
    assert isinstance(idinf, wire6.Idinf)
    assert idinf.options[:2] == (
        wire6.Hnidf("home.example."),
        wire6.Hnp(ipaddress.IPv6Network("2001:db8:200::/64")),
    )
    assert {o.name for o in idinf.find(wire6.Haf)} == {  # type: ignore[attr-defined]
        "ha.home.example.",
        "ha2.home.example.",
    }


def test_unicast_information_request_is_dropped(lab: Lab) -> None:
    reply = probe(
        CLI,
        "6",
        "2001:db8:1::100",
        546,
        "2001:db8:1::1",
        547,
        vector("v6-direct-request"),
        timeout=1.0,
    )
    assert reply == b""


def test_dhcpinform_gets_option_68_with_the_live_has(lab: Lab) -> None:
    addrs = inform_has(lab)
    assert set(addrs[:2]) == {"192.0.2.10", "192.0.2.11"}  # priority 10 first
    assert addrs[2:] == ["192.0.2.12"]


def test_relayed_dhcpinform_goes_back_to_the_relay_with_option_82(lab: Lab) -> None:
    data = bytearray(vector("v4-inform-prl1-3-68-request"))
    data[3] = 1  # hops
    data[24:28] = bytes([192, 0, 2, 100])  # giaddr: the "relay" on the client side
    rai = b"\x52\x08\x01\x06relay1"  # option 82, circuit-id "relay1"
    data = data[:-1] + rai + b"\xff"
    reply = probe(CLI, "4", "192.0.2.100", 67, "192.0.2.1", 67, bytes(data))
    assert reply, "no DHCPACK at giaddr:67"
    ack = wire4.decode(reply)
    assert ack.message_type == wire4.ACK and str(ack.giaddr) == "192.0.2.100"
    assert ack.get(82) == wire4.RelayAgentInfo(b"\x01\x06relay1")
    assert ack.options[-1].code == 82  # echoed last (RFC 3046 §2.2), then END and padding
    assert set(reply[reply.index(rai + b"\xff") + len(rai) + 1 :]) <= {0}
    opt = ack.get(68)
    assert isinstance(opt, wire4.MobileIpHomeAgent) and len(opt.addresses) == 3


def test_drained_ha_is_no_longer_named(lab: Lab) -> None:
    out = sh(
        str(VENV / "bootstrapctl"), "--config", str(lab.config), "ha", "drain", "ha.home.example"
    )
    assert "draining" in out.stdout
    time.sleep(0.8)  # > snapshot poll interval
    try:
        env = run_dhclient(lab, "after-drain")
        assert env["new_mip6id_haa"] == "2001:db8:200::2"
        assert env["new_mip6id_haf"] == "ha2.home.example."
        assert env["new_mip6ud_haa"] == "2001:db8:200::2"
        assert "192.0.2.10" not in inform_has(lab)
    finally:
        with contextlib.suppress(Exception):
            home_agents.activate(lab.store, ACTOR, "ha.home.example")
