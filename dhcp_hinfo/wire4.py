"""DHCPv4 wire format (RFC 2131 BOOTP frame, RFC 2132 options), sans-IO.

Options are decoded after RFC 3396 concatenation (an option split over
several instances is one value) and option-overload (52) handling, so every
option appears once, in first-seen order.  Known codes become typed
classes via :data:`REGISTRY`; the rest stay :class:`Unknown4` with their raw
bytes.  The dual-stack home-information option has no IANA code
(draft-xia-mext-hioptv4), so :class:`DualStackHomeInfo` takes its code from
configuration and is built by the policy, not the registry.
"""

from __future__ import annotations

import ipaddress
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from . import names
from .errors import BAD_VALUE, OVERRUN, OVERSIZE, TRUNCATED, MalformedPacket

BOOTREQUEST, BOOTREPLY = 1, 2
MAGIC = b"\x63\x82\x53\x63"
FRAME = 236
MAX_MESSAGE = 4096
MIN_REPLY = 300
"""BOOTP minimum size (RFC 1542 §2.1); replies are padded up to it."""

PAD, END = 0, 255
SUBNET_MASK, SERVER_ID, MESSAGE_TYPE, PRL, OVERLOAD, CLIENT_ID = 1, 54, 53, 55, 52, 61
MOBILE_IP_HOME_AGENT, RELAY_AGENT_INFO = 68, 82

DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM = 1, 2, 3, 4, 5, 6, 7, 8

_FRAME = struct.Struct("!BBBBIHH4s4s4s4s16s64s128s")


class Option4(ABC):
    """Base of every DHCPv4 option."""

    __slots__ = ()
    code: int

    @abstractmethod
    def data(self) -> bytes:
        """The option's payload (without the code/length header)."""


@dataclass(frozen=True, slots=True)
class Unknown4(Option4):
    code: int
    raw: bytes

    def data(self) -> bytes:
        return self.raw


@dataclass(frozen=True, slots=True)
class MessageType(Option4):
    value: int
    code: int = field(default=MESSAGE_TYPE, init=False, repr=False)

    def data(self) -> bytes:
        return bytes([self.value])

    @classmethod
    def from_data(cls, data: bytes) -> MessageType:
        if len(data) != 1:
            raise MalformedPacket(BAD_VALUE, "DHCP message type must be 1 octet")
        return cls(data[0])


@dataclass(frozen=True, slots=True)
class ParameterRequestList(Option4):
    codes: tuple[int, ...]
    code: int = field(default=PRL, init=False, repr=False)

    def data(self) -> bytes:
        return bytes(self.codes)

    @classmethod
    def from_data(cls, data: bytes) -> ParameterRequestList:
        return cls(tuple(data))


@dataclass(frozen=True, slots=True)
class ServerIdentifier(Option4):
    address: ipaddress.IPv4Address
    code: int = field(default=SERVER_ID, init=False, repr=False)

    def data(self) -> bytes:
        return self.address.packed

    @classmethod
    def from_data(cls, data: bytes) -> ServerIdentifier:
        if len(data) != 4:
            raise MalformedPacket(BAD_VALUE, "server identifier must be 4 octets")
        return cls(ipaddress.IPv4Address(data))


@dataclass(frozen=True, slots=True)
class ClientIdentifier(Option4):
    value: bytes
    code: int = field(default=CLIENT_ID, init=False, repr=False)

    def data(self) -> bytes:
        return self.value

    @classmethod
    def from_data(cls, data: bytes) -> ClientIdentifier:
        if len(data) < 2:
            raise MalformedPacket(BAD_VALUE, "client identifier shorter than 2 octets")
        return cls(data)


@dataclass(frozen=True, slots=True)
class MobileIpHomeAgent(Option4):
    """RFC 2132 §8.13: home agents in order of preference; empty = none available."""

    addresses: tuple[ipaddress.IPv4Address, ...]
    code: int = field(default=MOBILE_IP_HOME_AGENT, init=False, repr=False)

    def data(self) -> bytes:
        return b"".join(a.packed for a in self.addresses)

    @classmethod
    def from_data(cls, data: bytes) -> MobileIpHomeAgent:
        if len(data) % 4:
            raise MalformedPacket(BAD_VALUE, "option 68 length is not a multiple of 4")
        return cls(tuple(ipaddress.IPv4Address(data[i : i + 4]) for i in range(0, len(data), 4)))


@dataclass(frozen=True, slots=True)
class RelayAgentInfo(Option4):
    """RFC 3046 option 82: opaque to the server, echoed back whole."""

    raw: bytes
    code: int = field(default=RELAY_AGENT_INFO, init=False, repr=False)

    def data(self) -> bytes:
        return self.raw

    @classmethod
    def from_data(cls, data: bytes) -> RelayAgentInfo:
        return cls(data)


# Dual-stack home information (draft-xia-mext-hioptv4; our payload, experimental):
# containers (1-octet code, 1-octet length) holding sub-options of the same shape.
DS_VISITED, DS_IDENTIFIED, DS_UNRESTRICTED = 1, 2, 3
DS_HNIDF, DS_HNP, DS_HAA6, DS_HAA4, DS_HAF = 1, 2, 3, 4, 5


@dataclass(frozen=True, slots=True)
class DsContainer:
    kind: int
    hnidf: str | None = None
    prefix: ipaddress.IPv6Network | None = None
    ha_addresses6: tuple[ipaddress.IPv6Address, ...] = ()
    ha_addresses4: tuple[ipaddress.IPv4Address, ...] = ()
    ha_names: tuple[str, ...] = ()

    def encode(self) -> bytes:
        subs: list[tuple[int, bytes]] = []
        if self.hnidf is not None:
            subs.append((DS_HNIDF, names.to_wire(self.hnidf)))
        if self.prefix is not None:
            subs.append(
                (DS_HNP, bytes([self.prefix.prefixlen]) + self.prefix.network_address.packed)
            )
        subs += [(DS_HAA6, a.packed) for a in self.ha_addresses6]
        subs += [(DS_HAA4, a.packed) for a in self.ha_addresses4]
        subs += [(DS_HAF, names.to_wire(n)) for n in self.ha_names]
        body = b"".join(bytes([c, len(v)]) + v for c, v in subs)
        if len(body) > 255:
            raise ValueError("dual-stack container longer than 255 octets")
        return bytes([self.kind, len(body)]) + body

    @classmethod
    def decode(cls, kind: int, body: bytes) -> DsContainer:
        hnidf: str | None = None
        prefix: ipaddress.IPv6Network | None = None
        a6: list[ipaddress.IPv6Address] = []
        a4: list[ipaddress.IPv4Address] = []
        hn: list[str] = []
        for code, value in _tlv8(body):
            if code == DS_HNIDF:
                hnidf = names.from_wire(value)
            elif code == DS_HNP:
                if len(value) != 17 or value[0] > 128:
                    raise MalformedPacket(BAD_VALUE, "dual-stack HNP must be 17 octets")
                prefix = ipaddress.IPv6Network((value[1:], value[0]), strict=False)
            elif code == DS_HAA6 and len(value) == 16:
                a6.append(ipaddress.IPv6Address(value))
            elif code == DS_HAA4 and len(value) == 4:
                a4.append(ipaddress.IPv4Address(value))
            elif code == DS_HAF:
                hn.append(names.from_wire(value))
            elif code in (DS_HAA6, DS_HAA4):
                raise MalformedPacket(BAD_VALUE, "dual-stack HA address of the wrong size")
        return cls(kind, hnidf, prefix, tuple(a6), tuple(a4), tuple(hn))


def _tlv8(body: bytes) -> list[tuple[int, bytes]]:
    out = []
    i = 0
    while i < len(body):
        if len(body) - i < 2:
            raise MalformedPacket(TRUNCATED, "dual-stack sub-option header cut off")
        code, length = body[i], body[i + 1]
        i += 2
        if length > len(body) - i:
            raise MalformedPacket(OVERRUN, "dual-stack sub-option overruns its container")
        out.append((code, body[i : i + length]))
        i += length
    return out


@dataclass(frozen=True, slots=True)
class DualStackHomeInfo(Option4):
    """The dual-stack home-information option under a configured site-specific code."""

    code: int
    containers: tuple[DsContainer, ...] = ()

    def data(self) -> bytes:
        return b"".join(c.encode() for c in self.containers)

    @classmethod
    def decode(cls, code: int, data: bytes) -> DualStackHomeInfo:
        return cls(code, tuple(DsContainer.decode(k, v) for k, v in _tlv8(data)))


REGISTRY: dict[int, Callable[[bytes], Option4]] = {
    MESSAGE_TYPE: MessageType.from_data,
    PRL: ParameterRequestList.from_data,
    SERVER_ID: ServerIdentifier.from_data,
    CLIENT_ID: ClientIdentifier.from_data,
    MOBILE_IP_HOME_AGENT: MobileIpHomeAgent.from_data,
    RELAY_AGENT_INFO: RelayAgentInfo.from_data,
}


@dataclass(frozen=True, slots=True)
class Frame:
    """One BOOTP/DHCP message."""

    op: int
    xid: int
    htype: int = 1
    hlen: int = 6
    hops: int = 0
    secs: int = 0
    flags: int = 0
    ciaddr: ipaddress.IPv4Address = ipaddress.IPv4Address(0)
    yiaddr: ipaddress.IPv4Address = ipaddress.IPv4Address(0)
    siaddr: ipaddress.IPv4Address = ipaddress.IPv4Address(0)
    giaddr: ipaddress.IPv4Address = ipaddress.IPv4Address(0)
    chaddr: bytes = bytes(16)
    sname: bytes = bytes(64)
    file: bytes = bytes(128)
    options: tuple[Option4, ...] = ()

    def get(self, code: int) -> Option4 | None:
        for o in self.options:
            if o.code == code:
                return o
        return None

    @property
    def message_type(self) -> int | None:
        o = self.get(MESSAGE_TYPE)
        return o.value if isinstance(o, MessageType) else None

    @property
    def requested(self) -> tuple[int, ...]:
        o = self.get(PRL)
        return o.codes if isinstance(o, ParameterRequestList) else ()


def _raw_options(area: bytes, where: str, out: dict[int, bytearray]) -> None:
    i, n = 0, len(area)
    while i < n:
        code = area[i]
        if code == END:
            return
        if code == PAD:
            i += 1
            continue
        if i + 1 >= n:
            raise MalformedPacket(TRUNCATED, f"option {code} in {where} has no length octet")
        length = area[i + 1]
        i += 2
        if length > n - i:
            raise MalformedPacket(OVERRUN, f"option {code} in {where} overruns the area")
        out.setdefault(code, bytearray()).extend(area[i : i + length])
        i += length
    if where == "options":
        raise MalformedPacket(TRUNCATED, "options field has no end option")


def decode(data: bytes) -> Frame:
    """Decode one BOOTP/DHCP message (UDP payload); raises :class:`MalformedPacket` only."""
    if len(data) > MAX_MESSAGE:
        raise MalformedPacket(OVERSIZE, f"message of {len(data)} octets (limit {MAX_MESSAGE})")
    if len(data) < FRAME + 4:
        raise MalformedPacket(TRUNCATED, "shorter than a BOOTP frame with the magic cookie")
    if data[FRAME : FRAME + 4] != MAGIC:
        raise MalformedPacket(BAD_VALUE, "no DHCP magic cookie")
    f = _FRAME.unpack_from(data)
    if f[2] > 16:
        raise MalformedPacket(BAD_VALUE, "hardware address length above 16")
    raw: dict[int, bytearray] = {}
    _raw_options(data[FRAME + 4 :], "options", raw)
    overload = raw.pop(OVERLOAD, None)
    if overload is not None:
        if len(overload) != 1 or overload[0] not in (1, 2, 3):
            raise MalformedPacket(BAD_VALUE, "option overload must be 1 octet of 1, 2 or 3")
        if overload[0] & 1:
            _raw_options(f[13], "file", raw)
        if overload[0] & 2:
            _raw_options(f[12], "sname", raw)
    options: list[Option4] = []
    for code, value in raw.items():
        decoder = REGISTRY.get(code)
        payload = bytes(value)
        options.append(Unknown4(code, payload) if decoder is None else decoder(payload))
    return Frame(
        op=f[0],
        htype=f[1],
        hlen=f[2],
        hops=f[3],
        xid=f[4],
        secs=f[5],
        flags=f[6],
        ciaddr=ipaddress.IPv4Address(f[7]),
        yiaddr=ipaddress.IPv4Address(f[8]),
        siaddr=ipaddress.IPv4Address(f[9]),
        giaddr=ipaddress.IPv4Address(f[10]),
        chaddr=f[11],
        sname=f[12] if overload is None or not overload[0] & 2 else bytes(64),
        file=f[13] if overload is None or not overload[0] & 1 else bytes(128),
        options=tuple(options),
    )


def _encode_option(code: int, value: bytes) -> bytes:
    """One option, split into 255-octet instances when longer (RFC 3396)."""
    if not value:
        return bytes([code, 0])
    return b"".join(
        bytes([code, len(value[i : i + 255])]) + value[i : i + 255]
        for i in range(0, len(value), 255)
    )


def encode(frame: Frame, pad_to: int = MIN_REPLY) -> bytes:
    """Wire form of ``frame``; option 82 goes last (RFC 3046 §2.2), then END and padding."""
    head = _FRAME.pack(
        frame.op,
        frame.htype,
        frame.hlen,
        frame.hops,
        frame.xid,
        frame.secs,
        frame.flags,
        frame.ciaddr.packed,
        frame.yiaddr.packed,
        frame.siaddr.packed,
        frame.giaddr.packed,
        frame.chaddr.ljust(16, b"\x00")[:16],
        frame.sname.ljust(64, b"\x00")[:64],
        frame.file.ljust(128, b"\x00")[:128],
    )
    ordered = [o for o in frame.options if o.code != RELAY_AGENT_INFO]
    ordered += [o for o in frame.options if o.code == RELAY_AGENT_INFO]
    body = b"".join(_encode_option(o.code, o.data()) for o in ordered)
    out = head + MAGIC + body + bytes([END])
    return out.ljust(pad_to, b"\x00")
