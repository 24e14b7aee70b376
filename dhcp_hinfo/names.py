"""Domain names in DHCP options: RFC 1035 label format, never compressed (RFC 8415 §10).

dnspython does the text/wire conversion and label checks; this module only
refuses what DHCP forbids on top of RFC 1035: compression pointers and names
that do not fill their option exactly.
"""

from __future__ import annotations

import dns.exception
import dns.name

from bootstrap.domain import absolute_name

from .errors import BAD_VALUE, MalformedPacket


def to_wire(name: str) -> bytes:
    """``name`` (absolute or not) as uncompressed wire labels ending with the root label."""
    try:
        wire = dns.name.from_text(name).to_wire()
    except dns.exception.DNSException as exc:
        raise ValueError(f"{name!r} is not a valid domain name: {exc}") from None
    assert wire is not None
    return wire


def _check_plain(data: bytes, start: int) -> int:
    """Offset after the name starting at ``start``; rejects pointers and overruns."""
    i = start
    n = len(data)
    while True:
        if i >= n:
            raise MalformedPacket(BAD_VALUE, "domain name has no root label")
        length = data[i]
        if length == 0:
            return i + 1
        if length > 63:
            raise MalformedPacket(BAD_VALUE, "domain name uses compression or a bad label type")
        i += 1 + length


def from_wire(data: bytes) -> str:
    """The one absolute name filling ``data`` exactly, as text with a trailing dot."""
    end = _check_plain(data, 0)
    if end != len(data):
        raise MalformedPacket(BAD_VALUE, "domain name does not fill its option")
    try:
        name, _ = dns.name.from_wire(data, 0)
    except dns.exception.DNSException as exc:
        raise MalformedPacket(BAD_VALUE, f"bad domain name: {exc}") from None
    return str(name.to_text())


def is_single_name(data: bytes) -> bool:
    """True when ``data`` is exactly one uncompressed absolute name (no exception)."""
    try:
        return _check_plain(data, 0) == len(data) and len(data) <= 255
    except MalformedPacket:
        return False


def canonical(name: str) -> str:
    """Lower-case, absolute form used to compare names from packets and the store."""
    return absolute_name(name)
