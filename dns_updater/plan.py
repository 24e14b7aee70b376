"""Pure planning: outbox rows -> UPDATE batches; desired state vs zone -> changes.

No I/O and no clock: callers pass ``now``.  The inputs are plain values
(:class:`~bootstrap.dnsrecords.OutboxRow`, :class:`~bootstrap.dnsrecords.DesiredState`),
so nothing here reaches the store.  The record content itself comes from
:mod:`bootstrap.dnsrecords` (the one rule), which the service layer also
uses when it writes outbox rows.  What to do once the server answered a
batch is :mod:`.sendplan`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bootstrap.dnsrecords import (
    DesiredState,
    OutboxRow,
    RRset,
    network_rrsets,
    subscriber_rrsets,
    zone_for,
)
from bootstrap.domain import PublishMode, absolute_name

from .errors import Failure, Kind
from .wire import Change, RecordError, UpdateBuilder, rdata_wire

RECONCILE = "reconcile"
"""The reason of rows written by reconciliation."""
OWNED_TYPES = frozenset({"SRV", "AAAA", "A", "PTR"})
"""The only types reconciliation ever looks at or touches."""

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Batch:
    """One UPDATE: its zone, its changes, and every outbox row it settles."""

    zone: str
    changes: tuple[Change, ...] = ()
    rows: tuple[tuple[OutboxRow, ...], ...] = ()
    """``rows[i]``: the rows settled by ``changes[i]`` (older rows it supersedes too)."""

    @property
    def all_rows(self) -> tuple[OutboxRow, ...]:
        return tuple(r for rs in self.rows for r in rs)


Settled = tuple[OutboxRow, ...]
"""The rows one change settles (the newest row of an RRset and the older ones it supersedes)."""


def collapse(rows: Sequence[OutboxRow]) -> dict[str, list[tuple[Change, Settled]]]:
    """Per zone, one change per RRset: the newest row wins, older ones ride along.

    Each row replaces the whole RRset, so sending only the newest value of a
    (name, type) gives the same end state as sending all of them in order.
    A first publication (no row of the RRset was ever sent) is guarded by an
    "RRset does not exist" prerequisite, so we never overwrite records we did
    not create; ``reconcile`` rows are the operator's explicit take-over and
    are not guarded.
    """
    per_zone: dict[str, dict[Key, tuple[Change, Settled]]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        name = absolute_name(row.name)
        key = (name, row.rdtype)
        zone = per_zone.setdefault(row.zone, {})
        prev = zone.pop(key, None)
        settled = (prev[1] if prev else ()) + (row,)
        ours = any(r.published for r in settled) or row.reason == RECONCILE
        zone[key] = (Change(name, row.rdtype, row.rdatas, guard=not ours), settled)
    return {z: list(v.values()) for z, v in per_zone.items()}


def batches(
    rows: Sequence[OutboxRow], ttl: int, max_records: int
) -> tuple[list[tuple[Batch, bytes]], list[tuple[Settled, Failure]], list[OutboxRow]]:
    """Group rows into signed-ready UPDATE bodies of at most ``max_records`` records.

    Returns (batches with their unsigned wire, rows that cannot be encoded with
    the failure, rows settled without sending).  A bad record is isolated here,
    before anything is sent.  Deleting an RRset we never published is not
    sent: whatever is there is not ours.
    """
    out: list[tuple[Batch, bytes]] = []
    bad: list[tuple[Settled, Failure]] = []
    nothing: list[OutboxRow] = []
    for zone, items in collapse(rows).items():
        send = []
        for change, settled in items:
            if change.guard and not change.rdatas:
                nothing.extend(settled)
            else:
                send.append((change, settled))
        out.extend(_pack(zone, send, ttl, max_records, bad))
    return out, bad, nothing


def _pack(
    zone: str,
    items: Iterable[tuple[Change, Settled]],
    ttl: int,
    max_records: int,
    bad: list[tuple[Settled, Failure]],
) -> list[tuple[Batch, bytes]]:
    out: list[tuple[Batch, bytes]] = []
    builder = UpdateBuilder(zone, ttl)
    changes: list[Change] = []
    settles: list[Settled] = []

    def close() -> None:
        nonlocal builder, changes, settles
        out.append((Batch(zone, tuple(changes), tuple(settles)), builder.wire()))
        builder, changes, settles = UpdateBuilder(zone, ttl), [], []

    for change, settled in items:
        if builder.records and builder.records + change.records > max_records:
            close()
        try:
            if not builder.add(change):
                close()
                builder.add(change)
        except RecordError as exc:
            bad.append((settled, Failure(Kind.BADRECORD, str(exc))))
            continue
        changes.append(change)
        settles.append(settled)
    if changes:
        close()
    return out


def split(batch: Batch, ttl: int) -> list[tuple[Batch, bytes]]:
    """Two halves of ``batch`` (to find the record a server refuses)."""
    mid = len(batch.changes) // 2
    halves = []
    for lo, hi in ((0, mid), (mid, len(batch.changes))):
        part = Batch(batch.zone, batch.changes[lo:hi], batch.rows[lo:hi])
        b = UpdateBuilder(batch.zone, ttl)
        for c in part.changes:
            b.add(c)
        halves.append((part, b.wire()))
    return halves


def desired_rrsets(
    state: DesiredState, publish: PublishMode, now: dt.datetime, heartbeat_timeout: dt.timedelta
) -> tuple[dict[str, dict[Key, tuple[str, ...]]], list[RRset]]:
    """Per zone, (name, type) -> rdatas the store wants; plus RRsets under no listed zone.

    Only non-empty RRsets are listed (an absent key means "should not exist").
    """
    zones_of = {n.id: n.zones for n in state.networks}
    out: dict[str, dict[Key, tuple[str, ...]]] = {}
    lost: list[RRset] = []

    def put(rr: RRset, zones: Sequence[str]) -> None:
        if not rr.rdatas:
            return
        zone = zone_for(rr.name, zones)
        if zone is None:
            lost.append(rr)
            return
        out.setdefault(zone, {})[(rr.name, rr.rdtype)] = rr.rdatas

    for net in state.networks:
        for rr in network_rrsets(net, state.home_agents, now, heartbeat_timeout):
            put(rr, net.zones)
    for sub in state.subscribers:
        shown = publish is PublishMode.ENROLL or sub.id in state.registered
        for rr in subscriber_rrsets(sub, shown):
            put(rr, zones_of.get(sub.network_id, ()))
    return out, lost


def moved(last: Mapping[Key, tuple[str, ...]], rrsets: Iterable[RRset]) -> list[RRset]:
    """The RRsets whose content differs from ``last`` (never seen counts as moved).

    The liveness task enqueues exactly these after each look at the HAs.
    """
    return [rr for rr in rrsets if last.get((rr.name, rr.rdtype)) != rr.rdatas]


def canonical(rdtype: str, rdatas: Iterable[str]) -> frozenset[bytes]:
    """Compare rdatas by wire form, so text spelling differences do not count."""
    out = set()
    for t in rdatas:
        try:
            out.add(rdata_wire(rdtype, t.lower()))
        except RecordError:
            out.add(t.encode())
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Difference:
    """One RRset that differs: what the zone has and what the store wants."""

    zone: str
    name: str
    rdtype: str
    have: tuple[str, ...]
    want: tuple[str, ...]


def diff(
    zone: str,
    want: Mapping[Key, tuple[str, ...]],
    have: Mapping[Key, tuple[str, ...]],
    owned: Iterable[Key],
) -> list[Difference]:
    """RRsets to change so ``have`` matches ``want``, touching only names/types we own.

    We own every (name, type) the store wants now or ever asked the outbox
    for; anything else in the zone (NS, SOA, operator records) is left alone.
    """
    keys = set(want) | {k for k in owned if k in have}
    out = []
    for key in sorted(keys):
        name, rdtype = key
        if rdtype not in OWNED_TYPES:
            continue
        w = want.get(key, ())
        h = have.get(key, ())
        if canonical(rdtype, w) != canonical(rdtype, h):
            out.append(Difference(zone, name, rdtype, tuple(sorted(h)), tuple(sorted(w))))
    return out
