"""Writing the DNS outbox: the desired RRsets of a change, in the change's transaction.

The content comes from :mod:`bootstrap.dnsrecords`; this module only decides
which zone each RRset goes to and records it.  A network with no zones
publishes nothing.  A reverse (PTR) name under no listed zone is skipped:
reverse zones are optional.  A forward name under no listed zone is written
with ``zone = NULL`` so the publisher reports the misconfiguration instead of
sending it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import dnsrecords, domain
from ..config import Settings
from ..store.models import DnsOutbox, HomeAgent, Network
from . import views


def enqueue(
    session: Session, rrsets: Iterable[dnsrecords.RRset], zones: Sequence[str], reason: str
) -> int:
    """Add one row per RRset; returns how many were written."""
    rows = outbox_rows(rrsets, zones, reason)
    for values in rows:
        session.add(DnsOutbox(**values))
    return len(rows)


def outbox_rows(
    rrsets: Iterable[dnsrecords.RRset],
    zones: Sequence[str],
    reason: str,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The ``dns_outbox`` column values for ``rrsets`` (the zone rule of the module docstring)."""
    if not zones:
        return []
    out: list[dict[str, Any]] = []
    for rr in rrsets:
        zone = dnsrecords.zone_for(rr.name, zones)
        if zone is None and rr.rdtype == "PTR":
            continue
        row: dict[str, Any] = {
            "zone": zone,
            "name": rr.name,
            "rdtype": rr.rdtype,
            "rdatas": list(rr.rdatas),
            "reason": reason,
        }
        if now is not None:
            row["created_at"] = now
        out.append(row)
    return out


def subscriber_rows(
    sub: domain.Subscriber, zones: Sequence[str], publish: bool, reason: str, now: dt.datetime
) -> list[dict[str, Any]]:
    """:func:`enqueue_subscriber` as column values, for ``executemany`` (bulk import)."""
    return outbox_rows(dnsrecords.subscriber_rrsets(sub, publish), zones, reason, now)


def heartbeat_timeout(settings: Settings | None) -> dt.timedelta:
    from ..rules import DEFAULT_HEARTBEAT_TIMEOUT

    if settings is None:
        return DEFAULT_HEARTBEAT_TIMEOUT
    return dt.timedelta(seconds=settings.store.heartbeat_timeout)


def enqueue_network(
    session: Session, network: Network, settings: Settings | None, reason: str, now: dt.datetime
) -> int:
    """SRV and HA address RRsets of ``network`` as they are now."""
    if not network.zones:
        return 0
    session.flush()
    rows = session.scalars(select(HomeAgent).where(HomeAgent.network_id == network.id))
    agents = [views.home_agent(h, network.domain) for h in rows]
    rrsets = dnsrecords.network_rrsets(
        views.network(network), agents, now, heartbeat_timeout(settings)
    )
    return enqueue(session, rrsets, network.zones, reason)


def enqueue_subscriber(
    session: Session,
    sub: domain.Subscriber,
    zones: Sequence[str],
    publish: bool,
    reason: str,
) -> int:
    """The subscriber's forward and reverse RRsets (deleted when ``publish`` is False)."""
    return enqueue(session, dnsrecords.subscriber_rrsets(sub, publish), zones, reason)
