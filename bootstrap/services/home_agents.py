"""Home agents: adding, draining, activating, heartbeats.

Every state change also writes the network's SRV / HA address RRsets to
the DNS outbox, so DNS follows the store without anyone calling nsupdate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from .. import domain
from ..config import Settings
from ..domain import dns_name
from ..errors import Conflict, ValidationError
from ..store.engine import Store
from ..store.models import HomeAddress, HomeAgent, Network, utcnow
from . import allocation, audit, lookups, networks, outbox, reassign, validate, versions, views
from .actor import Actor


def add(
    store: Store,
    actor: Actor,
    fqdn: str,
    network: str,
    address: str,
    ipv4: str | None = None,
    priority: int = 10,
    weight: int = 100,
    capacity: int = 10000,
    allow_outside_prefix: bool = False,
    settings: Settings | None = None,
) -> domain.HomeAgent:
    """Register an HA of ``network``; its address must lie in the home prefix unless allowed."""
    name = validate.fqdn(fqdn)
    addr = validate.ipv6_address(address, "address")
    addr4 = validate.ipv4_address(ipv4, "ipv4") if ipv4 else None
    validate.uint16(priority, "priority")
    validate.uint16(weight, "weight")
    validate.positive(capacity, "capacity")
    with store.session() as s:
        net = networks.row_by_domain(s, network)
        prefix = ipaddress.IPv6Network(net.prefix)
        if addr not in prefix and not allow_outside_prefix:
            raise ValidationError(
                f"address {addr} is not inside network {net.domain!r}'s prefix {prefix}"
                " (pass --allow-outside-prefix if the HA really lives elsewhere)"
            )
        if addr in prefix and not allocation.iid_acceptable(addr, prefix):
            raise ValidationError(f"address {addr} is a reserved anycast address of {prefix}")
        if s.scalars(select(HomeAgent).where(HomeAgent.fqdn == name)).first() is not None:
            raise Conflict(f"home agent {name!r} already exists")
        if s.scalars(select(HomeAgent).where(HomeAgent.address == str(addr))).first() is not None:
            raise Conflict(f"address {addr} already belongs to another home agent")
        taken = s.scalars(
            select(HomeAddress).where(
                HomeAddress.network_id == net.id, HomeAddress.address == str(addr)
            )
        ).first()
        if taken is not None:
            raise Conflict(f"address {addr} is a subscriber's home address")
        if addr4 is not None:
            allocation.withdraw_v4(s, str(addr4))
        row = HomeAgent(
            fqdn=name,
            address=str(addr),
            ipv4=str(addr4) if addr4 else None,
            network_id=net.id,
            priority=priority,
            weight=weight,
            capacity=capacity,
            assigned=0,
            state=domain.HAState.ACTIVE.value,
        )
        s.add(row)
        s.flush()
        versions.bump(s, versions.TOPOLOGY)
        audit.record(s, actor, "ha.add", name, network=net.domain, address=str(addr))
        outbox.enqueue_network(s, net, settings, "ha.add", utcnow())
        return views.home_agent(row, net.domain)


@dataclass(frozen=True, slots=True)
class StateChange:
    """What an HA state change did: the HA as it is now and, when drained or down,
    where its subscribers went."""

    agent: domain.HomeAgent
    before: domain.HAState
    moved: dict[str, str] = field(default_factory=dict)
    """identity -> FQDN of its new HA."""
    stranded: tuple[str, ...] = ()
    """Subscribers no other live HA could take (they stay on this one)."""

    def moved_to(self) -> dict[str, int]:
        """How many subscribers went to each HA."""
        out: dict[str, int] = {}
        for target in self.moved.values():
            out[target] = out.get(target, 0) + 1
        return dict(sorted(out.items()))


def change_state(
    store: Store,
    actor: Actor,
    fqdn: str,
    state: domain.HAState,
    settings: Settings | None = None,
) -> StateChange:
    """Move an HA to ``state``; a drained or down HA is no longer offered.

    Draining or marking down also reassigns the HA's subscribers to the other
    live HAs of the network (:mod:`.reassign`), so DHCP, DNS and the other
    HAs' bridges agree; the drained HA's bridge then redirects live MNs.
    """
    with store.session() as s:
        row = lookups.home_agent(s, fqdn)
        before = row.state
        row.state = state.value
        net = s.get(Network, row.network_id)
        assert net is not None
        versions.bump(s, versions.TOPOLOGY)
        audit.record(s, actor, f"ha.{state.value}", row.fqdn, before=before)
        outbox.enqueue_network(s, net, settings, f"ha.{state.value}", utcnow())
        result = views.home_agent(row, net.domain)
    if state is domain.HAState.ACTIVE:
        return StateChange(result, domain.HAState(before))
    # Subscribers follow in a second transaction; repeating the command repeats it.
    moved = reassign.reassign_from(store, settings or _defaults(), actor, fqdn)
    return StateChange(get(store, fqdn), domain.HAState(before), moved.moved, moved.stranded)


def set_state(
    store: Store,
    actor: Actor,
    fqdn: str,
    state: domain.HAState,
    settings: Settings | None = None,
) -> domain.HomeAgent:
    """:func:`change_state`, returning only the HA."""
    return change_state(store, actor, fqdn, state, settings).agent


def edit(
    store: Store,
    actor: Actor,
    fqdn: str,
    priority: int | None = None,
    weight: int | None = None,
    capacity: int | None = None,
    settings: Settings | None = None,
) -> domain.HomeAgent:
    """Change an HA's SRV priority and weight or its capacity (not below its current load)."""
    with store.session() as s:
        row = lookups.home_agent(s, fqdn)
        changes: dict[str, int] = {}
        if priority is not None:
            validate.uint16(priority, "priority")
            changes["priority"] = priority
        if weight is not None:
            validate.uint16(weight, "weight")
            changes["weight"] = weight
        if capacity is not None:
            validate.positive(capacity, "capacity")
            if capacity < row.assigned:
                raise ValidationError(
                    f"capacity {capacity} is below the {row.assigned} subscribers the HA has now;"
                    " drain it first or choose at least that"
                )
            changes["capacity"] = capacity
        changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
        for k, v in changes.items():
            setattr(row, k, v)
        net = s.get(Network, row.network_id)
        assert net is not None
        if changes:
            versions.bump(s, versions.TOPOLOGY)
            audit.record(s, actor, "ha.update", row.fqdn, **changes)
            if "priority" in changes or "weight" in changes:
                outbox.enqueue_network(s, net, settings, "ha.update", utcnow())
        return views.home_agent(row, net.domain)


def _defaults() -> Settings:
    from ..config import from_mapping

    return from_mapping({}, Path.cwd(), "defaults")


def drain(
    store: Store, actor: Actor, fqdn: str, settings: Settings | None = None
) -> domain.HomeAgent:
    return set_state(store, actor, fqdn, domain.HAState.DRAINING, settings)


def activate(
    store: Store, actor: Actor, fqdn: str, settings: Settings | None = None
) -> domain.HomeAgent:
    return set_state(store, actor, fqdn, domain.HAState.ACTIVE, settings)


def heartbeat(
    store: Store, fqdn: str, now: dt.datetime | None = None, failure_timeout: float = 5.0
) -> None:
    """Record that the HA's IKE daemon answers (:func:`.ha_watch.heartbeat`)."""
    from . import ha_watch

    ha_watch.heartbeat(store, fqdn, failure_timeout, now)


def get(store: Store, fqdn: str) -> domain.HomeAgent:
    with store.session() as s:
        row = lookups.home_agent(s, fqdn)
        return views.home_agent(row, row.network.domain)


def list_all(store: Store, network: str | None = None) -> list[domain.HomeAgent]:
    with store.session() as s:
        q = select(HomeAgent, Network.domain).join(Network).order_by(HomeAgent.fqdn)
        if network is not None:
            q = q.where(Network.domain == dns_name(network))
        return [views.home_agent(h, d) for h, d in s.execute(q)]


def drain_progress(store: Store, fqdn: str) -> tuple[int, int]:
    """(open bindings, assigned subscribers) of HA ``fqdn``: a drain is done when both are 0.

    Assigned subscribers that remain are stranded (no live HA had room).
    """
    from sqlalchemy import func

    from ..store.models import Binding

    with store.session() as s:
        row = lookups.home_agent(s, fqdn)
        n = s.scalar(
            select(func.count(Binding.id)).where(
                Binding.home_agent_id == row.id, Binding.down_at.is_(None)
            )
        )
        return int(n or 0), row.assigned
