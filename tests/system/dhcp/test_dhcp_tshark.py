"""Our replies read back by an outside reader: tshark dissects what the policy answers."""

from __future__ import annotations

import ipaddress as ip
import random
from pathlib import Path

from bootstrap.domain import Snapshot
from dhcp_hinfo import policy, wire4, wire6
from dhcp_hinfo.links import LinkBindings
from tests.support.dhcp import NOW, tshark_fields, vector


def _answer(req: bytes, snapshot: Snapshot) -> wire6.Message:
    pol = policy.Policy(links6=LinkBindings.parse(["ifid:dhcplab-r0=visited.example"], "t"))
    got = policy.answer6(
        wire6.decode_message(req),
        policy.Arrival("eth0"),
        policy.HomeView(snapshot),
        pol,
        NOW,
        random.Random(1),
    )
    assert isinstance(got, policy.Reply6)
    return got.message


def test_our_reply_reads_back_in_our_decoder_and_tshark(snapshot: Snapshot, tmp_path: Path) -> None:
    reply = wire6.encode_message(_answer(vector("v6-direct-request"), snapshot))
    again = wire6.decode_message(reply)
    assert wire6.encode_message(again) == reply
    msgtype, types = tshark_fields(reply, 6, ["dhcpv6.msgtype", "dhcpv6.option.type"], tmp_path)
    assert msgtype == "7"
    assert types.split(",") == ["1", "2", "69", "70"]  # no link binding for eth0 -> no VDINF


def test_our_relay_reply_reads_back_in_tshark(snapshot: Snapshot, tmp_path: Path) -> None:
    reply = wire6.encode_message(_answer(vector("v6-relay-request"), snapshot))
    msgtypes, link, types = tshark_fields(
        reply, 6, ["dhcpv6.msgtype", "dhcpv6.linkaddr", "dhcpv6.option.type"], tmp_path
    )
    assert msgtypes.split(",") == ["13", "7"]
    assert link == "2001:db8:2::1"
    assert types.split(",")[:2] == ["18", "9"]  # Interface-Id echoed, then Relay Message
    assert {"50", "69", "70"} <= set(types.split(","))


def test_our_dhcpack_reads_back_in_tshark(snapshot: Snapshot, tmp_path: Path) -> None:
    got = policy.answer4(
        wire4.decode(vector("v4-inform-prl1-3-68-request")),
        policy.Arrival("eth0", local_address=ip.IPv4Address("192.0.2.1")),
        policy.HomeView(snapshot),
        policy.Policy(),
        NOW,
        random.Random(1),
    )
    assert isinstance(got, policy.Reply4)
    payload = wire4.encode(got.frame)
    assert len(payload) == 300
    mtype, ha, server = tshark_fields(
        payload,
        4,
        ["dhcp.option.dhcp", "dhcp.option.mobile_ip_home_agent", "dhcp.option.dhcp_server_id"],
        tmp_path,
    )
    assert mtype == "5"
    assert server == "192.0.2.1"
    # live HAs with IPv4 addresses, best first: priority 10 (home) before 20 (visited);
    # the draining ha2.home.example (192.0.2.11) is not named
    assert ha == "192.0.2.10,192.0.2.12"
