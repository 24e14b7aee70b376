"""Input rules for every kind of value the project takes, checked once at the edge.

Each check returns the normalised value or raises :class:`ValidationError`
with one sentence that names the field and the rule it breaks.  The CLI,
the REST API, the web UI, the CSV import and the config loader all call
these, so a value refused in one face is refused in all of them.

Patterns are applied with ``fullmatch``: ``re.match(r"^...$")`` accepts a
trailing newline (``$`` matches before it), which once let ``nl\n@example.com``
into the store.  Messages quote values with :func:`shown`, so a rejected
value never writes raw control characters into a terminal or a log.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

from ..domain import dns_name
from ..errors import ValidationError

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
# RFC 7542 section 2.2 utf8-username: dot-separated runs of utf8-atext, which is the
# ASCII atext above or any non-ASCII character (UTF8-xtra-char).
_USER = re.compile(rf"[{_ATEXT}\u0080-\U0010ffff]+(?:\.[{_ATEXT}\u0080-\U0010ffff]+)*")
# C0 and C1 controls, DEL, the Unicode line and paragraph separators and lone surrogates
# (JSON can carry "\ud800", which no encoder can write): never in a value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Unicode categories refused inside an NAI's non-ASCII characters: controls, surrogates,
# private use, unassigned, separators other than space (RFC 7542 section 2.4 asks for NFC
# text that displays).
_BAD_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})

MAX_IDENTITY = 253
"""RFC 7542 section 2.2: an NAI is at most 253 octets (as UTF-8)."""
MAX_TEXT = 1000


def shown(value: object, limit: int = 80) -> str:
    """``value`` fit for a message or a log line: repr-quoted (escapes controls), bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def text(value: str, field: str, max_len: int = MAX_TEXT, empty: bool = True) -> str:
    """Free text: no control characters (NUL, newline, ...), at most ``max_len`` characters.

    PostgreSQL refuses NUL in text, and a newline in a name breaks every log
    line and generated file it lands in, so both are refused here, before a
    value reaches the store.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be text")
    if _CONTROL.search(value):
        raise ValidationError(
            f"{field} {shown(value)} must not contain control characters (NUL, newline, tab...)"
        )
    if len(value) > max_len:
        raise ValidationError(f"{field} must be at most {max_len} characters")
    if not empty and not value.strip():
        raise ValidationError(f"{field} must not be empty")
    return value


def like_pattern(value: str) -> str:
    """A ``LIKE`` pattern matching ``value`` as a substring; ``\\`` is the escape character.

    ``%`` and ``_`` in a search are the characters themselves, not wildcards.
    """
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def integer(value: object, field: str, lo: int, hi: int) -> int:
    """An integer (or its decimal text) between ``lo`` and ``hi`` inclusive."""
    if isinstance(value, bool):
        raise ValidationError(f"{field} must be an integer")
    if isinstance(value, str):
        raw = value.strip()
        if not re.fullmatch(r"[+-]?[0-9]{1,20}", raw):
            raise ValidationError(f"{field} must be an integer, not {shown(value)}")
        value = int(raw)
    if not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer")
    if not lo <= value <= hi:
        raise ValidationError(f"{field} must be between {lo} and {hi}")
    return value


def number(value: object, field: str, above: float, most: float) -> float:
    """A number ``> above`` and ``<= most`` (finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{field} must be a number")
    if not above < value <= most:
        raise ValidationError(f"{field} must be more than {above:g} and at most {most:g}")
    return float(value)


def fqdn(value: str, field: str = "fqdn") -> str:
    """A host name of letters, digits and hyphens in dot-separated labels, lower-cased."""
    text(value, field)
    name = dns_name(value)
    if not name or len(name) > 253:
        raise ValidationError(
            f"{field} {shown(value)} must be a domain name of 1 to 253 characters"
        )
    labels = name.split(".")
    if len(labels) < 2:
        raise ValidationError(
            f"{field} {shown(value)} must have at least two labels, like mn.example.com"
        )
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise ValidationError(
                f"{field} {shown(value)} has an invalid label {shown(label)}: labels are 1-63"
                " letters, digits or hyphens, not starting or ending with a hyphen"
            )
    if labels[-1].isdigit():
        raise ValidationError(f"{field} {shown(value)} must not end in a numeric label")
    return name


def identity(value: str) -> tuple[str, str]:
    """An NAI ``user@realm`` (RFC 7542); returns (identity, realm).

    The user part is RFC 7542's utf8-username (ASCII atext such as
    ``!#$%&'*+/=?^_`{|}~-`` or any printable non-ASCII character, in
    dot-separated runs), NFC-normalised.  The realm must be the home
    network's DNS domain, so it follows the RFC 1035 label rules of
    :func:`fqdn` (a non-ASCII realm is written in its ``xn--`` form).
    """
    text(value, "identity")
    raw = unicodedata.normalize("NFC", value.strip())
    if raw.count("@") != 1 or len(raw.encode()) > MAX_IDENTITY:
        raise ValidationError(
            f"identity {shown(value)} must have the form user@domain of at most"
            f" {MAX_IDENTITY} bytes (an NAI such as mn@example.com)"
        )
    user, realm = raw.split("@")
    bad = next(
        (c for c in user if ord(c) > 127 and unicodedata.category(c) in _BAD_CATEGORIES), None
    )
    if bad is not None or not _USER.fullmatch(user):
        raise ValidationError(
            f"identity {shown(value)} has an invalid user part {shown(user)}: RFC 7542 allows"
            " letters, digits, printable non-ASCII characters and !#$%&'*+-/=?^_`{|}~"
            " in dot-separated runs"
        )
    realm = fqdn(realm, field="identity domain")
    return f"{user}@{realm}", realm


def derived_fqdn(ident: str) -> str:
    """Default FQDN: the user part as a label under the realm (mn@example.com -> mn.example.com)."""
    user, realm = ident.split("@")
    candidate = f"{user.lower()}.{realm}"
    try:
        return fqdn(candidate)
    except ValidationError:
        raise ValidationError(
            f"identity {shown(ident)} does not give a valid host name ({shown(candidate)});"
            " give one with --fqdn"
        ) from None


def ipv6_prefix(value: str, field: str = "prefix") -> ipaddress.IPv6Network:
    """An IPv6 home prefix: a network address of length /64 or shorter."""
    try:
        net = ipaddress.IPv6Network(value.strip(), strict=True)
    except ipaddress.AddressValueError:
        raise ValidationError(
            f"{field} {shown(value)} is not an IPv6 prefix such as 2001:db8:1::/64"
        ) from None
    except ValueError:
        raise ValidationError(
            f"{field} {shown(value)} is not an IPv6 prefix with its host bits zero,"
            " such as 2001:db8:1::/64"
        ) from None
    if net.prefixlen > 64:
        raise ValidationError(
            f"{field} {shown(value)} must be a /64 or shorter"
            " (RFC 4291 interface identifiers are 64 bits)"
        )
    if net.is_multicast or net.is_loopback or net.is_link_local or net.is_unspecified:
        raise ValidationError(f"{field} {shown(value)} must be a unicast prefix")
    return net


MAX_V4_POOL = 16


def ipv4_pool(value: str, field: str = "ipv4-pool") -> ipaddress.IPv4Network:
    """An IPv4 HoA pool between /16 and /30."""
    try:
        net = ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError:
        raise ValidationError(
            f"{field} {shown(value)} is not an IPv4 network such as 192.0.2.0/24"
        ) from None
    if not MAX_V4_POOL <= net.prefixlen <= 30:
        raise ValidationError(f"{field} {shown(value)} must be between a /{MAX_V4_POOL} and a /30")
    return net


def ipv6_address(value: str, field: str) -> ipaddress.IPv6Address:
    try:
        addr = ipaddress.IPv6Address(value.strip())
    except ValueError:
        raise ValidationError(f"{field} {shown(value)} is not an IPv6 address") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        raise ValidationError(f"{field} {shown(value)} must be a unicast IPv6 address")
    return addr


def ipv4_address(value: str, field: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise ValidationError(f"{field} {shown(value)} is not an IPv4 address") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        raise ValidationError(f"{field} {shown(value)} must be a unicast IPv4 address")
    return addr


def uint16(value: int, field: str) -> int:
    if not 0 <= value <= 65535:
        raise ValidationError(f"{field} must be between 0 and 65535, not {value}")
    return value


def positive(value: int, field: str) -> int:
    if value < 1:
        raise ValidationError(f"{field} must be at least 1, not {value}")
    return value


def zone(value: str) -> str:
    """A DNS zone name such as example.com or 8.b.d.0.1.0.0.2.ip6.arpa."""
    text(value, "zone")
    name = dns_name(value)
    labels = name.split(".")
    if not name or len(name) > 253 or not all(
        re.fullmatch(r"[a-z0-9_-]{1,63}", lb) for lb in labels
    ):
        raise ValidationError(f"zone {shown(value)} is not a DNS zone name such as example.com")
    return name
