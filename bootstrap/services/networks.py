"""Home networks: one MSP domain, its home prefix, IPv4 pool and DNS zones."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import domain
from ..domain import dns_name
from ..errors import Conflict, NotFound, ValidationError
from ..store.engine import Store
from ..store.models import HomeAgent, Network, Subscriber
from . import allocation, audit, validate, versions, views
from .actor import Actor


def row_by_domain(session: Session, name: str) -> Network:
    row = session.scalars(select(Network).where(Network.domain == dns_name(name))).first()
    if row is None:
        raise NotFound(f"network {name!r} does not exist (see 'bootstrapctl network list')")
    return row


def _ha_info(value: str) -> str:
    try:
        return domain.HAInfo(value).value
    except ValueError:
        allowed = ", ".join(i.value for i in domain.HAInfo)
        raise ValidationError(f"ha-info must be one of {allowed}, not {value!r}") from None


def add(
    store: Store,
    actor: Actor,
    domain_name: str,
    prefix: str,
    ipv4_pool: str | None = None,
    zones: Sequence[str] = (),
    ha_info: str = "both",
) -> domain.HomeNetwork:
    """Create a network; its prefix and pool must not overlap another network's."""
    name = validate.fqdn(domain_name, field="domain")
    net6 = validate.ipv6_prefix(prefix)
    net4 = validate.ipv4_pool(ipv4_pool) if ipv4_pool else None
    zone_list = list(dict.fromkeys(validate.zone(z) for z in zones))
    info = _ha_info(ha_info)
    with store.session() as s:
        if s.scalars(select(Network).where(Network.domain == name)).first() is not None:
            raise Conflict(f"network {name!r} already exists")
        for other in s.scalars(select(Network)):
            if ipaddress.IPv6Network(other.prefix).overlaps(net6):
                raise Conflict(f"prefix {net6} overlaps network {other.domain!r} ({other.prefix})")
            if net4 and other.ipv4_pool and ipaddress.IPv4Network(other.ipv4_pool).overlaps(net4):
                raise Conflict(
                    f"ipv4-pool {net4} overlaps network {other.domain!r} ({other.ipv4_pool})"
                )
        row = Network(
            domain=name,
            prefix=str(net6),
            ipv4_pool=str(net4) if net4 else None,
            zones=zone_list,
            ha_info=info,
        )
        s.add(row)
        try:
            s.flush()
        except IntegrityError:
            raise Conflict(f"network {name!r} already exists") from None
        if net4 is not None:
            allocation.fill_v4_pool(s, row.id, net4)
        versions.bump(s, versions.TOPOLOGY)
        audit.record(
            s,
            actor,
            "network.add",
            name,
            prefix=str(net6),
            ipv4_pool=row.ipv4_pool,
            zones=zone_list,
        )
        return views.network(row)


def update(
    store: Store,
    actor: Actor,
    domain_name: str,
    zones: Sequence[str] | None = None,
    ha_info: str | None = None,
) -> domain.HomeNetwork:
    """Change a network's zones or DHCP HA-information policy."""
    with store.session() as s:
        row = row_by_domain(s, domain_name)
        changes: dict[str, object] = {}
        if zones is not None:
            row.zones = list(dict.fromkeys(validate.zone(z) for z in zones))
            changes["zones"] = row.zones
        if ha_info is not None:
            row.ha_info = _ha_info(ha_info)
            changes["ha_info"] = row.ha_info
        versions.bump(s, versions.TOPOLOGY)
        audit.record(s, actor, "network.update", row.domain, **changes)
        return views.network(row)


def get(store: Store, domain_name: str) -> domain.HomeNetwork:
    with store.session() as s:
        return views.network(row_by_domain(s, domain_name))


def list_all(store: Store) -> list[domain.HomeNetwork]:
    with store.session() as s:
        return [views.network(r) for r in s.scalars(select(Network).order_by(Network.domain))]


def counts(store: Store) -> dict[str, dict[str, int]]:
    """Per network: number of home agents and of subscribers by state."""
    out: dict[str, dict[str, int]] = {}
    with store.session() as s:
        for net in s.scalars(select(Network)):
            out[net.domain] = {"home_agents": 0}
        q = (
            select(Network.domain, func.count(HomeAgent.id))
            .join(HomeAgent)
            .group_by(Network.domain)
        )
        for name, n in s.execute(q):
            out[name]["home_agents"] = n
        q2 = (
            select(Network.domain, Subscriber.state, func.count(Subscriber.id))
            .join(Subscriber, Subscriber.network_id == Network.id)
            .group_by(Network.domain, Subscriber.state)
        )
        for name, state, n in s.execute(q2):
            out[name][f"subscribers_{state}"] = n
    return out
