"""Property tests: every option round-trips; 100,000 fuzzed packets never raise unexpectedly."""

from __future__ import annotations

import contextlib
import ipaddress as ip
import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhcp_hinfo import names, wire4, wire6
from dhcp_hinfo.errors import MalformedPacket
from dhcp_hinfo.links import LinkBindings
from dhcp_hinfo.policy import Arrival, Policy
from dhcp_hinfo.responder import Responder
from tests.support.dhcp import NOW, VECTORS, sample_snapshot

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,18}[a-z0-9])?", fullmatch=True)
domain = st.lists(label, min_size=1, max_size=4).map(lambda ls: ".".join(ls) + ".")
addr6 = st.integers(0, 2**128 - 1).map(ip.IPv6Address)
addr4 = st.integers(0, 2**32 - 1).map(ip.IPv4Address)
prefix6 = st.tuples(addr6, st.integers(0, 128)).map(
    lambda t: ip.IPv6Network((t[0], t[1]), strict=False)
)
duid = st.one_of(
    st.builds(
        wire6.Duid.llt,
        st.integers(0, 65535),
        st.integers(0, 2**32 - 1),
        st.binary(min_size=1, max_size=16),
    ),
    st.builds(wire6.Duid.en, st.integers(0, 2**32 - 1), st.binary(min_size=1, max_size=32)),
    st.builds(wire6.Duid.ll, st.integers(0, 65535), st.binary(min_size=1, max_size=16)),
    st.builds(wire6.Duid.uuid, st.binary(min_size=16, max_size=16)),
    st.builds(
        lambda t, b: wire6.Duid(t.to_bytes(2, "big") + b),
        st.integers(5, 65535),
        st.binary(min_size=1, max_size=128),
    ),
)
unknown_code = st.integers(0, 65535).filter(lambda c: c not in wire6.REGISTRY)
unknown6 = st.builds(wire6.Unknown, unknown_code, st.binary(max_size=40))
sub_option = st.one_of(
    st.builds(wire6.Hnp, prefix6),
    st.builds(wire6.Haa, addr6),
    st.builds(wire6.Haf, domain),
    st.builds(wire6.Hnidf, domain),
    unknown6,
)
containers = st.one_of(
    st.builds(wire6.Vdinf, st.lists(sub_option, max_size=5).map(tuple)),
    st.builds(wire6.Idinf, st.lists(sub_option, max_size=5).map(tuple)),
    st.builds(wire6.Udinf, st.lists(sub_option, max_size=5).map(tuple)),
)
draft = st.builds(
    wire6.DraftHomeInfo,
    st.integers(0, 2),
    st.lists(st.tuples(st.integers(0, 65535), st.binary(max_size=20)), max_size=3).map(tuple),
)
top_option = st.one_of(
    st.builds(wire6.ClientId, duid),
    st.builds(wire6.ServerId, duid),
    st.builds(wire6.OptionRequest, st.lists(st.integers(0, 65535), max_size=8).map(tuple)),
    st.builds(wire6.ElapsedTime, st.integers(0, 65535)),
    st.builds(wire6.StatusCode, st.integers(0, 65535), st.text(max_size=20)),
    st.builds(wire6.InterfaceId, st.binary(max_size=20)),
    st.builds(wire6.InformationRefreshTime, st.integers(0, 2**32 - 1)),
    st.builds(wire6.Hnidf, domain),
    st.builds(wire6.Rsoo, st.lists(containers, max_size=3).map(tuple)),
    containers,
    sub_option,
    unknown6,
)
client_message = st.builds(
    wire6.ClientServerMessage,
    st.integers(0, 255).filter(lambda t: t not in (wire6.RELAY_FORW, wire6.RELAY_REPL)),
    st.integers(0, 2**24 - 1),
    st.lists(top_option, max_size=6).map(tuple),
)


def _relay(
    inner: wire6.Message,
    hop: int,
    link: ip.IPv6Address,
    peer: ip.IPv6Address,
    extra: tuple[wire6.Option, ...],
) -> wire6.Message:
    return wire6.RelayMessage(wire6.RELAY_FORW, hop, link, peer, (*extra, wire6.RelayMsg(inner)))


messages = st.recursive(
    client_message,
    lambda inner: st.builds(
        _relay,
        inner,
        st.integers(0, 255),
        addr6,
        addr6,
        st.lists(st.builds(wire6.InterfaceId, st.binary(max_size=10)), max_size=1).map(tuple),
    ),
    max_leaves=4,
)


@settings(max_examples=300, deadline=None)
@given(top_option)
def test_every_option_round_trips(opt: wire6.Option) -> None:
    got = wire6.decode_options(opt.encode())
    assert got == (opt,)


@settings(max_examples=200, deadline=None)
@given(draft)
def test_draft_layout_round_trips_unless_it_reads_as_a_name(opt: wire6.DraftHomeInfo) -> None:
    (got,) = wire6.decode_options(opt.encode())
    if names.is_single_name(opt.data()):
        assert isinstance(got, wire6.Hnidf)  # RFC 6610 reading preferred, as documented
    else:
        assert got == opt


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_messages_round_trip(msg: wire6.Message) -> None:
    data = wire6.encode_message(msg)
    assert wire6.decode_message(data) == msg
    assert wire6.encode_message(wire6.decode_message(data)) == data


v4_unknown_code = st.integers(1, 254).filter(
    lambda c: c not in wire4.REGISTRY and c != wire4.OVERLOAD
)
ds_container = st.builds(
    wire4.DsContainer,
    st.integers(1, 3),
    st.one_of(st.none(), domain),
    st.one_of(
        st.none(),
        st.tuples(addr6, st.integers(0, 128)).map(
            lambda t: ip.IPv6Network((t[0], t[1]), strict=False)
        ),
    ),
    st.lists(addr6, max_size=2).map(tuple),
    st.lists(addr4, max_size=2).map(tuple),
    st.lists(domain, max_size=2).map(tuple),
)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    addr4,
    st.lists(st.integers(0, 255), max_size=10).map(tuple),
    st.lists(addr4, max_size=5).map(tuple),
    st.binary(min_size=2, max_size=20),
    st.binary(max_size=300),
    st.dictionaries(v4_unknown_code, st.binary(max_size=300), max_size=3),
)
def test_dhcpv4_frames_round_trip(
    xid: int,
    ciaddr: ip.IPv4Address,
    prl: tuple[int, ...],
    has: tuple[ip.IPv4Address, ...],
    client: bytes,
    relay_info: bytes,
    unknown: dict[int, bytes],
) -> None:
    opts: list[wire4.Option4] = [
        wire4.MessageType(wire4.INFORM),
        wire4.ParameterRequestList(prl),
        wire4.ClientIdentifier(client),
        wire4.MobileIpHomeAgent(has),
        wire4.ServerIdentifier(ciaddr),
        *(wire4.Unknown4(c, v) for c, v in unknown.items()),
        wire4.RelayAgentInfo(relay_info),
    ]
    frame = wire4.Frame(op=1, xid=xid, ciaddr=ciaddr, chaddr=bytes(range(16)), options=tuple(opts))
    assert wire4.decode(wire4.encode(frame)) == frame


@settings(max_examples=200, deadline=None)
@given(st.integers(224, 254), st.lists(ds_container, max_size=3).map(tuple))
def test_dual_stack_option_round_trips(code: int, conts: tuple[wire4.DsContainer, ...]) -> None:
    opt = wire4.DualStackHomeInfo(code, conts)
    assert wire4.DualStackHomeInfo.decode(code, opt.data()) == opt


# --- fuzzing: decoder + policy, pure loop (fast) ----------------------------------------------


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        if choice == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif choice == 1 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif choice == 2 and b:
            del b[rng.randrange(len(b)) :]
        elif choice == 3:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif choice == 4 and len(b) > 6:
            pos = rng.randrange(len(b) - 1)
            b[pos : pos + 2] = rng.choice(
                [
                    b"\x00\x00",
                    b"\xff\xff",
                    b"\x00\x31",
                    b"\x00\x09",
                    b"\x00\x42",
                    b"\x00\x32",
                    b"\x0c\x00",
                ]
            )
        else:
            pos = rng.randrange(len(b) + 1)
            b[pos:pos] = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def test_fuzz_100k_packets_through_decoder_and_policy() -> None:
    rng = random.Random(6610)
    seeds6 = [bytes.fromhex(f.read_text().strip()) for f in sorted(VECTORS.glob("v6-*.hex"))]
    seeds4 = [bytes.fromhex(f.read_text().strip()) for f in sorted(VECTORS.glob("v4-*.hex"))]
    pol = Policy(
        links6=LinkBindings.parse(
            [
                "if:eth0=visited.example",
                "ifid:dhcplab-r0=home.example",
                "2001:db8:2::/64=fqdn.example",
            ],
            "t",
        ),
        links4=LinkBindings.parse(["if:eth0=visited.example"], "t"),
        rsoo_codes=frozenset({50, 69, 70}),
        allow_unicast=True,
        ds_code=230,
        server_id4=ip.IPv4Address("192.0.2.1"),
    )
    responder = Responder(pol, sample_snapshot(), rng=random.Random(1))
    arrival = Arrival("eth0", True, ip.IPv6Address("ff02::1:2"))
    counts = {"replied": 0, "dropped": 0}
    start = time.monotonic()
    for i in range(100_000):
        kind = i % 10
        if kind < 6:
            data = _mutate(rng, rng.choice(seeds6))
        elif kind < 8:
            data = _mutate(rng, rng.choice(seeds4))
        else:
            data = rng.randbytes(rng.randint(0, 400))
        six = kind < 6 or (kind >= 8 and i % 2 == 0)
        handle = responder.handle6 if six else responder.handle4
        out = handle(data, "fe80::1" if six else "192.0.2.100", arrival, NOW, float(i))
        counts["replied" if out is not None else "dropped"] += 1
        if out is not None:  # whatever we answer must itself be well-formed
            if six:
                wire6.decode_message(out.payload)
            else:
                wire4.decode(out.payload)
    elapsed = time.monotonic() - start
    # (a mutated DHCPINFORM whose ciaddr is no longer its source is dropped, not answered)
    assert counts["replied"] > 4_000 and counts["dropped"] > 20_000, counts
    assert elapsed < 60


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_decoders_raise_only_malformed_packet(data: bytes) -> None:
    for decode in (wire6.decode_message, wire4.decode):
        with contextlib.suppress(MalformedPacket):
            decode(data)
