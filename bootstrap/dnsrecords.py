"""What DNS should say about a network, its home agents and its subscribers.

This is the single rule for record content (RFC 5026 §5.1 SRV discovery,
HA address records, the MN's FQDN -> HoA and the reverse PTR).  The store's
DNS outbox rows are produced from it at the moment of change, and the DNS
publisher's reconciliation compares a zone against it; both therefore agree.

Names are absolute, lower case, with a trailing dot.  An :class:`RRset` with
no ``rdatas`` means "this name has no records of this type": the publisher
deletes the RRset.  Pure functions, no I/O.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .domain import (
    HAState,
    HomeAgent,
    HomeNetwork,
    Subscriber,
    SubscriberState,
    absolute_name,
)
from .rules import live_agents

SRV_PORT = 0
"""RFC 5026 does not give a port for ``_mip6._ipv6``; MIPv6 runs on no transport."""


@dataclass(frozen=True, slots=True, order=True)
class RRset:
    """The whole desired content of one (name, type); empty = delete."""

    name: str
    rdtype: str
    rdatas: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A claimed DNS outbox row, as the publisher's planning needs it.

    Defined here, not next to the outbox queries, so the publisher's pure
    planning can take it without importing the store.
    """

    id: int
    zone: str
    name: str
    rdtype: str
    rdatas: tuple[str, ...]
    attempts: int
    reason: str = ""
    published: bool = False
    """Some earlier row of this (name, rdtype) was sent successfully: the RRset is ours."""


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the record rule needs: networks, HAs, active subscribers."""

    networks: tuple[HomeNetwork, ...]
    home_agents: tuple[HomeAgent, ...]
    subscribers: tuple[Subscriber, ...]
    registered: frozenset[int]
    """Ids of subscribers with a live binding (``publish = "registration"``)."""


def srv_name(domain: str) -> str:
    """``_mip6._ipv6.<domain>.``, the RFC 5026 §5.1.2 service name."""
    return absolute_name(f"_mip6._ipv6.{domain}")


def network_rrsets(
    network: HomeNetwork,
    agents: Sequence[HomeAgent],
    now: dt.datetime,
    heartbeat_timeout: dt.timedelta,
) -> list[RRset]:
    """SRV for the live HAs of ``network`` plus every HA's AAAA / A.

    A draining HA keeps its address records (its current subscribers still
    reach it) but leaves the SRV set; a ``down`` or ``failed`` HA loses both.
    """
    mine = [h for h in agents if h.network_id == network.id]
    live = sorted(live_agents(mine, now, heartbeat_timeout), key=lambda h: h.fqdn)
    srv = tuple(f"{h.priority} {h.weight} {SRV_PORT} {absolute_name(h.fqdn)}" for h in live)
    out = [RRset(srv_name(network.domain), "SRV", srv)]
    for ha in sorted(mine, key=lambda h: h.fqdn):
        out.extend(home_agent_rrsets(ha))
    return out


def home_agent_rrsets(ha: HomeAgent) -> list[RRset]:
    """AAAA (and A, if it has IPv4) of one HA; empty sets once the HA is down or failed."""
    up = ha.state not in (HAState.DOWN, HAState.FAILED)
    name = absolute_name(ha.fqdn)
    out = [RRset(name, "AAAA", (str(ha.address),) if up else ())]
    if ha.ipv4 is not None:
        out.append(RRset(name, "A", (str(ha.ipv4),) if up else ()))
    return out


def ptr_name(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The reverse-tree owner name of ``address``."""
    return absolute_name(address.reverse_pointer)


def subscriber_rrsets(sub: Subscriber, published: bool) -> list[RRset]:
    """FQDN -> HoA(s) and the PTRs back, or their deletion.

    ``published`` is False when the subscriber should not be visible now
    (suspended, revoked, or no live binding in ``registration`` mode): then
    every RRset comes back empty so the publisher deletes it.
    """
    show = published and sub.state is SubscriberState.ACTIVE
    name = absolute_name(sub.fqdn)
    out = [RRset(name, "AAAA", tuple(str(a) for a in sub.hoas) if show else ())]
    if sub.hoa4 is not None:
        out.append(RRset(name, "A", (str(sub.hoa4),) if show else ()))
    for addr in sub.hoas:
        out.append(RRset(ptr_name(addr), "PTR", (name,) if show else ()))
    if sub.hoa4 is not None:
        out.append(RRset(ptr_name(sub.hoa4), "PTR", (name,) if show else ()))
    return out


def zone_for(name: str, zones: Iterable[str]) -> str | None:
    """The zone that is the longest suffix of ``name``, or None."""
    name = absolute_name(name)
    best: str | None = None
    for zone in zones:
        z = absolute_name(zone)
        if (name == z or name.endswith("." + z)) and (best is None or len(z) > len(best)):
            best = z
    return best
