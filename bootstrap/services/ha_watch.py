"""HA failure detection and takeover in the store, run by every bootstrapd (no leader).

Each host's bridge writes its HA's heartbeat (:func:`heartbeat`) while its
charon answers.  Every bootstrapd runs :func:`serve`: every ``[ha]
heartbeat_interval`` it reads all HAs, asks :func:`bootstrap.ha_health.transitions`
what must change, and carries each change out with one guarded UPDATE::

    UPDATE home_agents SET state = 'failed'
     WHERE id = :id AND state = 'active' AND last_heartbeat < :cutoff

Several hosts decide the same thing at the same time; the rowcount says
which one won, and only that one writes the audit entry, the DNS outbox rows
(SRV and the HA's AAAA/A go), closes the failed HA's bindings and starts the
takeover: its subscribers move to the live HAs of the network through the
one guarded slot claim (:mod:`.reassign`, :mod:`.slots`), keeping their HoAs.
A takeover a crash interrupted is finished by the next tick of any host
(a failed HA that still has subscribers); concurrent takeovers of one HA
take disjoint subscribers (``SELECT ... FOR UPDATE SKIP LOCKED``).

The clocks of the hosts must agree to well under ``failure_timeout`` (NTP):
heartbeats carry the writer's time and the cutoffs the reader's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
from dataclasses import dataclass

from prometheus_client import Counter
from sqlalchemy import select, update

from .. import domain, ha_health
from ..config import Settings
from ..domain import dns_name
from ..errors import NotFound
from ..store.engine import Store
from ..store.models import HomeAgent, Network, utcnow
from . import audit, bindings, outbox, reassign, versions, views
from .actor import Actor

log = logging.getLogger(__name__)

TRANSITIONS = Counter(
    "mip6bs_ha_transitions_total",
    "HA state changes this host carried out after the failure detector's decision.",
    ["to"],
)
TAKEN_OVER = Counter(
    "mip6bs_ha_takeover_subscribers_total",
    "Subscribers this host moved away from failed HAs.",
)


def policy_of(settings: Settings) -> ha_health.HaPolicy:
    return ha_health.HaPolicy(
        failure_timeout=dt.timedelta(seconds=settings.ha.failure_timeout),
        recovery_time=dt.timedelta(seconds=settings.ha.recovery_time),
    )


def actor_for(host: str | None = None) -> Actor:
    """The audit actor of this host's watcher."""
    return Actor(f"ha-watch@{host or socket.gethostname()}", "daemon")


def heartbeat(
    store: Store, fqdn: str, failure_timeout: float, now: dt.datetime | None = None
) -> None:
    """Record that the HA's IKE daemon answers; keeps ``beating_since`` across short gaps.

    No version bump: snapshots judge heartbeats by age.
    """
    now = now or utcnow()
    with store.session() as s:
        row = s.execute(
            select(HomeAgent.id, HomeAgent.last_heartbeat, HomeAgent.beating_since).where(
                HomeAgent.fqdn == dns_name(fqdn)
            )
        ).first()
        if row is None:
            raise NotFound(f"home agent {fqdn!r} does not exist")
        policy = ha_health.HaPolicy(dt.timedelta(seconds=failure_timeout), dt.timedelta(0))
        since = ha_health.next_beating_since(
            views.aware(row.last_heartbeat), views.aware(row.beating_since), now, policy
        )
        s.execute(
            update(HomeAgent)
            .where(HomeAgent.id == row.id)
            .values(last_heartbeat=now, beating_since=since)
        )


def agents(store: Store) -> list[domain.HomeAgent]:
    """Every HA with its current heartbeat columns (Core read)."""
    t = HomeAgent.__table__
    with store.session() as s:
        domains = {r.id: r.domain for r in s.execute(select(Network.id, Network.domain))}
        rows = s.execute(select(t)).all()
        return [views.home_agent_values(r._mapping, domains[r.network_id]) for r in rows]


@dataclass(frozen=True, slots=True)
class Applied:
    """What this host did for one transition (``won`` False: another host did it first)."""

    transition: ha_health.Transition
    won: bool
    closed_bindings: int = 0
    moved: int = 0
    stranded: int = 0


def _guarded(t: ha_health.Transition, now: dt.datetime, policy: ha_health.HaPolicy) -> object:
    q = update(HomeAgent).where(HomeAgent.id == t.ha_id, HomeAgent.state == t.before.value)
    if t.after is domain.HAState.FAILED:
        q = q.where(HomeAgent.last_heartbeat < ha_health.stale_cutoff(now, policy))
    else:
        q = q.where(
            HomeAgent.last_heartbeat >= ha_health.stale_cutoff(now, policy),
            HomeAgent.beating_since <= ha_health.recovered_cutoff(now, policy),
        )
    return q.values(state=t.after.value).execution_options(synchronize_session=False)


def apply(
    store: Store,
    settings: Settings,
    actor: Actor,
    t: ha_health.Transition,
    now: dt.datetime | None = None,
) -> Applied:
    """Carry out ``t`` if this host wins the guarded UPDATE; then take over on failure."""
    now = now or utcnow()
    policy = policy_of(settings)
    closed = 0
    with store.session() as s:
        result = s.execute(_guarded(t, now, policy))  # type: ignore[call-overload]
        if getattr(result, "rowcount", 0) != 1:
            return Applied(t, False)
        row = s.get(HomeAgent, t.ha_id)
        assert row is not None
        net = s.get(Network, row.network_id)
        assert net is not None
        action = "ha.failed" if t.after is domain.HAState.FAILED else "ha.recovered"
        if t.after is domain.HAState.FAILED:
            # a fallback only: the store's publish mode decides (publish_mode)
            publish = {"registration": True, "enroll": False}.get(settings.dns.publish)
            closed = bindings.close_all_of(s, row.id, publish, now)
        versions.bump(s, versions.TOPOLOGY)
        audit.record(
            s, actor, action, row.fqdn, before=t.before.value, reason=t.reason,
            closed_bindings=closed,
        )
        outbox.enqueue_network(s, net, settings, action, now)
    TRANSITIONS.labels(t.after.value).inc()
    log.warning("home agent %s is now %s (%s)", t.fqdn, t.after.value, t.reason)
    if t.after is not domain.HAState.FAILED:
        return Applied(t, True, closed)
    moved = take_over(store, settings, actor, t.fqdn, now)
    return Applied(t, True, closed, len(moved.moved), len(moved.stranded))


def take_over(
    store: Store, settings: Settings, actor: Actor, fqdn: str, now: dt.datetime | None = None
) -> reassign.Reassignment:
    """Move the subscribers of failed HA ``fqdn`` to live HAs (one audit entry with the count)."""
    got = reassign.reassign_from(store, settings, actor, fqdn, now=now)
    TAKEN_OVER.inc(len(got.moved))
    if got.moved:
        log.warning(
            "took over %d subscribers of %s (%d found no live HA with room)",
            len(got.moved), fqdn, len(got.stranded),
        )
    return got


def tick(
    store: Store, settings: Settings, actor: Actor, now: dt.datetime | None = None
) -> list[Applied]:
    """One round: decide from the heartbeats, apply, finish interrupted takeovers."""
    now = now or utcnow()
    current = agents(store)
    done = [apply(store, settings, actor, t, now) for t in
            ha_health.transitions(current, now, policy_of(settings))]
    just_failed = {a.transition.ha_id for a in done if a.won}
    for ha in current:
        if ha.state is domain.HAState.FAILED and ha.assigned > 0 and ha.id not in just_failed:
            take_over(store, settings, actor, ha.fqdn, now)
    return done


async def serve(settings: Settings, store: Store, host: str | None = None) -> None:
    """Watch every HA's heartbeat every ``[ha] heartbeat_interval`` until cancelled."""
    actor = actor_for(host)
    failing = False
    while True:
        try:
            await asyncio.to_thread(tick, store, settings, actor)
            if failing:
                log.info("HA watch: store reachable again")
            failing = False
        except Exception as exc:  # the store may be down or partitioned away: decide nothing
            if not failing:
                log.warning("HA watch: cannot read the store, deciding nothing: %s", exc)
            failing = True
        await asyncio.sleep(settings.ha.heartbeat_interval)
