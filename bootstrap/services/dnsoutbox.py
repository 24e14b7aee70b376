"""The DNS outbox: writing, claiming, marking and reporting its rows.

A row asks the DNS publisher to make RRset (name, rdtype) equal ``rdatas``
(empty = delete).  Rows are written in the transaction of the change that
causes them (:func:`enqueue`), and drained by one or more publishers:

* **Order per name.**  A row is claimable only when no pending row of the
  same name is claimed (by anyone) or waiting for a retry, and a claim takes
  rows in id order, so a newer value can never overtake an older one, across
  processes too.
* **No double send.**  A claim sets ``claimed_by``/``claimed_until`` in one
  transaction; on PostgreSQL claim transactions are serialised with a
  transaction-scoped advisory lock, so two publishers never both see a row
  as free (claims are a few milliseconds; the sending happens outside).
  A crashed publisher's claim simply expires.
* **Never dropped.**  A failed row keeps its place, counts ``attempts``,
  stores the error sentence in ``last_error`` and waits ``next_attempt_at``
  (capped exponential backoff).  Rows whose name is under no listed zone
  (``zone`` NULL) are not sendable: they are closed with a ``NOZONE`` error
  so ``dns status`` reports them, and ``dns reconcile`` publishes them once
  the zone is listed.

Rows are written by :mod:`.outbox` (the service layer's writer); this
module only adds :func:`enqueue_now` for the publisher's own re-derivations.
Also the read of the desired state (networks, HAs, active subscribers as
domain objects) that reconciliation compares a zone with.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased, selectinload

from .. import domain
from ..dnsrecords import DesiredState, OutboxRow, RRset
from ..store.engine import Store
from ..store.models import Binding, DnsOutbox, HomeAgent, Network, Subscriber, utcnow
from . import outbox, views

CLAIM_LOCK_KEY = 0x6D697036_646E73
"""PostgreSQL advisory lock id ('mip6' 'dns') serialising outbox claims."""


@dataclass(frozen=True, slots=True)
class ZoneStatus:
    zone: str | None
    pending: int
    oldest: dt.datetime | None
    next_attempt: dt.datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """``dns status``: depth, oldest change and last error per zone."""

    zones: tuple[ZoneStatus, ...]
    pending: int
    unroutable: int
    """Rows closed with NOZONE (their name is under no listed zone)."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else utcnow()


def enqueue_now(store: Store, rrsets: Iterable[RRset], zones: Sequence[str], reason: str) -> int:
    """:func:`outbox.enqueue` in a transaction of its own (liveness, reconcile)."""
    with store.session() as s:
        return outbox.enqueue(s, list(rrsets), zones, reason)


def claim(
    store: Store, owner: str, limit: int, lease: float, now: dt.datetime | None = None
) -> list[OutboxRow]:
    """Claim up to ``limit`` due rows in id order for ``owner`` for ``lease`` seconds.

    One ``UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING``; on SQLite the
    transaction holds the single writer lock from its first statement, on
    PostgreSQL the advisory lock keeps concurrent claimers from both seeing a
    row (or an RRset) as free under READ COMMITTED.
    """
    now = _now(now)
    o = DnsOutbox
    p = aliased(DnsOutbox)
    with store.session() as s:
        if store.is_postgresql:
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CLAIM_LOCK_KEY})
        s.connection().execute(
            update(o)
            .where(o.zone.is_(None), o.done_at.is_(None))
            .values(
                done_at=now,
                last_error="NOZONE: the name is under no zone listed for its network; not sent",
            )
        )
        # Names with a row claimed by anyone or waiting for a retry: their newer rows
        # wait.  ``name NOT IN (subquery)`` is a hashed subplan on PostgreSQL even
        # before the table has statistics (NOT EXISTS became a quadratic nested loop)
        # and an ephemeral index on SQLite (a (name, rdtype) row value was quadratic).
        blocked = select(p.name).where(
            p.done_at.is_(None), or_(p.claimed_until >= now, p.next_attempt_at > now)
        )
        free = or_(o.claimed_until.is_(None), o.claimed_until < now)
        due = or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now)
        ids = (
            select(o.id)
            .where(o.done_at.is_(None), o.zone.is_not(None), free, due)
            .where(o.name.not_in(blocked))
            .order_by(o.id)
            .limit(limit)
        )
        stmt = (
            update(o)
            .where(o.id.in_(ids))
            .values(claimed_by=owner[:128], claimed_until=now + dt.timedelta(seconds=lease))
            .returning(o.id, o.zone, o.name, o.rdtype, o.rdatas, o.attempts, o.reason)
        )
        got = sorted(s.connection().execute(stmt))  # RETURNING order is not defined
        ours = _published(s, store, sorted({r[2] for r in got}))
        return [  # plain tuples: this loop runs for every row we publish
            OutboxRow(
                rid,
                zone or "",
                name,
                rdtype,
                tuple(rdatas or ()),
                attempts,
                reason,
                (name, rdtype) in ours,
            )
            for rid, zone, name, rdtype, rdatas, attempts, reason in got
        ]


def _published(s: Session, store: Store, names: Sequence[str]) -> set[tuple[str, str]]:
    """(name, rdtype) pairs among ``names`` that some sent row published (done, no error)."""
    o = DnsOutbox
    out: set[tuple[str, str]] = set()
    if not names:
        return out
    if store.is_postgresql:
        conds = [o.name == any_(bindparam(None, list(names), type_=ARRAY(String)))]
    else:
        conds = [o.name.in_(names[i : i + 900]) for i in range(0, len(names), 900)]
    for cond in conds:
        q = (
            select(o.name, o.rdtype)
            .where(cond, o.done_at.is_not(None), o.zone.is_not(None), o.last_error.is_(None))
            .distinct()
        )
        out.update((n, t) for n, t in s.connection().execute(q))
    return out


def _id_sets(store: Store, ids: Sequence[int]) -> Iterable[ColumnElement[bool]]:
    """``id`` conditions covering ``ids``: one array on PostgreSQL, IN chunks on SQLite.

    Marking thousands of rows per second is the publisher's store cost; one
    ``id = ANY(:array)`` halves it on PostgreSQL compared with IN lists.
    """
    if not ids:
        return
    if store.is_postgresql:
        yield DnsOutbox.id == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger)))
        return
    for i in range(0, len(ids), 900):
        yield DnsOutbox.id.in_(ids[i : i + 900])


def mark_done(store: Store, ids: Sequence[int], now: dt.datetime | None = None) -> None:
    """The rows' changes are in DNS: close them (a done row without error = published)."""
    now = _now(now)
    with store.session() as s:
        for cond in _id_sets(store, ids):
            s.connection().execute(
                update(DnsOutbox)
                .where(cond)
                .values(done_at=now, claimed_by=None, claimed_until=None, last_error=None)
            )


def mark_not_sent(
    store: Store, ids: Sequence[int], why: str, now: dt.datetime | None = None
) -> None:
    """Close rows that needed no UPDATE; ``why`` stays in ``last_error`` for the record.

    Such rows do not count as published (see :func:`_published`).
    """
    now = _now(now)
    with store.session() as s:
        for cond in _id_sets(store, ids):
            s.connection().execute(
                update(DnsOutbox)
                .where(cond)
                .values(done_at=now, claimed_by=None, claimed_until=None, last_error=why)
            )


def mark_failed(store: Store, due: Sequence[tuple[int, dt.datetime]], error: str) -> None:
    """Keep the rows pending, count the attempt, note the error, retry each at its time.

    ``due`` is (row id, next attempt) as the publisher's send plan decided
    (its backoff rule); ``error`` is the failure's sentence.
    """
    by_time: dict[dt.datetime, list[int]] = defaultdict(list)
    for rid, at in due:
        by_time[at].append(rid)
    with store.session() as s:
        for retry, ids in by_time.items():
            for cond in _id_sets(store, ids):
                s.connection().execute(
                    update(DnsOutbox)
                    .where(cond)
                    .values(
                        attempts=DnsOutbox.attempts + 1,
                        last_error=error,
                        next_attempt_at=retry,
                        claimed_by=None,
                        claimed_until=None,
                    )
                )


def release(store: Store, ids: Sequence[int]) -> None:
    """Give back claimed rows that were not sent (shutdown)."""
    with store.session() as s:
        for cond in _id_sets(store, ids):
            s.connection().execute(
                update(DnsOutbox)
                .where(cond, DnsOutbox.done_at.is_(None))
                .values(claimed_by=None, claimed_until=None)
            )


def make_due(store: Store) -> int:
    """Cancel every pending backoff (``dns flush``: send everything now)."""
    with store.session() as s:
        res = s.connection().execute(
            update(DnsOutbox)
            .where(DnsOutbox.done_at.is_(None), DnsOutbox.next_attempt_at.is_not(None))
            .values(next_attempt_at=None)
        )
        return int(getattr(res, "rowcount", 0) or 0)


def pending_count(store: Store) -> int:
    with store.session() as s:
        n = s.scalar(select(func.count()).where(DnsOutbox.done_at.is_(None)))
        return int(n or 0)


def has_work(store: Store, now: dt.datetime | None = None) -> bool:
    """True when a claim would do something: a due, free row, or a row with no zone.

    A read-only probe, so an idle publisher polls without write transactions.
    """
    now = _now(now)
    o = DnsOutbox
    with store.session() as s:
        q = select(o.id).where(
            o.done_at.is_(None),
            or_(
                o.zone.is_(None),
                and_(
                    or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
                    or_(o.claimed_until.is_(None), o.claimed_until < now),
                ),
            ),
        )
        return s.connection().execute(q.limit(1)).first() is not None


def pending_reasons(store: Store, limit: int = 20) -> list[tuple[str, int]]:
    """(last error or 'not tried yet', rows) for pending rows, biggest first."""
    o = DnsOutbox
    with store.session() as s:
        q = (
            select(o.last_error, func.count())
            .where(o.done_at.is_(None))
            .group_by(o.last_error)
            .order_by(func.count().desc())
            .limit(limit)
        )
        return [(err or "not tried yet", int(n)) for err, n in s.execute(q)]


def status(store: Store) -> OutboxStatus:
    """Outbox depth, oldest pending change, next retry and last error per zone."""
    o = DnsOutbox
    with store.session() as s:
        agg = s.execute(
            select(o.zone, func.count(), func.min(o.created_at), func.max(o.next_attempt_at))
            .where(o.done_at.is_(None))
            .group_by(o.zone)
            .order_by(o.zone)
        ).all()
        last_ids = dict(
            s.execute(
                select(o.zone, func.max(o.id))
                .where(o.done_at.is_(None), o.last_error.is_not(None))
                .group_by(o.zone)
            ).all()
        )
        errors: dict[str | None, str | None] = {}
        if last_ids:
            for zone, err in s.execute(
                select(o.zone, o.last_error).where(o.id.in_(list(last_ids.values())))
            ):
                errors[zone] = err
        unroutable = s.scalar(
            select(func.count()).where(
                o.zone.is_(None), o.done_at.is_not(None), o.last_error.like("NOZONE%")
            )
        )
        zones = tuple(
            ZoneStatus(
                zone=z,
                pending=int(n),
                oldest=views.aware(oldest),
                next_attempt=views.aware(nxt),
                last_error=errors.get(z),
            )
            for z, n, oldest, nxt in agg
        )
        return OutboxStatus(
            zones=zones, pending=sum(z.pending for z in zones), unroutable=int(unroutable or 0)
        )


def owned_names(store: Store, zone: str) -> set[tuple[str, str]]:
    """Every (name, rdtype) we ever published in ``zone``: names we own.

    A row that was sent and marked done without error counts; a row that never
    got through (say, refused by our first-publication guard) does not, so
    reconciliation never deletes records someone else created.
    """
    o = DnsOutbox
    with store.session() as s:
        q = (
            select(o.name, o.rdtype)
            .where(o.zone == zone, o.done_at.is_not(None), o.last_error.is_(None))
            .distinct()
        )
        return {(n, t) for n, t in s.execute(q)}


def desired_state(store: Store) -> DesiredState:
    """Every network, HA and active subscriber (with addresses) and who is registered."""
    with store.session() as s:
        nets = list(s.scalars(select(Network).order_by(Network.id)))
        by_id = {n.id: n.domain for n in nets}
        has = list(s.scalars(select(HomeAgent).order_by(HomeAgent.id)))
        ha_by_id = {h.id: h.fqdn for h in has}
        subs = s.scalars(
            select(Subscriber)
            .where(Subscriber.state == domain.SubscriberState.ACTIVE.value)
            .options(selectinload(Subscriber.addresses))
            .order_by(Subscriber.id)
        )
        subscribers = tuple(
            views.subscriber(
                row,
                by_id[row.network_id],
                ha_by_id.get(row.home_agent_id) if row.home_agent_id else None,
                list(row.addresses),
            )
            for row in subs
        )
        registered = frozenset(
            s.scalars(
                select(Binding.subscriber_id).where(and_(Binding.down_at.is_(None))).distinct()
            )
        )
        return DesiredState(
            networks=tuple(views.network(n) for n in nets),
            home_agents=tuple(views.home_agent(h, by_id[h.network_id]) for h in has),
            subscribers=subscribers,
            registered=registered,
        )
