"""The send plan: what to do with a claim's rows, and after every answer of the server.

Every decision of the publisher lives here as a pure function of (what was
sent, what came back, ``now``) -> actions, in the manner of a sans-IO
protocol object: :func:`start` turns claimed rows into the first actions,
:func:`after_send` decides after an UPDATE's outcome, :func:`after_lookup`
after the look-up of an RRset a first publication met.  The asyncio
:class:`~dns_updater.publisher.Publisher` only executes the actions (send a
message, look an RRset up, mark rows in the store) and supplies the clock.

The rules, in one place:

* **Publish**: an applied UPDATE settles every row of its batch.
* **Split**: a failure that one bad change can cause (:data:`SPLITTABLE`)
  halves the batch and sends both halves, at most :data:`MAX_SPLIT_DEPTH`
  times deep (<= 16 parts); a failed prerequisite (YXRRSET) is always
  bisected down to the one change, since it is one of our guards.
* **Adopt**: a single first publication that met an existing RRset is
  looked up; if the server holds exactly what we want (a crash between send
  and mark, an HA address already in the zone file) it is ours now,
  otherwise it belongs to someone else and the row waits (the operator takes
  it over with ``bootstrapctl dns reconcile``).
* **Back off**: any other failure keeps the rows pending until
  ``now + backoff(attempts)`` (doubling from ``backoff_initial``, capped).
* **Close**: deleting an RRset we never published is not sent at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bootstrap.dnsrecords import OutboxRow

from . import plan
from .errors import Failure, Kind

MAX_SPLIT_DEPTH = 4
"""A refused batch is halved at most this often (<= 16 parts) to isolate a bad record."""

SPLITTABLE = frozenset(
    {Kind.REFUSED, Kind.NOTZONE, Kind.SERVFAIL, Kind.FORMERR, Kind.RCODE, Kind.YXRRSET}
)
"""Kinds that one bad record in a batch can cause: the batch is split to isolate it.

Key, clock and transport failures (BADSIG, BADKEY, BADTIME, TIMEOUT,
CONNREFUSED, NETWORK) and NOTAUTH concern the whole server or zone: splitting
would only multiply the messages.
"""

NOT_OURS = "NOTSENT: delete of an RRset we never published; whatever is there is not ours"
"""``last_error`` of rows closed without sending (they do not count as published)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The numbers the decisions depend on (from :class:`~dns_updater.settings.DnsSettings`)."""

    ttl: int
    max_records: int
    """Records per UPDATE message."""
    backoff_initial: float
    backoff_cap: float
    max_split_depth: int = MAX_SPLIT_DEPTH


# ---- what the server said ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    """The server applied the UPDATE (NOERROR)."""


APPLIED = Applied()

Outcome = Applied | Failure
"""The result of one UPDATE: applied, or a typed failure (rcode, TSIG, timeout, refused)."""


@dataclass(frozen=True, slots=True)
class Holds:
    """The rdatas the server holds for the looked-up RRset (empty: none)."""

    rdatas: tuple[str, ...]


LookupOutcome = Holds | Failure


# ---- what to do -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``wire`` (unsigned) for ``batch``; ``depth`` counts the halvings so far."""

    batch: plan.Batch
    wire: bytes
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Lookup:
    """Ask the server what it holds for the single change of ``batch``."""

    batch: plan.Batch


@dataclass(frozen=True, slots=True)
class Publish:
    """Mark ``rows`` done: their change is in DNS (sent, or adopted when ``adopted``)."""

    rows: tuple[OutboxRow, ...]
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class Retry:
    """Keep ``rows`` pending with ``failure`` until ``due[i]`` (row ``rows[i]``)."""

    rows: tuple[OutboxRow, ...]
    failure: Failure
    due: tuple[dt.datetime, ...]


@dataclass(frozen=True, slots=True)
class Close:
    """Settle ``rows`` without sending; ``reason`` stays in their ``last_error``."""

    rows: tuple[OutboxRow, ...]
    reason: str


Action = Send | Lookup | Publish | Retry | Close
Settle = Publish | Retry | Close
"""The actions that end a row's part in this claim (the store records them)."""


def backoff(attempts: int, initial: float, cap: float) -> float:
    """Seconds to wait after the ``attempts``-th failure: doubling, capped."""
    return float(min(cap, initial * (2 ** min(max(attempts - 1, 0), 30))))


def retry(
    rows: Sequence[OutboxRow], failure: Failure, policy: Policy, now: dt.datetime
) -> Retry:
    """Back every row off by its own attempt count (this failure included)."""
    due = tuple(
        now + dt.timedelta(seconds=backoff(r.attempts + 1, policy.backoff_initial,
                                           policy.backoff_cap))
        for r in rows
    )
    return Retry(tuple(rows), failure, due)


def start(rows: Sequence[OutboxRow], policy: Policy, now: dt.datetime) -> list[Action]:
    """The first actions for claimed ``rows``: sends, plus what needs no sending."""
    batches, bad, nothing = plan.batches(rows, policy.ttl, policy.max_records)
    out: list[Action] = []
    if nothing:
        out.append(Close(tuple(nothing), NOT_OURS))
    out.extend(retry(settled, failure, policy, now) for settled, failure in bad)
    out.extend(Send(b, w) for b, w in batches)
    return out


def after_send(send: Send, outcome: Outcome, policy: Policy, now: dt.datetime) -> list[Action]:
    """Decide after the server answered ``send``: publish, split, look up, or back off."""
    batch = send.batch
    if isinstance(outcome, Applied):
        return [Publish(batch.all_rows)]
    kind = outcome.kind
    deep_enough = kind is Kind.YXRRSET or send.depth < policy.max_split_depth
    if kind in SPLITTABLE and len(batch.changes) > 1 and deep_enough:
        return [Send(part, w, send.depth + 1) for part, w in plan.split(batch, policy.ttl)]
    if kind is Kind.YXRRSET and len(batch.changes) == 1:
        return [Lookup(batch)]
    return [retry(batch.all_rows, outcome, policy, now)]


def after_lookup(
    lookup: Lookup, outcome: LookupOutcome, policy: Policy, now: dt.datetime
) -> list[Action]:
    """A first publication met an existing RRset: equal is ours now, anything else waits."""
    batch = lookup.batch
    if isinstance(outcome, Failure):
        return [retry(batch.all_rows, outcome, policy, now)]
    change = batch.changes[0]
    if plan.canonical(change.rdtype, outcome.rdatas) == plan.canonical(
        change.rdtype, change.rdatas
    ):
        return [Publish(batch.all_rows, adopted=True)]
    if not outcome.rdatas:
        gone = Failure(
            Kind.YXRRSET,
            f"{change.name} {change.rdtype} existed when we first sent it and is gone now; "
            "it is sent again at the next attempt",
        )
        return [retry(batch.all_rows, gone, policy, now)]
    held = ", ".join(outcome.rdatas)
    foreign = Failure(
        Kind.YXRRSET,
        f"{change.name} {change.rdtype} already holds {held}, which we did not publish; it is "
        "left alone (remove it, or take it over with 'bootstrapctl dns reconcile')",
    )
    return [retry(batch.all_rows, foreign, policy, now)]
