"""RFC 2136 UPDATE messages built straight into wire format (pure, no I/O).

dnspython's text API costs 140-270 us of client CPU per record (measured on
the 2-vCPU test VM, see README.md "Measured"), which made the Python client,
not named, the bottleneck.  The records we publish are few simple types
(AAAA, A, PTR, SRV), so they are encoded here with ``struct``/``ipaddress``
and owner names compressed against the zone name; any other type falls back
to dnspython's rdata codec.  The
TSIG signature is computed by :func:`dns.tsig.sign` (RFC 8945) and the reply
is parsed and verified by :func:`dns.message.from_wire`; only the framing of
the TSIG RR is written here.

Each :class:`Change` replaces a whole RRset (delete RRset by type, then add
every rdata; no rdata = delete only), so resending any message is harmless.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.tsig

from bootstrap.domain import absolute_name

MAX_MESSAGE = 65535
"""DNS message size limit over TCP (two-byte length prefix)."""
SIZE_BUDGET = 60000
"""Body bytes we allow before closing a batch, leaving room for the TSIG RR."""
TSIG_FUDGE = 300
"""Seconds of clock skew the server tolerates (RFC 8945 §5.2.3, BIND's default)."""

_CLASS_IN = 1
_CLASS_NONE = 254
_CLASS_ANY = 255
_OPCODE_UPDATE = 5 << 11
_TYPE_SOA = 6
_TYPE_TSIG = 250
_TYPES = {"A": 1, "PTR": 12, "AAAA": 28, "SRV": 33}
_RR = struct.Struct("!HHIH")
_PTR = struct.Struct("!H")
_SRV = struct.Struct("!HHH")


class RecordError(ValueError):
    """A record we were asked to publish cannot be encoded (bad name or rdata)."""


@dataclass(frozen=True, slots=True)
class Change:
    """Replace RRset (``name``, ``rdtype``) by ``rdatas``; empty = delete it."""

    name: str
    rdtype: str
    rdatas: tuple[str, ...] = ()
    guard: bool = False
    """Apply only if the RRset does not exist yet (a first publication)."""

    @property
    def records(self) -> int:
        """Update-section RRs this change costs (the delete plus each add)."""
        return 1 + len(self.rdatas)


def name_wire(name: str) -> bytes:
    """Uncompressed wire form of the absolute ``name``."""
    out = bytearray()
    for label in name.rstrip(".").split(".") if name not in (".", "") else ():
        raw = label.encode("ascii", "strict") if label.isascii() else b""
        if not raw or len(raw) > 63:
            raise RecordError(f"{name!r} is not a valid domain name")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > 255:
        raise RecordError(f"{name!r} is longer than 255 octets")
    return bytes(out)


def rdtype_code(rdtype: str) -> int:
    code = _TYPES.get(rdtype)
    if code is None:
        try:
            code = int(dns.rdatatype.from_text(rdtype))
        except dns.rdatatype.UnknownRdatatype:
            raise RecordError(f"unknown record type {rdtype!r}") from None
    return code


def rdata_wire(rdtype: str, text: str) -> bytes:
    """Wire RDATA of one record given in presentation format."""
    try:
        if rdtype == "AAAA":
            if "%" in text:  # ipaddress accepts a scope id, which DNS has no room for
                raise ValueError(text)
            return ipaddress.IPv6Address(text).packed
        if rdtype == "A":
            return ipaddress.IPv4Address(text).packed
        if rdtype == "PTR":
            return name_wire(text)
        if rdtype == "SRV":
            prio, weight, port, target = text.split()
            return _SRV.pack(int(prio), int(weight), int(port)) + name_wire(target)
        rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)
        return rd.to_wire() or b""
    except RecordError:
        raise
    except (ValueError, struct.error, dns.exception.DNSException):
        raise RecordError(f"{text!r} is not valid {rdtype} data") from None


class UpdateBuilder:
    """Accumulates changes of one zone into one UPDATE message.

    Owner names are written as their labels below the zone plus a pointer to
    the zone name at offset 12 (always reachable, whatever the message size).
    Guarded changes add an "RRset does not exist" prerequisite (RFC 2136
    §2.4.3), which goes into the prerequisite section before the updates.
    """

    def __init__(self, zone: str, ttl: int, budget: int = SIZE_BUDGET) -> None:
        self.zone = absolute_name(zone)
        self.ttl = ttl
        self.budget = budget
        self.records = 0
        self.prerequisites = 0
        # zone section = zone name, SOA, IN; the header is written by wire()
        self._zone = name_wire(self.zone) + struct.pack("!HH", _TYPE_SOA, _CLASS_IN)
        self._pre = bytearray()
        self._upd = bytearray()
        self._suffix = "." + self.zone

    def _owner(self, name: str) -> bytes:
        if name == self.zone:
            return _PTR.pack(0xC000 | 12)
        if not name.endswith(self._suffix):
            raise RecordError(f"{name} is not inside zone {self.zone}")
        out = bytearray()
        for label in name[: -len(self._suffix)].split("."):
            raw = label.encode("ascii") if label.isascii() else b""
            if not raw or len(raw) > 63:
                raise RecordError(f"{name!r} is not a valid domain name")
            out.append(len(raw))
            out += raw
        out += _PTR.pack(0xC000 | 12)
        return bytes(out)

    @property
    def size(self) -> int:
        return 12 + len(self._zone) + len(self._pre) + len(self._upd)

    def add(self, change: Change) -> bool:
        """Append ``change``; False (and nothing appended) if the message would be too big."""
        name = absolute_name(change.name)
        code = rdtype_code(change.rdtype)
        datas = [rdata_wire(change.rdtype, t) for t in change.rdatas]
        owner = self._owner(name)
        pre = owner + _RR.pack(code, _CLASS_NONE, 0, 0) if change.guard else b""
        upd = bytearray(owner + _RR.pack(code, _CLASS_ANY, 0, 0))
        for rd in datas:
            upd += owner + _RR.pack(code, _CLASS_IN, self.ttl, len(rd)) + rd
        if self.size + len(pre) + len(upd) > self.budget:
            if self.records:
                return False
            raise RecordError(f"{name} {change.rdtype} alone exceeds the DNS message size")
        self._pre += pre
        self._upd += upd
        self.records += change.records
        self.prerequisites += 1 if change.guard else 0
        return True

    def wire(self) -> bytes:
        """The unsigned message (id 0, set by :func:`sign`)."""
        head = struct.pack(
            "!HHHHHH", 0, _OPCODE_UPDATE, 1, self.prerequisites, self.records, 0
        )
        return head + self._zone + bytes(self._pre) + bytes(self._upd)


def sign(
    wire: bytes, key: dns.tsig.Key, msg_id: int, now: int, fudge: int = TSIG_FUDGE
) -> tuple[bytes, bytes]:
    """Set the message id, append a TSIG RR; returns (signed message, request MAC).

    The MAC is computed by dnspython over the message as it stands (ARCOUNT
    still without the TSIG), as RFC 8945 §4.3.3 prescribes.
    """
    head = bytearray(wire[:2])
    struct.pack_into("!H", head, 0, msg_id)
    wire = bytes(head) + wire[2:]
    blank = dns.rdtypes.ANY.TSIG.TSIG(  # type: ignore[no-untyped-call]
        dns.rdataclass.ANY, dns.rdatatype.TSIG, key.algorithm, 0, fudge, b"", msg_id, 0, b""
    )
    signed, _ctx = dns.tsig.sign(wire, key, blank, now, b"")  # type: ignore[no-untyped-call]
    rdata = signed.to_wire()
    assert rdata is not None
    out = bytearray(wire)
    arcount = struct.unpack_from("!H", out, 10)[0]
    struct.pack_into("!H", out, 10, arcount + 1)
    out += key.name.to_wire() or b""
    out += _RR.pack(_TYPE_TSIG, _CLASS_ANY, 0, len(rdata))
    out += rdata
    if len(out) > MAX_MESSAGE:
        raise RecordError("the signed UPDATE exceeds 65535 octets")
    return bytes(out), bytes(signed.mac)


