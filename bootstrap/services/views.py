"""Turning store rows into the frozen domain objects of :mod:`bootstrap.domain`."""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import Any

from .. import domain
from ..store import models as m


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; the store writes UTC only."""
    if t is None or t.tzinfo is not None:
        return t
    return t.replace(tzinfo=dt.UTC)


def network(row: m.Network) -> domain.HomeNetwork:
    return domain.HomeNetwork(
        id=row.id,
        domain=row.domain,
        prefix=ipaddress.IPv6Network(row.prefix),
        ipv4_pool=ipaddress.IPv4Network(row.ipv4_pool) if row.ipv4_pool else None,
        zones=tuple(row.zones or ()),
        ha_info=domain.HAInfo(row.ha_info),
    )


def home_agent(row: m.HomeAgent, network_domain: str) -> domain.HomeAgent:
    return domain.HomeAgent(
        id=row.id,
        fqdn=row.fqdn,
        address=ipaddress.IPv6Address(row.address),
        network_id=row.network_id,
        network=network_domain,
        ipv4=ipaddress.IPv4Address(row.ipv4) if row.ipv4 else None,
        priority=row.priority,
        weight=row.weight,
        capacity=row.capacity,
        assigned=row.assigned,
        state=domain.HAState(row.state),
        last_heartbeat=aware(row.last_heartbeat),
        beating_since=aware(row.beating_since),
    )


def home_agent_values(r: Mapping[Any, Any], network_domain: str) -> domain.HomeAgent:
    """The same as :func:`home_agent` from a Core row mapping (no ORM identity map)."""
    return domain.HomeAgent(
        id=r["id"],
        fqdn=r["fqdn"],
        address=ipaddress.IPv6Address(r["address"]),
        network_id=r["network_id"],
        network=network_domain,
        ipv4=ipaddress.IPv4Address(r["ipv4"]) if r["ipv4"] else None,
        priority=r["priority"],
        weight=r["weight"],
        capacity=r["capacity"],
        assigned=r["assigned"],
        state=domain.HAState(r["state"]),
        last_heartbeat=aware(r["last_heartbeat"]),
        beating_since=aware(r.get("beating_since")),
    )


def subscriber(
    row: m.Subscriber, network_domain: str, ha_fqdn: str | None, addresses: list[m.HomeAddress]
) -> domain.Subscriber:
    live = [a for a in addresses if a.released_at is None]
    hoas = tuple(ipaddress.IPv6Address(a.address) for a in live if a.family == 6)
    v4 = [ipaddress.IPv4Address(a.address) for a in live if a.family == 4]
    return domain.Subscriber(
        id=row.id,
        identity=row.identity,
        fqdn=row.fqdn,
        network=network_domain,
        network_id=row.network_id,
        home_agent=ha_fqdn,
        state=domain.SubscriberState(row.state),
        auth=domain.AuthMethod(row.auth),
        hoas=hoas,
        hoa4=v4[0] if v4 else None,
        credential_ref=row.credential_ref,
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )
