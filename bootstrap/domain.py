"""Frozen value objects that cross module boundaries.

SQLAlchemy rows never leave :mod:`bootstrap.store`; every other module (the
CLI, the daemon, the web UI and the three protocol faces) sees these plain,
immutable dataclasses.  They carry no I/O and read no clock, so the pure
parts of the faces (DHCP policy, DNS record planning, VICI sync planning) can
be tested without a database.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum


class HAState(StrEnum):
    """State of a home agent: set by the operator, or ``failed`` by the store's watchers.

    ``failed`` is written only by :mod:`bootstrap.services.ha_watch` when the
    HA's heartbeat is older than ``[ha] failure_timeout``; the watchers set it
    back to ``active`` once the HA has beaten again for ``[ha] recovery_time``.
    """

    ACTIVE = "active"
    DRAINING = "draining"
    DOWN = "down"
    FAILED = "failed"


class SubscriberState(StrEnum):
    """Life cycle of a subscriber; revoked is final."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class AuthMethod(StrEnum):
    """How the mobile node authenticates to its home agent in IKEv2."""

    EAP = "eap"
    CERT = "cert"


class PublishMode(StrEnum):
    """``[dns] publish``: when an MN's FQDN -> HoA records exist in DNS."""

    ENROLL = "enroll"
    """From enrollment until revocation or suspension."""
    REGISTRATION = "registration"
    """Only while the subscriber has an open binding (a live IKE SA) on any HA host."""


def dns_name(name: str) -> str:
    """The one normal form of a DNS name held in the store: lower case, no trailing dot.

    Every comparison of an FQDN, a domain or a zone with the store goes through
    here (identities are not DNS names and keep their case).
    """
    return name.strip().rstrip(".").lower()


def absolute_name(name: str) -> str:
    """``dns_name`` with exactly one trailing dot, as DNS messages and packets carry it."""
    return dns_name(name) + "."


class HAInfo(StrEnum):
    """What a DHCP home-information container names: RFC 6610 leaves it open."""

    ADDRESS = "address"
    FQDN = "fqdn"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class HomeNetwork:
    """A mobility service provider's home network (one MSP domain)."""

    id: int
    domain: str
    prefix: ipaddress.IPv6Network
    ipv4_pool: ipaddress.IPv4Network | None = None
    zones: tuple[str, ...] = ()
    ha_info: HAInfo = HAInfo.BOTH


@dataclass(frozen=True, slots=True)
class HomeAgent:
    """A home agent as the store knows it.

    ``assigned`` is the number of subscribers currently assigned to it, kept
    as a counter in the store so that choosing an HA never counts rows.
    ``last_heartbeat`` is ``None`` while nothing monitors the HA (no VICI
    bridge runs for it): such an HA is judged by its operator state alone.
    """

    id: int
    fqdn: str
    address: ipaddress.IPv6Address
    network_id: int
    network: str
    ipv4: ipaddress.IPv4Address | None = None
    priority: int = 10
    weight: int = 100
    capacity: int = 10000
    assigned: int = 0
    state: HAState = HAState.ACTIVE
    last_heartbeat: dt.datetime | None = None
    beating_since: dt.datetime | None = None
    """Start of the current unbroken run of heartbeats (a gap over ``failure_timeout`` ends it)."""

    @property
    def spare(self) -> int:
        """Free subscriber slots (never negative)."""
        return max(self.capacity - self.assigned, 0)


@dataclass(frozen=True, slots=True)
class Binding:
    """One IKE SA of a subscriber on a home agent (RFC 5026: the registration)."""

    id: int
    identity: str
    home_agent: str
    care_of: str
    care_of_port: int | None
    hoa: str
    up_at: dt.datetime
    down_at: dt.datetime | None = None
    ike_unique_id: str | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A mobile node's subscription as the faces need it."""

    id: int
    identity: str
    fqdn: str
    network: str
    network_id: int
    home_agent: str | None
    state: SubscriberState
    auth: AuthMethod
    hoas: tuple[ipaddress.IPv6Address, ...] = ()
    hoa4: ipaddress.IPv4Address | None = None
    credential_ref: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Networks and home agents at one change version.

    Long-running services keep one of these in memory and rebuild it when the
    store's topology version moves; per-packet code reads only this.
    """

    version: int
    networks: tuple[HomeNetwork, ...]
    home_agents: tuple[HomeAgent, ...]
    server_duid: bytes = b""
    by_domain: dict[str, HomeNetwork] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not self.by_domain:
            object.__setattr__(self, "by_domain", {n.domain: n for n in self.networks})
