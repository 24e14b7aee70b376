"""Read models for the operator dashboard and the store gauges of ``/metrics``.

Cheap aggregate queries on the existing tables, run at page load or scrape
time (never on a protocol hot path).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select

from .. import domain, rules
from ..store.engine import Store
from ..store.models import Binding, DnsOutbox, HomeAgent, Subscriber, utcnow
from . import home_agents, views


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """The DNS outbox as an operator needs to see it."""

    depth: int
    """Rows not yet applied to the primary."""
    oldest: dt.datetime | None
    """When the oldest pending row was written."""
    failing: int
    """Pending rows that failed at least once."""
    last_error: str | None
    """The most recent error of a pending row."""


@dataclass(frozen=True, slots=True)
class RecentBinding:
    identity: str
    home_agent: str
    care_of: str
    hoa: str
    up_at: dt.datetime
    down_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Summary:
    subscribers: dict[str, int]
    home_agents: list[domain.HomeAgent]
    outbox: OutboxSummary
    live_bindings: int
    recent_bindings: list[RecentBinding]
    offered: frozenset[str] = frozenset()
    """FQDNs of the HAs that enrollment and DHCP may name now (active, heartbeat fresh)."""


def subscribers_by_state(store: Store) -> dict[str, int]:
    """Every state with its count (0 for states nobody is in)."""
    out = {s.value: 0 for s in domain.SubscriberState}
    with store.session() as s:
        # count(*), not count(id): the state index alone answers it (an index-only scan)
        q = select(Subscriber.state, func.count()).group_by(Subscriber.state)
        for state, n in s.execute(q):
            out[state] = int(n)
    return out


def home_agents_by_state(store: Store) -> dict[str, int]:
    out = {s.value: 0 for s in domain.HAState}
    with store.session() as s:
        q = select(HomeAgent.state, func.count(HomeAgent.id)).group_by(HomeAgent.state)
        for state, n in s.execute(q):
            out[state] = int(n)
    return out


def outbox(store: Store) -> OutboxSummary:
    """Read through the partial indexes over pending rows (``ix_dns_outbox_open`` and
    ``ix_dns_outbox_failing``): the cost follows the pending rows, not the history."""
    o = DnsOutbox
    pending = o.done_at.is_(None)
    failing = and_(pending, o.attempts > 0)
    with store.session() as s:
        depth = s.scalar(select(func.count()).select_from(o).where(pending))
        # ids grow with time: the lowest pending id is the oldest pending change
        oldest = s.scalar(select(o.created_at).where(pending).order_by(o.id).limit(1))
        n_failing = s.scalar(select(func.count()).select_from(o).where(failing))
        last_error = s.scalar(
            select(o.last_error)
            .where(failing, o.last_error.is_not(None))
            .order_by(o.id.desc())
            .limit(1)
        )
    return OutboxSummary(int(depth or 0), views.aware(oldest), int(n_failing or 0), last_error)


def live_bindings(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count(Binding.id)).where(Binding.down_at.is_(None))) or 0)


def recent_bindings(store: Store, limit: int = 10) -> list[RecentBinding]:
    """The newest bindings of any subscriber, open or closed."""
    q = (
        select(Binding, Subscriber.identity, HomeAgent.fqdn)
        .join(Subscriber, Subscriber.id == Binding.subscriber_id)
        .join(HomeAgent, HomeAgent.id == Binding.home_agent_id)
        .order_by(Binding.id.desc())
        .limit(limit)
    )
    with store.session() as s:
        return [
            RecentBinding(
                ident, ha, b.care_of, b.hoa, views.aware(b.up_at) or b.up_at, views.aware(b.down_at)
            )
            for b, ident, ha in s.execute(q)
        ]


def offered(
    agents: list[domain.HomeAgent], heartbeat_timeout: float, now: dt.datetime | None = None
) -> frozenset[str]:
    """The HAs :func:`bootstrap.rules.is_live` accepts, by FQDN."""
    when = now or utcnow()
    timeout = dt.timedelta(seconds=heartbeat_timeout)
    return frozenset(h.fqdn for h in rules.live_agents(agents, when, timeout))


def summary(store: Store, heartbeat_timeout: float = rules.DEFAULT_HEARTBEAT_SECONDS) -> Summary:
    """Everything the dashboard shows, in one call."""
    agents = home_agents.list_all(store)
    return Summary(
        subscribers=subscribers_by_state(store),
        home_agents=agents,
        outbox=outbox(store),
        live_bindings=live_bindings(store),
        recent_bindings=recent_bindings(store),
        offered=offered(agents, heartbeat_timeout),
    )
