"""Input rules for identities, names, prefixes and addresses.

Each check returns the normalised value or raises :class:`ValidationError`
with one sentence that names the field and the rule it breaks.
"""

from __future__ import annotations

import ipaddress
import re

from ..domain import dns_name
from ..errors import ValidationError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 7542 utf8-username, restricted to the ASCII characters operators use.
_USER = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")

MAX_IDENTITY = 253


def fqdn(value: str, field: str = "fqdn") -> str:
    """A host name of letters, digits and hyphens in dot-separated labels, lower-cased."""
    name = dns_name(value)
    if not name or len(name) > 253:
        raise ValidationError(f"{field} {value!r} must be a domain name of 1 to 253 characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise ValidationError(
            f"{field} {value!r} must have at least two labels, like mn.example.com"
        )
    for label in labels:
        if not _LABEL.match(label):
            raise ValidationError(
                f"{field} {value!r} has an invalid label {label!r}: labels are 1-63 letters,"
                " digits or hyphens, not starting or ending with a hyphen"
            )
    if labels[-1].isdigit():
        raise ValidationError(f"{field} {value!r} must not end in a numeric label")
    return name


def identity(value: str) -> tuple[str, str]:
    """An NAI / RFC 822 identity ``user@realm``; returns (identity, realm)."""
    raw = value.strip()
    if raw.count("@") != 1 or len(raw) > MAX_IDENTITY:
        raise ValidationError(
            f"identity {value!r} must have the form user@domain (an NAI such as mn@example.com)"
        )
    user, realm = raw.split("@")
    if not _USER.match(user):
        raise ValidationError(
            f"identity {value!r} has an invalid user part {user!r}: use letters, digits and"
            " . - _ + (RFC 7542)"
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
            f"identity {ident!r} does not give a valid host name ({candidate!r});"
            " give one with --fqdn"
        ) from None


def ipv6_prefix(value: str, field: str = "prefix") -> ipaddress.IPv6Network:
    """An IPv6 home prefix: a network address of length /64 or shorter."""
    try:
        net = ipaddress.IPv6Network(value.strip(), strict=True)
    except ipaddress.AddressValueError:
        raise ValidationError(
            f"{field} {value!r} is not an IPv6 prefix such as 2001:db8:1::/64"
        ) from None
    except ValueError:
        raise ValidationError(
            f"{field} {value!r} is not an IPv6 prefix with its host bits zero,"
            " such as 2001:db8:1::/64"
        ) from None
    if net.prefixlen > 64:
        raise ValidationError(
            f"{field} {value!r} must be a /64 or shorter"
            " (RFC 4291 interface identifiers are 64 bits)"
        )
    if net.is_multicast or net.is_loopback or net.is_link_local or net.is_unspecified:
        raise ValidationError(f"{field} {value!r} must be a unicast prefix")
    return net


MAX_V4_POOL = 16


def ipv4_pool(value: str, field: str = "ipv4-pool") -> ipaddress.IPv4Network:
    """An IPv4 HoA pool between /16 and /30."""
    try:
        net = ipaddress.IPv4Network(value.strip(), strict=True)
    except ValueError:
        raise ValidationError(
            f"{field} {value!r} is not an IPv4 network such as 192.0.2.0/24"
        ) from None
    if not MAX_V4_POOL <= net.prefixlen <= 30:
        raise ValidationError(f"{field} {value!r} must be between a /{MAX_V4_POOL} and a /30")
    return net


def ipv6_address(value: str, field: str) -> ipaddress.IPv6Address:
    try:
        addr = ipaddress.IPv6Address(value.strip())
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not an IPv6 address") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        raise ValidationError(f"{field} {value!r} must be a unicast IPv6 address")
    return addr


def ipv4_address(value: str, field: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.IPv4Address(value.strip())
    except ValueError:
        raise ValidationError(f"{field} {value!r} is not an IPv4 address") from None
    if addr.is_multicast or addr.is_unspecified or addr.is_loopback:
        raise ValidationError(f"{field} {value!r} must be a unicast IPv4 address")
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
    name = dns_name(value)
    labels = name.split(".")
    if not name or len(name) > 253 or not all(re.match(r"^[a-z0-9_-]{1,63}$", lb) for lb in labels):
        raise ValidationError(f"zone {value!r} is not a DNS zone name such as example.com")
    return name
