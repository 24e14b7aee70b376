"""Codec tests from the Kea-captured byte vectors and bad input (tshark reads ours in
tests/system/dhcp/test_dhcp_tshark.py)."""

from __future__ import annotations

import ipaddress as ip

import pytest

from dhcp_hinfo import errors, wire4, wire6
from dhcp_hinfo.errors import MalformedPacket
from tests.support.dhcp import VECTORS, vector


def test_every_lab_vector_decodes_and_reencodes_byte_for_byte() -> None:
    files = sorted(VECTORS.glob("*.hex"))
    assert len(files) >= 15
    for f in files:
        data = bytes.fromhex(f.read_text().strip())
        if f.name.startswith("v6-"):
            assert wire6.encode_message(wire6.decode_message(data)) == data, f.name
        else:
            assert wire4.encode(wire4.decode(data), pad_to=0) == data, f.name


def test_kea_reply_decodes_to_the_configured_home_information() -> None:
    msg = wire6.decode_message(vector("v6-direct-reply"))
    assert isinstance(msg, wire6.ClientServerMessage)
    assert (msg.msg_type, msg.xid) == (wire6.REPLY, 0x4D4950)
    client, server, vd, idf, ud = msg.options
    assert isinstance(client, wire6.ClientId)
    assert client.duid.fields() == {"hw_type": 1, "lladdr": bytes.fromhex("02000000db64")}
    assert isinstance(server, wire6.ServerId)
    assert server.duid.fields() == {"enterprise": 2495, "identifier": bytes(range(1, 9))}
    assert vd == wire6.Vdinf(
        (
            wire6.Hnp(ip.IPv6Network("2001:db8:100::/64")),
            wire6.Haa(ip.IPv6Address("2001:db8:100::1")),
            wire6.Haf("ha1.visited.example."),
        )
    )
    assert isinstance(idf, wire6.Idinf)
    assert idf.options[1] == wire6.Haa(ip.IPv6Address("2001:db8:200::1"))
    assert idf.options[2] == wire6.Haf("ha.home.example.")
    assert ud == wire6.Udinf((wire6.Haa(ip.IPv6Address("2001:db8:300::1")),))


def test_kea_request_vectors_decode() -> None:
    req = wire6.decode_message(vector("v6-direct-request"))
    assert isinstance(req, wire6.ClientServerMessage)
    assert req.msg_type == wire6.INFORMATION_REQUEST
    assert wire6.Hnidf("home.example.") in req.options
    assert wire6.OptionRequest((50, 69, 70)) in req.options
    relay = wire6.decode_message(vector("v6-relay-rsoo-request"))
    assert isinstance(relay, wire6.RelayMessage)
    assert relay.link_address == ip.IPv6Address("2001:db8:2::1")
    assert relay.peer_address == ip.IPv6Address("fe80::ff:fe00:db64")
    assert wire6.InterfaceId(b"dhcplab-r0") in relay.options
    rsoo = relay.get(wire6.RSOO)[0]
    assert isinstance(rsoo, wire6.Rsoo)
    assert rsoo.options[0] == wire6.Vdinf(
        (
            wire6.Hnp(ip.IPv6Network("2001:db8:aaa::/48")),
            wire6.Haa(ip.IPv6Address("2001:db8:aaa::1")),
        )
    )
    # IA_NA of the Solicit is not modelled: kept raw, re-encoded unchanged
    sol = wire6.decode_message(vector("v6-solicit-request"))
    assert sol.options[1] == wire6.Unknown(3, bytes.fromhex("000000010000000000000000"))


def test_kea_dhcpv4_vectors_decode() -> None:
    req = wire4.decode(vector("v4-inform-prl1-3-68-request"))
    assert req.message_type == wire4.INFORM
    assert req.ciaddr == ip.IPv4Address("192.0.2.100")
    assert req.requested == (1, 3, 68)
    ack = wire4.decode(vector("v4-inform-prl1-3-68-reply"))
    assert ack.message_type == wire4.ACK
    assert ack.get(68) == wire4.MobileIpHomeAgent(
        (ip.IPv4Address("192.0.2.10"), ip.IPv4Address("192.0.2.11"))
    )


def _opt(code: int, data: bytes) -> bytes:
    return code.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x0b\x00\x00", errors.TRUNCATED),
        (b"\x0b\x00\x00\x01\x00\x06\x00", errors.TRUNCATED),
        (b"\x0b\x00\x00\x01" + _opt(6, b"\x00\x32")[:-1], errors.OVERRUN),
        (b"\x0b\x00\x00\x01\x00\x06\x00\x09\x00\x32", errors.OVERRUN),
        (b"\x0b\x00\x00\x01" + _opt(6, b"\x00\x32\x00"), errors.BAD_VALUE),
        (b"\x0b\x00\x00\x01" + _opt(1, b"\x00"), errors.BAD_VALUE),
        (b"\x0b\x00\x00\x01" + _opt(49, b"\x04home\xc0\x0c"), errors.BAD_VALUE),
        (b"\x0b\x00\x00\x01" + _opt(72, b"\x20\x01"), errors.BAD_VALUE),
        (b"\x0b\x00\x00\x01" + _opt(71, b"\x81" + bytes(16)), errors.BAD_VALUE),
        (b"\x0b\x00\x00\x01" + _opt(9, b"\x0b\x00\x00\x01"), errors.NESTING),
        (b"\x0b\x00\x00\x01" + _opt(50, _opt(50, b"")), errors.NESTING),
        (b"\x0c\x00" + bytes(32), errors.NESTING),
        (b"\x0c\x00" + bytes(31), errors.TRUNCATED),
        (b"\x0b\x00\x00\x01" + _opt(99, bytes(9000)), errors.OVERSIZE),
    ],
)
def test_malformed_dhcpv6_is_a_typed_error(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedPacket) as caught:
        wire6.decode_message(data)
    assert caught.value.reason == reason


def test_relay_nesting_deeper_than_the_limit_is_refused() -> None:
    msg = b"\x0b\x00\x00\x01"
    for _ in range(wire6.MAX_DEPTH + 2):
        msg = b"\x0c\x00" + bytes(32) + _opt(9, msg)
    with pytest.raises(MalformedPacket) as caught:
        wire6.decode_message(msg)
    assert caught.value.reason == errors.NESTING


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: b[:200], errors.TRUNCATED),
        (lambda b: b[:236] + b"\x00\x00\x00\x00" + b[240:], errors.BAD_VALUE),
        (lambda b: b[:-1] + b"\x37\x09\x01", errors.OVERRUN),
        (lambda b: b[:-1], errors.TRUNCATED),
        (lambda b: b + bytes(5000), errors.OVERSIZE),
        (lambda b: b[:240] + b"\x44\x03\x01\x02\x03\xff", errors.BAD_VALUE),
    ],
)
def test_malformed_dhcpv4_is_a_typed_error(mutate: object, reason: str) -> None:
    data = vector("v4-inform-prl1-3-68-request")
    with pytest.raises(MalformedPacket) as caught:
        wire4.decode(mutate(data))  # type: ignore[operator]
    assert caught.value.reason == reason


def test_option_overload_and_split_options_are_joined() -> None:
    base = bytearray(vector("v4-inform-prl1-3-68-request")[:240])
    # the file field (offset 108) carries option 68 in two instances (RFC 3396 concatenation)
    base[108:121] = b"\x44\x04\xc0\x00\x02\x0a\x44\x04\xc0\x00\x02\x0b\xff"
    frame = wire4.decode(bytes(base) + b"\x35\x01\x08\x34\x01\x01\xff")
    assert frame.message_type == wire4.INFORM
    assert frame.get(68) == wire4.MobileIpHomeAgent(
        (ip.IPv4Address("192.0.2.10"), ip.IPv4Address("192.0.2.11"))
    )
    assert frame.file == bytes(128)
    long = wire4.Frame(op=1, xid=1, options=(wire4.Unknown4(224, bytes(300)),))
    encoded = wire4.encode(long)
    assert encoded[240:243] == b"\xe0\xff\x00"  # first instance holds 255 octets
    assert wire4.decode(encoded).get(224) == wire4.Unknown4(224, bytes(300))


def test_draft_layout_of_option_49_is_recognised() -> None:
    hnid = b"\x04home\x07example\x00"
    draft = b"\x01" + (1).to_bytes(2, "big") + len(hnid).to_bytes(2, "big") + hnid
    got = wire6.decode_message(b"\x0b\x00\x00\x01" + _opt(49, draft))
    (opt,) = got.options
    assert isinstance(opt, wire6.DraftHomeInfo)
    assert (opt.id_type, opt.home_network) == (1, "home.example.")
    assert opt.encode() == _opt(49, draft)
    plain = wire6.decode_message(b"\x0b\x00\x00\x01" + _opt(49, hnid))
    assert plain.options == (wire6.Hnidf("home.example."),)
