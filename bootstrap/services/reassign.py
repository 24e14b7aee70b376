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

from sqlalchemy import select

from .. import domain
from ..config import Settings
from ..store.engine import Store
from ..store.models import Network, Subscriber, utcnow
from . import audit, lookups, slots, versions
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
