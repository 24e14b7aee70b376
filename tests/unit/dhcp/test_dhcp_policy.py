"""RFC 6610 server rules against an in-memory snapshot (pure; no sockets, no store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress as ip
import logging
import random

import pytest

from bootstrap import config
from bootstrap.domain import HAState, Snapshot
from bootstrap.errors import ConfigError
from dhcp_hinfo import policy, wire4, wire6
from dhcp_hinfo.links import LinkBindings
from dhcp_hinfo.policy import Arrival, Drop, HomeView, Policy, Reply4, Reply6
from dhcp_hinfo.responder import Responder
from dhcp_hinfo.settings import build_policy
from tests.support.dhcp import NOW, SERVER_DUID, sample_snapshot

CLIENT = wire6.ClientId(wire6.Duid.ll(1, bytes.fromhex("02000000db64")))
ON_ETH0 = Arrival("eth0", True)
POLICY = Policy(
    links6=LinkBindings.parse(
        ["if:eth0=visited.example", "ifid:r7=fqdn.example", "2001:db8:2::/64=home.example"], "t"
    ),
    links4=LinkBindings.parse(["if:eth0=visited.example", "198.51.100.0/24=home.example"], "t"),
    rsoo_codes=frozenset({50, 69, 70}),
)


def inforeq(*options: wire6.Option, msg_type: int = wire6.INFORMATION_REQUEST) -> wire6.Message:
    return wire6.ClientServerMessage(msg_type, 0xABCDEF, (CLIENT, *options))


def ask(
    msg: wire6.Message,
    snap: Snapshot | None = None,
    arrival: Arrival = ON_ETH0,
    pol: Policy = POLICY,
    seed: int = 1,
) -> Reply6 | Drop:
    view = HomeView(snap or sample_snapshot())
    return policy.answer6(msg, arrival, view, pol, NOW, random.Random(seed))


def reply_options(result: Reply6 | Drop) -> tuple[wire6.Option, ...]:
    assert isinstance(result, Reply6), result
    msg = result.message
    while isinstance(msg, wire6.RelayMessage):
        msg = msg.inner
    assert msg.msg_type == wire6.REPLY and msg.xid == 0xABCDEF
    return msg.options


def haa(a: str) -> wire6.Haa:
    return wire6.Haa(ip.IPv6Address(a))


def hnp(p: str) -> wire6.Hnp:
    return wire6.Hnp(ip.IPv6Network(p))


def test_all_three_containers_follow_the_store() -> None:
    opts = reply_options(
        ask(inforeq(wire6.Hnidf("home.example."), wire6.OptionRequest((50, 69, 70))))
    )
    assert opts[0] == CLIENT
    assert opts[1] == wire6.ServerId(wire6.Duid(SERVER_DUID))
    vd, idf, ud = opts[2:]
    # eth0 is bound to visited.example, whose ha_info is "address": no HAF
    assert vd == wire6.Vdinf((hnp("2001:db8:100::/64"), haa("2001:db8:100::1")))
    # home.example: the draining ha2 is never named; HNIDF copied first
    assert idf == wire6.Idinf(
        (
            wire6.Hnidf("home.example."),
            hnp("2001:db8:200::/64"),
            haa("2001:db8:200::1"),
            wire6.Haf("ha.home.example."),
        )
    )
    # UDINF: the best live HA anywhere: priority 10 beats 20 and 30
    assert ud == wire6.Udinf(
        (hnp("2001:db8:200::/64"), haa("2001:db8:200::1"), wire6.Haf("ha.home.example."))
    )


def test_only_asked_containers_and_sub_options_are_sent() -> None:
    assert reply_options(ask(inforeq(wire6.OptionRequest((23, 24))))) == (
        CLIENT,
        wire6.ServerId(wire6.Duid(SERVER_DUID)),
    )
    opts = reply_options(ask(inforeq(wire6.OptionRequest((70, 72)))))
    assert opts[2:] == (wire6.Udinf((haa("2001:db8:200::1"),)),)


def test_unknown_home_network_gets_no_idinf_and_names_are_case_blind() -> None:
    opts = reply_options(ask(inforeq(wire6.Hnidf("nowhere.example."), wire6.OptionRequest((69,)))))
    assert len(opts) == 2
    opts = reply_options(
        ask(
            inforeq(
                wire6.Hnidf("FQDN.Example."),
                wire6.Hnidf("home.example."),
                wire6.OptionRequest((69,)),
            )
        )
    )
    assert [o.options[0] for o in opts[2:]] == [  # type: ignore[attr-defined]
        wire6.Hnidf("fqdn.example."),
        wire6.Hnidf("home.example."),
    ]
    # fqdn.example's policy is "fqdn": HAF only
    assert opts[2] == wire6.Idinf(
        (wire6.Hnidf("fqdn.example."), hnp("2001:db8:300::/48"), wire6.Haf("ha.fqdn.example."))
    )


def test_no_live_agent_means_no_container() -> None:
    snap = sample_snapshot()
    stale = NOW - dt.timedelta(seconds=500)
    agents = tuple(
        dataclasses.replace(h, last_heartbeat=stale)
        if h.network == "home.example"
        else dataclasses.replace(h, state=HAState.DOWN)
        if h.network == "visited.example"
        else h
        for h in snap.home_agents
    )
    snap = dataclasses.replace(snap, home_agents=agents)
    opts = reply_options(
        ask(inforeq(wire6.Hnidf("home.example."), wire6.OptionRequest((50, 69, 70))), snap)
    )
    # home's HA has a stale heartbeat, visited's is down: only UDINF with fqdn.example's HA
    assert opts[2:] == (wire6.Udinf((hnp("2001:db8:300::/48"), wire6.Haf("ha.fqdn.example."))),)


def test_full_agent_is_not_the_best() -> None:
    snap = sample_snapshot()
    agents = tuple(
        dataclasses.replace(h, assigned=h.capacity) if h.fqdn == "ha.home.example" else h
        for h in snap.home_agents
    )
    opts = reply_options(
        ask(inforeq(wire6.OptionRequest((70,))), dataclasses.replace(snap, home_agents=agents))
    )
    assert opts[2] == wire6.Udinf((hnp("2001:db8:100::/64"), haa("2001:db8:100::1")))


@pytest.mark.parametrize(
    ("msg", "arrival", "reason"),
    [
        (inforeq(wire6.OptionRequest((70,))), Arrival("eth0", False), policy.UNICAST),
        (inforeq(msg_type=wire6.SOLICIT), ON_ETH0, policy.STATEFUL),
        (inforeq(msg_type=wire6.RENEW), ON_ETH0, policy.STATEFUL),
        (inforeq(msg_type=wire6.REPLY), ON_ETH0, policy.SERVER_MESSAGE),
        (inforeq(msg_type=200), ON_ETH0, policy.UNKNOWN_TYPE),
        (inforeq(wire6.Unknown(3, bytes(12))), ON_ETH0, policy.IA_IN_INFOREQ),
        (inforeq(wire6.ServerId(wire6.Duid.ll(1, b"abcdef"))), ON_ETH0, policy.OTHER_SERVER),
    ],
)
def test_drops(msg: wire6.Message, arrival: Arrival, reason: str) -> None:
    assert ask(msg, arrival=arrival) == Drop(reason)


def test_unicast_allowed_by_switch_and_own_server_id_accepted() -> None:
    pol = dataclasses.replace(POLICY, allow_unicast=True)
    msg = inforeq(wire6.ServerId(wire6.Duid(SERVER_DUID)), wire6.OptionRequest((70,)))
    assert isinstance(ask(msg, arrival=Arrival("eth0", False), pol=pol), Reply6)


def test_without_server_duid_nothing_is_answered() -> None:
    snap = dataclasses.replace(sample_snapshot(), server_duid=b"")
    assert ask(inforeq(), snap) == Drop(policy.NO_IDENTITY)


def relay(
    inner: wire6.Message, hop: int = 0, link: str = "2001:db8:2::1", *extra: wire6.Option
) -> wire6.RelayMessage:
    return wire6.RelayMessage(
        wire6.RELAY_FORW,
        hop,
        ip.IPv6Address(link),
        ip.IPv6Address("fe80::1"),
        (*extra, wire6.RelayMsg(inner)),
    )


def test_relayed_request_uses_the_relay_link_and_echoes_interface_id() -> None:
    inner = inforeq(wire6.OptionRequest((50,)))
    result = ask(
        relay(relay(inner, 0, "2001:db8:2::1", wire6.InterfaceId(b"r1")), 1, "::"),
        arrival=Arrival("eth1", False),
    )
    assert isinstance(result, Reply6) and result.relayed
    outer = result.message
    assert isinstance(outer, wire6.RelayMessage) and outer.msg_type == wire6.RELAY_REPL
    assert (outer.hop_count, outer.link_address) == (1, ip.IPv6Address("::"))
    mid = outer.inner
    assert isinstance(mid, wire6.RelayMessage)
    assert mid.options[0] == wire6.InterfaceId(b"r1")
    assert mid.link_address == ip.IPv6Address("2001:db8:2::1")
    # innermost link-address 2001:db8:2::1 is bound to home.example
    assert reply_options(result)[2] == wire6.Vdinf(
        (hnp("2001:db8:200::/64"), haa("2001:db8:200::1"), wire6.Haf("ha.home.example."))
    )
    by_ifid = ask(relay(inner, 0, "2001:db8:2::1", wire6.InterfaceId(b"r7")))
    assert reply_options(by_ifid)[2].options[-1] == wire6.Haf("ha.fqdn.example.")  # type: ignore[attr-defined]


def test_hop_limit() -> None:
    msg: wire6.Message = inforeq(wire6.OptionRequest((70,)))
    for hop in range(4):
        msg = relay(msg, hop)
    assert isinstance(ask(msg, pol=dataclasses.replace(POLICY, hop_limit=4)), Reply6)
    assert ask(msg, pol=dataclasses.replace(POLICY, hop_limit=2)) == Drop(policy.HOP_LIMIT)
    assert ask(relay(inforeq(), 9)) == Drop(policy.HOP_LIMIT)


RSOO_VD = wire6.Vdinf((hnp("2001:db8:aaa::/48"), haa("2001:db8:aaa::1")))
RSOO_ID = wire6.Idinf((wire6.Hnidf("aaa.example."), haa("2001:db8:aaa::2")))


def test_relay_supplied_options_fill_gaps_when_allowed() -> None:
    inner = inforeq(wire6.Hnidf("aaa.example."), wire6.OptionRequest((50, 69)))
    unbound = "2001:db8:99::1"
    msg = relay(inner, 0, unbound, wire6.Rsoo((RSOO_VD, RSOO_ID)))
    assert reply_options(ask(msg))[2:] == (RSOO_VD, RSOO_ID)
    strict = dataclasses.replace(POLICY, rsoo_codes=frozenset())
    assert reply_options(ask(msg, pol=strict))[2:] == ()
    # the server's own VDINF wins over the relay's (RFC 6422 §6)
    bound = relay(inner, 0, "2001:db8:2::1", wire6.Rsoo((RSOO_VD,)))
    assert reply_options(ask(bound))[2].options[0] == hnp("2001:db8:200::/64")  # type: ignore[attr-defined]


def test_draft_layout_is_answered_like_rfc6610() -> None:
    hnid = b"\x04home\x07example\x00"
    one = wire6.DraftHomeInfo(1, ((1, hnid),))
    opts = reply_options(ask(inforeq(one)))
    assert isinstance(opts[2], wire6.Idinf)
    assert opts[2].options[0] == wire6.Hnidf("home.example.")
    two = reply_options(ask(inforeq(wire6.DraftHomeInfo(2))))
    assert isinstance(two[2], wire6.Udinf)


# --- DHCPv4 -------------------------------------------------------------------------------------


def inform(
    *options: wire4.Option4,
    giaddr: str = "0.0.0.0",
    ciaddr: str = "192.0.2.100",
    mtype: int = wire4.INFORM,
) -> wire4.Frame:
    return wire4.Frame(
        op=1,
        xid=0x1234,
        ciaddr=ip.IPv4Address(ciaddr),
        giaddr=ip.IPv4Address(giaddr),
        chaddr=bytes.fromhex("02000000db64").ljust(16, b"\0"),
        options=(wire4.MessageType(mtype), *options),
    )


def ask4(
    frame: wire4.Frame,
    pol: Policy = POLICY,
    arrival: Arrival | None = None,
    snap: Snapshot | None = None,
) -> Reply4 | Drop:
    arrival = arrival or Arrival("eth9", False, ip.IPv4Address("192.0.2.1"))
    return policy.answer4(
        frame, arrival, HomeView(snap or sample_snapshot()), pol, NOW, random.Random(1)
    )


def test_inform_gets_live_home_agents_in_option_68() -> None:
    got = ask4(inform(wire4.ParameterRequestList((1, 68))))
    assert isinstance(got, Reply4)
    assert (str(got.destination), got.port) == ("192.0.2.100", 68)
    ack = got.frame
    assert ack.message_type == wire4.ACK and ack.xid == 0x1234
    assert ack.get(54) == wire4.ServerIdentifier(ip.IPv4Address("192.0.2.1"))
    assert ack.get(68) == wire4.MobileIpHomeAgent(
        (ip.IPv4Address("192.0.2.10"), ip.IPv4Address("192.0.2.12"))
    )
    assert ack.yiaddr == ip.IPv4Address(0) and ack.get(51) is None
    assert ask4(inform(wire4.ParameterRequestList((1, 3)))).frame.get(68) is None  # type: ignore[union-attr]


def test_relayed_inform_goes_to_giaddr_with_option_82_echoed_last() -> None:
    rai = wire4.RelayAgentInfo(b"\x01\x04abcd")
    got = ask4(inform(rai, wire4.ParameterRequestList((68,)), giaddr="198.51.100.1"))
    assert isinstance(got, Reply4)
    assert (str(got.destination), got.port) == ("198.51.100.1", 67)
    assert got.frame.options[-1] == rai
    # giaddr 198.51.100.0/24 is bound to home.example: its one live HA only
    assert got.frame.get(68) == wire4.MobileIpHomeAgent((ip.IPv4Address("192.0.2.10"),))
    encoded = wire4.encode(got.frame)
    assert encoded.index(b"\x52\x06\x01\x04abcd\xff") > encoded.index(b"\x44\x04")


def test_dhcpv4_drops() -> None:
    assert ask4(inform(mtype=wire4.DISCOVER)) == Drop(policy.STATEFUL)
    assert ask4(inform(ciaddr="0.0.0.0")) == Drop(policy.NO_CIADDR)
    assert ask4(dataclasses.replace(inform(), op=2)) == Drop(policy.SERVER_MESSAGE)
    assert ask4(inform(), arrival=Arrival("eth0")) == Drop(policy.NO_IDENTITY)


def test_dual_stack_option_under_configured_code() -> None:
    pol = dataclasses.replace(POLICY, ds_code=230)
    asked = wire4.DualStackHomeInfo(230, (wire4.DsContainer(wire4.DS_IDENTIFIED, "home.example."),))
    got = ask4(
        inform(wire4.ParameterRequestList((230,)), wire4.Unknown4(230, asked.data())),
        pol,
        Arrival("eth0", False, ip.IPv4Address("192.0.2.1")),
    )
    assert isinstance(got, Reply4)
    opt = got.frame.get(230)
    assert isinstance(opt, wire4.DualStackHomeInfo)
    kinds = [c.kind for c in opt.containers]
    assert kinds == [wire4.DS_IDENTIFIED, wire4.DS_VISITED, wire4.DS_UNRESTRICTED]
    ident = opt.containers[0]
    assert ident.ha_addresses4 == (ip.IPv4Address("192.0.2.10"),)
    assert ident.ha_names == ("ha.home.example.",)
    decoded = wire4.decode(wire4.encode(got.frame)).get(230)
    assert isinstance(decoded, wire4.Unknown4)
    assert wire4.DualStackHomeInfo.decode(230, decoded.raw) == opt


# --- responder: rate limit, cache, log gate ------------------------------------------------------

REQ = wire6.encode_message(
    inforeq(wire6.Hnidf("home.example."), wire6.OptionRequest((50, 69, 70)), wire6.ElapsedTime(0))
)


def test_rate_limit_per_client(caplog: pytest.LogCaptureFixture) -> None:
    from dhcp_hinfo.ratelimit import RateLimiter

    r = Responder(POLICY, sample_snapshot(), rate6=RateLimiter(1.0, 3), log_interval=60)
    caplog.set_level(logging.INFO, "dhcp_hinfo")
    got = [r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 100.0) for _ in range(6)]
    assert [g is not None for g in got] == [True, True, True, False, False, False]
    assert r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 102.0) is not None  # refilled
    other = REQ.replace(bytes.fromhex("02000000db64"), bytes.fromhex("02000000db65"))
    assert r.handle6(other, "fe80::2", ON_ETH0, NOW, 100.0) is not None
    assert sum("rate limited" in m for m in caplog.messages) == 1  # logged once per interval


def test_cached_replies_equal_fresh_ones_and_follow_snapshots() -> None:
    r = Responder(POLICY, sample_snapshot())
    fresh = r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.0)
    assert fresh is not None
    outs = {
        r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.0 + i / 1000).payload  # type: ignore[union-attr]
        for i in range(40)
    }
    assert outs == {fresh.payload}  # one HA per priority: every variant is the same answer
    other = REQ.replace(b"\xab\xcd\xef", b"\x01\x02\x03", 1)
    again = r.handle6(other, "fe80::1", ON_ETH0, NOW, 1.5)
    assert again is not None and again.payload[1:4] == b"\x01\x02\x03"
    assert again.payload[4:] == fresh.payload[4:]
    drained = sample_snapshot(
        home_agents=tuple(
            dataclasses.replace(h, state=HAState.DRAINING) if h.fqdn == "ha.home.example" else h
            for h in sample_snapshot().home_agents
        )
    )
    r.set_snapshot(drained)
    after = r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.6)
    assert after is not None and ip.IPv6Address("2001:db8:200::1").packed not in after.payload


def test_config_errors_name_the_key(tmp_path: object) -> None:
    base = config.from_mapping({}, tmp_path)  # type: ignore[arg-type]
    bad_link = dataclasses.replace(base, dhcp6=dataclasses.replace(base.dhcp6, links=["eth0"]))
    with pytest.raises(ConfigError, match=r"\[dhcp6\] links"):
        build_policy(bad_link)
    bad_code = dataclasses.replace(base, dhcp4=dataclasses.replace(base.dhcp4, dualstack_code=68))
    with pytest.raises(ConfigError, match="dualstack_code"):
        build_policy(bad_code)
    ok = config.from_mapping(
        {"dhcp6": {"links": ["if:eth0=home.example"], "rsoo_codes": [50], "hop_limit": 4}},
        tmp_path,  # type: ignore[arg-type]
    )
    pol = build_policy(ok)
    assert pol.rsoo_codes == {50} and pol.hop_limit == 4
    assert pol.links6.network_for("eth0") == "home.example."


def test_fast_path_echoes_each_client_and_checks_its_duid() -> None:
    r = Responder(POLICY, sample_snapshot())
    first = r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.0)
    assert first is not None
    for i in range(Responder.CACHE_VARIANTS):  # fill the variants so the fast path applies
        r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.0 + i / 1000)
    assert r._shapes, "the request shape was learned"
    duid = wire6.Duid.ll(1, bytes.fromhex("02000000beef"))
    other = wire6.encode_message(
        wire6.ClientServerMessage(
            wire6.INFORMATION_REQUEST,
            0x010203,
            (
                wire6.ClientId(duid),
                wire6.Hnidf("home.example."),
                wire6.OptionRequest((50, 69, 70)),
                wire6.ElapsedTime(300),
            ),
        )
    )
    out = r.handle6(other, "fe80::2", ON_ETH0, NOW, 1.1)
    assert out is not None
    slow = Responder(POLICY, sample_snapshot()).handle6(other, "fe80::2", ON_ETH0, NOW, 1.1)
    assert slow is not None and out.payload == slow.payload
    reply = wire6.decode_message(out.payload)
    assert reply.options[0] == wire6.ClientId(duid) and reply.xid == 0x010203  # type: ignore[union-attr]
    # same shape, but a DUID-UUID of 8 octets (must be 16): the full decoder drops it
    bad = other.replace(duid.raw, b"\x00\x04" + duid.raw[2:])
    assert r.handle6(bad, "fe80::3", ON_ETH0, NOW, 1.2) is None


def test_drops_are_counted_by_reason_in_prometheus() -> None:
    from prometheus_client import REGISTRY

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    r = Responder(POLICY, sample_snapshot())
    before_trunc = value("mip6bs_dhcp_dropped_total", family="6", reason="truncated")
    before_uni = value("mip6bs_dhcp_dropped_total", family="6", reason="unicast_destination")
    before_replies = value("mip6bs_dhcp_replies_total", family="6")
    assert r.handle6(b"\x0b\x00", "fe80::1", ON_ETH0, NOW, 1.0) is None
    assert r.handle6(REQ, "2001:db8::1", Arrival("eth0", False), NOW, 1.0) is None
    assert r.handle6(REQ, "fe80::1", ON_ETH0, NOW, 1.0) is not None
    assert value("mip6bs_dhcp_dropped_total", family="6", reason="truncated") == before_trunc + 1
    assert (
        value("mip6bs_dhcp_dropped_total", family="6", reason="unicast_destination")
        == before_uni + 1
    )
    assert value("mip6bs_dhcp_replies_total", family="6") == before_replies + 1


def test_inform_is_answered_only_at_the_address_it_came_from() -> None:
    """Issue 14: DHCPINFORM replies went to whatever ciaddr the datagram named."""
    frame = inform(wire4.ParameterRequestList((1, 68)))  # ciaddr 192.0.2.100, direct
    arrival = Arrival("eth9", False, ip.IPv4Address("192.0.2.1"))
    view, rng = HomeView(sample_snapshot()), random.Random(1)
    ok = policy.answer4(frame, arrival, view, POLICY, NOW, rng, ip.IPv4Address("192.0.2.100"))
    assert isinstance(ok, Reply4) and str(ok.destination) == "192.0.2.100"
    for forged in ("34.0.2.100", "0.0.0.169", "192.0.2.101"):
        got = policy.answer4(frame, arrival, view, POLICY, NOW, rng, ip.IPv4Address(forged))
        assert got == Drop(policy.SPOOFED), forged
    for target in ("255.255.255.255", "224.0.0.1", "239.1.2.3"):
        got = policy.answer4(inform(wire4.ParameterRequestList((1, 68)), ciaddr=target),
                             arrival, view, POLICY, NOW, rng, None)
        assert got == Drop(policy.SPOOFED), target


def test_relayed_inform_needs_giaddr_from_the_relay_or_a_bound_link() -> None:
    frame = inform(wire4.ParameterRequestList((1, 68)), giaddr="198.51.100.1")
    arrival = Arrival("eth9", False, ip.IPv4Address("192.0.2.1"))
    view, rng = HomeView(sample_snapshot()), random.Random(1)
    unbound = dataclasses.replace(POLICY, links4=LinkBindings({}, {}, ()))
    relay = ip.IPv4Address("198.51.100.1")
    got = policy.answer4(frame, arrival, view, unbound, NOW, rng, relay)
    assert isinstance(got, Reply4) and (str(got.destination), got.port) == ("198.51.100.1", 67)
    other = ip.IPv4Address("203.0.113.9")
    assert policy.answer4(frame, arrival, view, unbound, NOW, rng, other) == Drop(policy.SPOOFED)
    bound = dataclasses.replace(
        POLICY, links4=LinkBindings.parse(["198.51.100.0/24=home.example"], "[dhcp4] links")
    )
    assert isinstance(policy.answer4(frame, arrival, view, bound, NOW, rng, other), Reply4)
