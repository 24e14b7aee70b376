"""The agent's reading of discovery answers, from byte vectors (no network, no root)."""

from __future__ import annotations

import random

from dhcp_hinfo import wire6
from mn_agent import answers

# A Reply Kea 2.2 sent in the DHCP lab (xid 0x4d4950): VDINF for a visited network, IDINF
# for home.example (HAA 2001:db8:200::1, HAF ha.home.example) and UDINF (HAA 2001:db8:300::1).
KEA_REPLY = bytes.fromhex(
    "074d49500001000a0003000102000000db640002000e0002000009bf010203040506070800320042004700"
    "114020010db80100000000000000000000000048001020010db80100000000000000000000010049001503"
    "6861310776697369746564076578616d706c65000045003e004700114020010db802000000000000000000"
    "00000048001020010db80200000000000000000000010049001102686104686f6d65076578616d706c6500"
    "004600140048001020010db8030000000000000000000001"
)
DUID = bytes.fromhex("0003000102000000db64")


def test_request_asks_idinf_for_the_home_domain() -> None:
    raw = answers.information_request(0x123456, DUID, "example.com")
    assert raw[:4] == bytes.fromhex("0b123456")  # Information-request, xid
    msg = wire6.decode_message(raw)
    assert isinstance(msg, wire6.ClientServerMessage)
    assert wire6.OptionRequest((wire6.IDINF,)) in msg.options
    assert wire6.Hnidf("example.com.") in msg.options
    assert wire6.ClientId(wire6.Duid(DUID)) in msg.options
    # ORO 69, then HNIDF "example.com." in wire labels
    assert bytes.fromhex("000600020045") in raw
    assert bytes.fromhex("0031000d076578616d706c6503636f6d00") in raw


def test_request_without_home_domain_asks_udinf() -> None:
    msg = wire6.decode_message(answers.information_request(1, DUID, None))
    assert isinstance(msg, wire6.ClientServerMessage)
    assert wire6.OptionRequest((wire6.UDINF,)) in msg.options
    assert not msg.get(wire6.HNIDF)


def test_kea_reply_gives_the_identified_network_first() -> None:
    got = answers.parse_reply(KEA_REPLY, 0x4D4950)
    assert got == answers.DhcpAnswer(("2001:db8:200::1",), ("ha.home.example",),
                                     "2001:db8:200::/64")


def test_udinf_is_used_when_no_idinf_came() -> None:
    reply = wire6.ClientServerMessage(wire6.REPLY, 7, (
        wire6.Udinf((wire6.Haa(wire6.ipaddress.IPv6Address("2001:db8:1::2")),
                     wire6.Haa(wire6.ipaddress.IPv6Address("2001:db8:1::1")))),))
    got = answers.parse_reply(wire6.encode_message(reply), 7)
    assert got is not None and got.addresses == ("2001:db8:1::2", "2001:db8:1::1")


def test_other_transactions_and_bad_bytes_are_not_answers() -> None:
    assert answers.parse_reply(KEA_REPLY, 0x4D4951) is None
    assert answers.parse_reply(KEA_REPLY[:40], 0x4D4950) is None
    assert answers.parse_reply(b"\x0b" + KEA_REPLY[1:], 0x4D4950) is None  # not a Reply
    assert answers.parse_reply(b"", 0) is None
    empty = wire6.encode_message(wire6.ClientServerMessage(wire6.REPLY, 9, ()))
    assert answers.parse_reply(empty, 9) is None


def test_srv_order_priority_first_then_weighted() -> None:
    recs = [answers.Srv(20, 100, "ha3.example.com."), answers.Srv(10, 0, "ha2.example.com."),
            answers.Srv(10, 100, "ha1.example.com."), answers.Srv(0, 0, ".")]
    seen = {answers.srv_order(recs, random.Random(seed)) for seed in range(200)}
    # priority 10 always before 20; the zero-weight record rarely first
    assert all(order[-1] == "ha3.example.com" for order in seen)
    firsts = [answers.srv_order(recs, random.Random(s))[0] for s in range(200)]
    assert firsts.count("ha1.example.com") > 180
    assert "." not in {t for order in seen for t in order}


def test_addresses_only_keeps_order_and_drops_junk() -> None:
    assert answers.addresses_only(["2001:db8:1:0::2", "x", "2001:db8:1::2", "192.0.2.1",
                                   "2001:db8:1::1"]) == ("2001:db8:1::2", "2001:db8:1::1")
