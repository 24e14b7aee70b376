"""Reassigning the subscribers of a drained or failed home agent, in the store.

Call :func:`reassign_from` right after an HA is marked ``draining``,
``down`` or ``failed`` (:mod:`.ha_watch`): every active or suspended
subscriber of that HA moves to the best live HA of its network (the same
RFC 2782 / spare-capacity rule and the same guarded slot claim enrollment
uses, :mod:`.slots`), in one transaction that also moves the ``assigned``
counters, bumps the change versions and writes the audit entry.  DHCP, DNS and the new HA's
bridge then agree on the new HA; the old HA's bridge redirects the MNs that
are still connected (IKEv2 redirect, RFC 5685) or terminates them.
HoAs do not change: they belong to the network, not to the HA.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, select

from .. import domain, rules
from ..config import Settings
from ..store.engine import Store
from ..store.models import HomeAgent, Network, Subscriber, utcnow
from . import audit, lookups, slots, versions, views
from .actor import Actor

_rng = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class Reassignment:
    moved: dict[str, str]
    """identity -> FQDN of its new HA."""
    stranded: tuple[str, ...]
    """Identities no live HA with spare capacity could take (they stay where they were)."""


def reassign_from(
    store: Store,
    settings: Settings,
    actor: Actor,
    fqdn: str,
    rng: random.Random | None = None,
    now: dt.datetime | None = None,
) -> Reassignment:
    """Move the subscribers of HA ``fqdn`` to other live HAs of the same network."""
    rng = rng or _rng
    now = now or utcnow()
    timeout = dt.timedelta(seconds=settings.store.heartbeat_timeout)
    moved: dict[str, str] = {}
    stranded: list[str] = []
    with store.session() as s:
        src = lookups.home_agent(s, fqdn)
        net = s.get(Network, src.network_id)
        assert net is not None
        fqdn_of = {h.id: h.fqdn for h in slots.agents_of(s, net.id, net.domain)}
        subs = s.scalars(
            select(Subscriber)
            .where(
                Subscriber.home_agent_id == src.id,
                Subscriber.state.in_(
                    [domain.SubscriberState.ACTIVE.value, domain.SubscriberState.SUSPENDED.value]
                ),
            )
            .order_by(Subscriber.id)
            .with_for_update(skip_locked=True)  # concurrent takeovers take disjoint rows
        ).all()
        for sub in subs:
            target = slots.move_best(s, src.id, net.id, net.domain, now, timeout, rng)
            if target is None:
                stranded.append(sub.identity)
                continue
            sub.home_agent_id = target.id
            sub.updated_at = now
            moved[sub.identity] = fqdn_of[target.id]
        if moved:
            versions.bump(s, versions.SUBSCRIBERS)
            versions.bump(s, versions.TOPOLOGY)
            audit.record(
                s, actor, "ha.reassign", src.fqdn, moved=len(moved), stranded=len(stranded)
            )
    return Reassignment(moved, tuple(stranded))


@dataclass(frozen=True, slots=True)
class Preview:
    """What draining or downing an HA would do, for a confirmation step."""

    subscribers: int
    """Active or suspended subscribers on the HA now."""
    targets: dict[str, int]
    """Other live HAs of the network that can take subscribers, with their spare slots."""

    @property
    def room(self) -> int:
        return sum(self.targets.values())


def preview(store: Store, settings: Settings, fqdn: str, now: dt.datetime | None = None) -> Preview:
    """Count the HA's subscribers and the spare room of the HAs they would move to."""
    now = now or utcnow()
    timeout = dt.timedelta(seconds=settings.store.heartbeat_timeout)
    with store.session() as s:
        src = lookups.home_agent(s, fqdn)
        net = s.get(Network, src.network_id)
        assert net is not None
        count = s.scalar(
            select(func.count(Subscriber.id)).where(
                Subscriber.home_agent_id == src.id,
                Subscriber.state.in_(
                    [domain.SubscriberState.ACTIVE.value, domain.SubscriberState.SUSPENDED.value]
                ),
            )
        ) or 0
        others = [
            views.home_agent(h, net.domain)
            for h in s.scalars(
                select(HomeAgent).where(
                    HomeAgent.network_id == src.network_id, HomeAgent.id != src.id
                )
            )
        ]
    live = rules.live_agents(others, now, timeout)
    targets = {h.fqdn: h.capacity - h.assigned for h in live if h.capacity > h.assigned}
    return Preview(int(count), dict(sorted(targets.items())))
