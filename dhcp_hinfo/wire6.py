"""DHCPv6 wire format (RFC 8415 subset + RFC 6610 + RFC 6422 RSOO), sans-IO.

Every option is a frozen class with ``code``, ``data()`` (the payload) and a
``from_data`` class method; :data:`REGISTRY` maps wire codes to classes and
anything not in it becomes :class:`Unknown`, whose bytes round-trip
unchanged.  Decoders raise only :class:`~dhcp_hinfo.errors.MalformedPacket`.

Option 49 carries two layouts in the wild: RFC 6610's HNIDF (one FQDN) and
draft-ietf-mip6-hiopt's id-type byte plus 2/2 TLVs.  :func:`_decode_49`
prefers the RFC reading and falls back to :class:`DraftHomeInfo`.
"""

from __future__ import annotations

import ipaddress
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from . import names
from .errors import BAD_VALUE, NESTING, OVERRUN, OVERSIZE, TRUNCATED, MalformedPacket

# Message types (RFC 8415 §7.3).
SOLICIT, ADVERTISE, REQUEST, CONFIRM, RENEW, REBIND, REPLY = 1, 2, 3, 4, 5, 6, 7
RELEASE, DECLINE, RECONFIGURE = 8, 9, 10
INFORMATION_REQUEST, RELAY_FORW, RELAY_REPL = 11, 12, 13

# Option codes.
CLIENTID, SERVERID, IA_NA, IA_TA, ORO, ELAPSED_TIME, RELAY_MSG = 1, 2, 3, 4, 6, 8, 9
STATUS_CODE, INTERFACE_ID, IA_PD, INFORMATION_REFRESH_TIME, RSOO = 13, 18, 25, 32, 66
HNIDF, VDINF, IDINF, UDINF, HNP, HAA, HAF = 49, 50, 69, 70, 71, 72, 73

CONTAINERS = frozenset({VDINF, IDINF, UDINF})
SUB_OPTIONS = frozenset({HNIDF, HNP, HAA, HAF})

MAX_MESSAGE = 8192
"""Largest message we decode; a stateless request is a few hundred octets."""
MAX_DEPTH = 32
"""Relay nesting the decoder follows; the policy's hop limit is stricter."""

_HDR = struct.Struct("!HH")
_RELAY_HDR = 34


class Option(ABC):
    """Base of every DHCPv6 option."""

    __slots__ = ()
    code: int

    @abstractmethod
    def data(self) -> bytes:
        """The option's payload (without the code/length header)."""

    def encode(self) -> bytes:
        payload = self.data()
        return _HDR.pack(self.code, len(payload)) + payload


# --- DUIDs (RFC 8415 §11; RFC 6355) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Duid:
    """A DUID: opaque for policy (compare ``raw``), typed for display and tests."""

    raw: bytes

    @property
    def duid_type(self) -> int:
        return int.from_bytes(self.raw[:2], "big")

    @staticmethod
    def llt(hw_type: int, time: int, lladdr: bytes) -> Duid:
        return Duid(struct.pack("!HHI", 1, hw_type, time) + lladdr)

    @staticmethod
    def en(enterprise: int, identifier: bytes) -> Duid:
        return Duid(struct.pack("!HI", 2, enterprise) + identifier)

    @staticmethod
    def ll(hw_type: int, lladdr: bytes) -> Duid:
        return Duid(struct.pack("!HH", 3, hw_type) + lladdr)

    @staticmethod
    def uuid(value: bytes) -> Duid:
        if len(value) != 16:
            raise ValueError("a DUID-UUID holds exactly 16 octets")
        return Duid(b"\x00\x04" + value)

    def fields(self) -> dict[str, int | bytes]:
        """The typed fields of the known DUID types (LLT, EN, LL, UUID)."""
        t, body = self.duid_type, self.raw[2:]
        if t == 1:
            hw, time = struct.unpack_from("!HI", body)
            return {"hw_type": hw, "time": time, "lladdr": body[6:]}
        if t == 2:
            return {"enterprise": int.from_bytes(body[:4], "big"), "identifier": body[4:]}
        if t == 3:
            return {"hw_type": int.from_bytes(body[:2], "big"), "lladdr": body[2:]}
        if t == 4:
            return {"uuid": body}
        return {"data": body}

    @staticmethod
    def parse(raw: bytes) -> Duid:
        """Check the length rules of RFC 8415 §11 and the known types' minimum sizes."""
        if not 3 <= len(raw) <= 130:
            raise MalformedPacket(BAD_VALUE, f"DUID of {len(raw)} octets (allowed 3..130)")
        t = int.from_bytes(raw[:2], "big")
        minimum = {1: 8, 2: 7, 3: 5}.get(t, 3)
        if len(raw) < minimum or (t == 4 and len(raw) != 18):
            raise MalformedPacket(BAD_VALUE, f"DUID type {t} of {len(raw)} octets is too short")
        return Duid(raw)


# --- Options -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unknown(Option):
    """Any option we do not model: kept as raw bytes, re-encoded unchanged."""

    code: int
    raw: bytes

    def data(self) -> bytes:
        return self.raw


@dataclass(frozen=True, slots=True)
class ClientId(Option):
    duid: Duid
    code: int = field(default=CLIENTID, init=False, repr=False)

    def data(self) -> bytes:
        return self.duid.raw

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> ClientId:
        return cls(Duid.parse(data))


@dataclass(frozen=True, slots=True)
class ServerId(Option):
    duid: Duid
    code: int = field(default=SERVERID, init=False, repr=False)

    def data(self) -> bytes:
        return self.duid.raw

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> ServerId:
        return cls(Duid.parse(data))


@dataclass(frozen=True, slots=True)
class OptionRequest(Option):
    codes: tuple[int, ...]
    code: int = field(default=ORO, init=False, repr=False)

    def data(self) -> bytes:
        return struct.pack(f"!{len(self.codes)}H", *self.codes)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> OptionRequest:
        if len(data) % 2:
            raise MalformedPacket(BAD_VALUE, "option request list has an odd length")
        return cls(struct.unpack(f"!{len(data) // 2}H", data))


@dataclass(frozen=True, slots=True)
class ElapsedTime(Option):
    centiseconds: int
    code: int = field(default=ELAPSED_TIME, init=False, repr=False)

    def data(self) -> bytes:
        return struct.pack("!H", self.centiseconds)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> ElapsedTime:
        if len(data) != 2:
            raise MalformedPacket(BAD_VALUE, "elapsed time must be 2 octets")
        return cls(int.from_bytes(data, "big"))


@dataclass(frozen=True, slots=True)
class StatusCode(Option):
    status: int
    message: str = ""
    code: int = field(default=STATUS_CODE, init=False, repr=False)

    def data(self) -> bytes:
        return struct.pack("!H", self.status) + self.message.encode("utf-8")

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> StatusCode:
        if len(data) < 2:
            raise MalformedPacket(BAD_VALUE, "status code shorter than 2 octets")
        try:
            text = data[2:].decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPacket(BAD_VALUE, "status message is not UTF-8") from None
        return cls(int.from_bytes(data[:2], "big"), text)


@dataclass(frozen=True, slots=True)
class InterfaceId(Option):
    value: bytes
    code: int = field(default=INTERFACE_ID, init=False, repr=False)

    def data(self) -> bytes:
        return self.value

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> InterfaceId:
        return cls(data)


@dataclass(frozen=True, slots=True)
class InformationRefreshTime(Option):
    seconds: int
    code: int = field(default=INFORMATION_REFRESH_TIME, init=False, repr=False)

    def data(self) -> bytes:
        return struct.pack("!I", self.seconds)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> InformationRefreshTime:
        if len(data) != 4:
            raise MalformedPacket(BAD_VALUE, "information refresh time must be 4 octets")
        return cls(int.from_bytes(data, "big"))


@dataclass(frozen=True, slots=True)
class Hnidf(Option):
    """RFC 6610 Home Network Identifier FQDN; ``name`` is absolute text ("home.example.")."""

    name: str
    code: int = field(default=HNIDF, init=False, repr=False)

    def data(self) -> bytes:
        return names.to_wire(self.name)


@dataclass(frozen=True, slots=True)
class DraftHomeInfo(Option):
    """Option 49 in draft-ietf-mip6-hiopt layout: id-type + (code 2, len 2) sub-options.

    id-type 0 = visited domain, 1 = the network named by sub-option 1, 2 = no
    preference (protocols digest §1.6).
    """

    id_type: int
    suboptions: tuple[tuple[int, bytes], ...] = ()
    code: int = field(default=HNIDF, init=False, repr=False)

    def data(self) -> bytes:
        out = bytearray([self.id_type])
        for sub, value in self.suboptions:
            out += _HDR.pack(sub, len(value)) + value
        return bytes(out)

    @property
    def home_network(self) -> str | None:
        """The home network identifier (sub-option 1) as a name, if present and readable."""
        for sub, value in self.suboptions:
            if sub == 1:
                if names.is_single_name(value):
                    return names.from_wire(value)
                try:
                    return names.canonical(value.decode("ascii"))
                except UnicodeDecodeError:
                    return None
        return None


def _draft_suboptions(data: bytes) -> tuple[tuple[int, bytes], ...] | None:
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 4:
            return None
        sub, length = _HDR.unpack_from(data, i)
        i += 4
        if i + length > len(data):
            return None
        out.append((sub, data[i : i + length]))
        i += length
    return tuple(out)


def _decode_49(data: bytes, depth: int) -> Hnidf | DraftHomeInfo:
    if names.is_single_name(data):
        return Hnidf(names.from_wire(data))
    if data and data[0] in (0, 1, 2):
        subs = _draft_suboptions(data[1:])
        if subs is not None:
            return DraftHomeInfo(data[0], subs)
    raise MalformedPacket(BAD_VALUE, "option 49 is neither an RFC 6610 FQDN nor the draft layout")


@dataclass(frozen=True, slots=True)
class Hnp(Option):
    """Home Network Prefix: prefix-len + 16-octet prefix (decoded leniently when shorter)."""

    prefix: ipaddress.IPv6Network
    code: int = field(default=HNP, init=False, repr=False)

    def data(self) -> bytes:
        return bytes([self.prefix.prefixlen]) + self.prefix.network_address.packed

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Hnp:
        if not data or data[0] > 128:
            raise MalformedPacket(BAD_VALUE, "home network prefix length missing or above 128")
        plen = data[0]
        if not 1 + (plen + 7) // 8 <= len(data) <= 17:
            raise MalformedPacket(BAD_VALUE, f"home network prefix of {len(data)} octets")
        addr = data[1:].ljust(16, b"\x00")
        return cls(ipaddress.IPv6Network((addr, plen), strict=False))


@dataclass(frozen=True, slots=True)
class Haa(Option):
    address: ipaddress.IPv6Address
    code: int = field(default=HAA, init=False, repr=False)

    def data(self) -> bytes:
        return self.address.packed

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Haa:
        if len(data) != 16:
            raise MalformedPacket(BAD_VALUE, "home agent address must be 16 octets")
        return cls(ipaddress.IPv6Address(data))


@dataclass(frozen=True, slots=True)
class Haf(Option):
    name: str
    code: int = field(default=HAF, init=False, repr=False)

    def data(self) -> bytes:
        return names.to_wire(self.name)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Haf:
        return cls(names.from_wire(data))


@dataclass(frozen=True, slots=True)
class _Container(Option):
    """Options that hold other options (RFC 6610 containers, RSOO)."""

    options: tuple[Option, ...] = ()

    def data(self) -> bytes:
        return b"".join(o.encode() for o in self.options)

    def find(self, kind: type[Option]) -> list[Option]:
        return [o for o in self.options if isinstance(o, kind)]


@dataclass(frozen=True, slots=True)
class Vdinf(_Container):
    code: int = field(default=VDINF, init=False, repr=False)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Vdinf:
        return cls(decode_options(data, depth, VDINF))


@dataclass(frozen=True, slots=True)
class Idinf(_Container):
    code: int = field(default=IDINF, init=False, repr=False)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Idinf:
        return cls(decode_options(data, depth, IDINF))


@dataclass(frozen=True, slots=True)
class Udinf(_Container):
    code: int = field(default=UDINF, init=False, repr=False)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Udinf:
        return cls(decode_options(data, depth, UDINF))


@dataclass(frozen=True, slots=True)
class Rsoo(_Container):
    """RFC 6422 Relay-Supplied Options option: options a relay offers the server."""

    code: int = field(default=RSOO, init=False, repr=False)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> Rsoo:
        return cls(decode_options(data, depth, RSOO))


@dataclass(frozen=True, slots=True)
class RelayMsg(Option):
    message: Message
    code: int = field(default=RELAY_MSG, init=False, repr=False)

    def data(self) -> bytes:
        return encode_message(self.message)

    @classmethod
    def from_data(cls, data: bytes, depth: int) -> RelayMsg:
        return cls(decode_message(data, depth + 1))


# --- Messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientServerMessage:
    """Any non-relay message: type, 24-bit transaction id, options."""

    msg_type: int
    xid: int
    options: tuple[Option, ...] = ()

    def get(self, code: int) -> list[Option]:
        return [o for o in self.options if o.code == code]


@dataclass(frozen=True, slots=True)
class RelayMessage:
    """Relay-forward / Relay-reply (RFC 8415 §9)."""

    msg_type: int
    hop_count: int
    link_address: ipaddress.IPv6Address
    peer_address: ipaddress.IPv6Address
    options: tuple[Option, ...] = field(default=())

    def get(self, code: int) -> list[Option]:
        return [o for o in self.options if o.code == code]

    @property
    def inner(self) -> Message:
        for o in self.options:
            if isinstance(o, RelayMsg):
                return o.message
        raise MalformedPacket(NESTING, "relay message without a Relay Message option")


Message = ClientServerMessage | RelayMessage

# Where container-like options may appear; anything else inside them is bad nesting.
_NOT_INSIDE: dict[int, frozenset[int]] = {
    VDINF: frozenset({VDINF, IDINF, UDINF, RSOO, RELAY_MSG}),
    IDINF: frozenset({VDINF, IDINF, UDINF, RSOO, RELAY_MSG}),
    UDINF: frozenset({VDINF, IDINF, UDINF, RSOO, RELAY_MSG}),
    RSOO: frozenset({RSOO, RELAY_MSG}),
}

_Decoder = Callable[[bytes, int], Option]
REGISTRY: dict[int, _Decoder] = {
    CLIENTID: ClientId.from_data,
    SERVERID: ServerId.from_data,
    ORO: OptionRequest.from_data,
    ELAPSED_TIME: ElapsedTime.from_data,
    RELAY_MSG: RelayMsg.from_data,
    STATUS_CODE: StatusCode.from_data,
    INTERFACE_ID: InterfaceId.from_data,
    INFORMATION_REFRESH_TIME: InformationRefreshTime.from_data,
    RSOO: Rsoo.from_data,
    HNIDF: _decode_49,
    VDINF: Vdinf.from_data,
    IDINF: Idinf.from_data,
    UDINF: Udinf.from_data,
    HNP: Hnp.from_data,
    HAA: Haa.from_data,
    HAF: Haf.from_data,
}
"""Wire code -> decoder of the option class; codes not listed decode to :class:`Unknown`."""


def decode_options(data: bytes, depth: int = 0, inside: int = 0) -> tuple[Option, ...]:
    """Decode a run of options filling ``data``; ``inside`` is the enclosing option code."""
    out: list[Option] = []
    forbidden = _NOT_INSIDE.get(inside, frozenset())
    i, n = 0, len(data)
    while i < n:
        if n - i < 4:
            raise MalformedPacket(TRUNCATED, f"option header cut off at offset {i}")
        code, length = _HDR.unpack_from(data, i)
        i += 4
        if length > n - i:
            raise MalformedPacket(OVERRUN, f"option {code} claims {length} octets, {n - i} left")
        if code in forbidden:
            raise MalformedPacket(NESTING, f"option {code} is not allowed inside option {inside}")
        decoder = REGISTRY.get(code)
        payload = data[i : i + length]
        out.append(Unknown(code, payload) if decoder is None else decoder(payload, depth))
        i += length
    return tuple(out)


def decode_message(data: bytes, depth: int = 0) -> Message:
    """Decode one DHCPv6 message (UDP payload); raises :class:`MalformedPacket` only."""
    if len(data) > MAX_MESSAGE:
        raise MalformedPacket(OVERSIZE, f"message of {len(data)} octets (limit {MAX_MESSAGE})")
    if depth > MAX_DEPTH:
        raise MalformedPacket(NESTING, f"relay messages nested deeper than {MAX_DEPTH}")
    if len(data) < 4:
        raise MalformedPacket(TRUNCATED, "message shorter than its 4-octet header")
    msg_type = data[0]
    if msg_type in (RELAY_FORW, RELAY_REPL):
        if len(data) < _RELAY_HDR:
            raise MalformedPacket(TRUNCATED, "relay message shorter than its 34-octet header")
        opts = decode_options(data[_RELAY_HDR:], depth, RELAY_FORW)
        if sum(1 for o in opts if o.code == RELAY_MSG) != 1:
            raise MalformedPacket(NESTING, "relay message must hold exactly one Relay Message")
        return RelayMessage(
            msg_type,
            data[1],
            ipaddress.IPv6Address(data[2:18]),
            ipaddress.IPv6Address(data[18:34]),
            opts,
        )
    opts = decode_options(data[4:], depth, 0)
    if any(o.code == RELAY_MSG for o in opts):
        raise MalformedPacket(NESTING, "Relay Message option outside a relay message")
    return ClientServerMessage(msg_type, int.from_bytes(data[1:4], "big"), opts)


def encode_message(msg: Message) -> bytes:
    """The wire form of ``msg``."""
    body = b"".join(o.encode() for o in msg.options)
    if isinstance(msg, RelayMessage):
        return (
            bytes([msg.msg_type, msg.hop_count])
            + msg.link_address.packed
            + msg.peer_address.packed
            + body
        )
    return bytes([msg.msg_type]) + msg.xid.to_bytes(3, "big") + body
