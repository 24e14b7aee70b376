"""The dashboard's time series: sampled values and enrollments per day, from the store.

:func:`sample` records what the dashboard shows now (live bindings, DNS
outbox depth and the age of its oldest change, each HA's load and
capacity); the web face calls it every :data:`SAMPLE_EVERY` seconds and it
prunes samples older than :data:`RETENTION`.  Enrollments per day are
counted from the subscribers' enrollment times (indexed), not sampled.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, insert, select

from ..store.engine import Store
from ..store.models import HomeAgent, StatSample, Subscriber, utcnow
from . import dashboard, views

SAMPLE_EVERY = 300.0
RETENTION = dt.timedelta(days=35)
LIVE_BINDINGS = "live_bindings"
OUTBOX_DEPTH = "outbox_depth"
OUTBOX_AGE = "outbox_oldest_age"
HA_LOAD = "ha_load"
HA_CAPACITY = "ha_capacity"


@dataclass(frozen=True, slots=True)
class Point:
    at: dt.datetime
    value: float


def sample(store: Store, now: dt.datetime | None = None) -> int:
    """Record one sample of every metric at ``now``; returns the rows written."""
    now = now or utcnow()
    o = dashboard.outbox(store)
    age = (now - o.oldest).total_seconds() if o.oldest is not None else 0.0
    rows = [
        {"at": now, "metric": LIVE_BINDINGS, "key": "", "value": dashboard.live_bindings(store)},
        {"at": now, "metric": OUTBOX_DEPTH, "key": "", "value": o.depth},
        {"at": now, "metric": OUTBOX_AGE, "key": "", "value": max(age, 0.0)},
    ]
    with store.session() as s:
        for fqdn, assigned, capacity in s.execute(
            select(HomeAgent.fqdn, HomeAgent.assigned, HomeAgent.capacity)
        ):
            rows.append({"at": now, "metric": HA_LOAD, "key": fqdn, "value": assigned})
            rows.append({"at": now, "metric": HA_CAPACITY, "key": fqdn, "value": capacity})
        s.execute(insert(StatSample), rows)
        s.execute(delete(StatSample).where(StatSample.at < now - RETENTION))
    return len(rows)


def series(
    store: Store, metric: str, since: dt.timedelta, now: dt.datetime | None = None
) -> dict[str, list[Point]]:
    """The samples of ``metric`` over the last ``since``, by key, oldest first."""
    start = (now or utcnow()) - since
    out: dict[str, list[Point]] = defaultdict(list)
    q = (
        select(StatSample.key, StatSample.at, StatSample.value)
        .where(StatSample.metric == metric, StatSample.at >= start)
        .order_by(StatSample.at)
    )
    with store.session() as s:
        for key, at, value in s.execute(q):
            out[key].append(Point(views.aware(at) or at, float(value)))
    return dict(out)


def enrollments_per_day(
    store: Store, days: int = 14, now: dt.datetime | None = None
) -> list[tuple[dt.date, int]]:
    """(UTC day, subscribers enrolled that day) for the last ``days`` days, today last."""
    today = (now or utcnow()).astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime(first.year, first.month, first.day, tzinfo=dt.UTC)
    bounds = [start + dt.timedelta(days=i) for i in range(days + 1)]
    c = Subscriber.created_at
    # one range scan of the created_at index, one count per day (no date() per row)
    q = select(*(func.count().filter(and_(c >= lo, c < hi))
                 for lo, hi in zip(bounds, bounds[1:], strict=False))).where(c >= start)
    with store.session() as s:
        counts = s.execute(q).one()
    return [(first + dt.timedelta(days=i), int(counts[i] or 0)) for i in range(days)]
