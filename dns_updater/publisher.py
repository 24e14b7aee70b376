"""Draining the DNS outbox into the server: claim, execute the send plan, mark.

The publisher decides nothing itself: :mod:`.sendplan` says what to send,
split, look up, adopt, retry (and until when) or close; this module carries
those actions out over the network and in the store, and supplies the clock.
One :class:`Publisher` per process; several may share one PostgreSQL store
(claims keep them from sending the same row).  Store calls run on one worker
thread of the publisher; the sends of one claim run concurrently, bounded by
the client's in-flight limit, while the next slice is claimed.  Each RRset
appears in exactly one batch of a claim, and no row of a name is claimable
while another row of that name is claimed or waiting to be retried, so
changes reach DNS in order per name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import Counter

from bootstrap.context import Store
from bootstrap.dnsrecords import OutboxRow
from bootstrap.freshness import FRESHNESS
from bootstrap.services import dnsoutbox

from . import sendplan
from .errors import Failure, UpdateFailure
from .sendplan import Action, Close, Lookup, Publish, Retry, Send, Settle
from .settings import DnsSettings
from .transport import UpdateClient

log = logging.getLogger(__name__)
T = TypeVar("T")

ROWS = Counter("mip6bs_dns_rows_total", "Outbox rows settled by the publisher", ["result"])
MESSAGES = Counter("mip6bs_dns_updates_total", "UPDATE messages sent", ["result"])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class DrainResult:
    """What one pass did: rows settled, rows that failed, and why."""

    claimed: int = 0
    done: int = 0
    failed: int = 0
    messages: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    done_ids: list[int] = field(default_factory=list)

    def add(self, other: DrainResult) -> None:
        self.claimed += other.claimed
        self.done += other.done
        self.failed += other.failed
        self.messages += other.messages
        self.done_ids += other.done_ids
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v


def publisher_id() -> str:
    """``host:pid`` names a claim's owner in the outbox."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Publisher:
    """Sends outbox rows of every zone to one primary server.

    It executes the actions of :mod:`.sendplan` (which decides everything:
    what to send, split, adopt or retry, and until when) and supplies the
    clock; it never inspects a failure beyond handing it to the plan.
    """

    def __init__(
        self, store: Store, settings: DnsSettings, client: UpdateClient, owner: str
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.owner = owner
        self.policy = sendplan.Policy(
            ttl=settings.ttl,
            max_records=settings.batch_size,
            backoff_initial=settings.backoff_initial,
            backoff_cap=settings.backoff_cap,
        )
        # every store call runs on this one thread: claims and marks never contend
        # for the SQLite writer lock, yet they overlap with the sending
        self._db = ThreadPoolExecutor(1, thread_name_prefix="dns-outbox")

    async def _in_db(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(fn, *args))

    async def close(self) -> None:
        """Close the server connections and the store thread."""
        await self.client.close()
        self._db.shutdown(wait=False)

    async def _claim(self) -> list[OutboxRow]:
        return await self._in_db(
            dnsoutbox.claim,
            self.store,
            self.owner,
            self.settings.claim_limit,
            self.settings.claim_seconds,
        )

    async def drain(self) -> DrainResult:
        """Send slices until nothing is due, claiming the next slice while one is sent.

        The prefetched claim cannot reorder a name: rows of names that still have
        a claimed row (ours, being sent or marked) are not claimable.
        """
        total = DrainResult()
        pending = asyncio.create_task(self._claim())
        settling: list[asyncio.Task[None]] = []
        try:
            while True:
                rows = await pending
                if not rows:
                    return total
                pending = asyncio.create_task(self._claim())
                total.add(await self._process(rows, settling))
        finally:
            for task in settling:
                await asyncio.shield(task)
            if not pending.cancelled():
                try:
                    left = await asyncio.shield(pending)
                except Exception:
                    left = []
                if left:
                    ids = [r.id for r in left]
                    await asyncio.shield(self._in_db(dnsoutbox.release, self.store, ids))

    async def _process(
        self, rows: list[OutboxRow], settling: list[asyncio.Task[None]]
    ) -> DrainResult:
        """Send ``rows`` and record the outcome.

        The marking runs in the background while the next slice is sent; the
        rows stay claimed until it is done, so the order per name holds.  At
        most one marking is outstanding.
        """
        result = DrainResult(claimed=len(rows))
        if not rows:
            return result
        settled: list[Settle] = []
        try:
            first = sendplan.start(rows, self.policy, _now())
            await asyncio.gather(*(self._execute(a, settled, result) for a in first))
        except BaseException:
            ids = {r.id for a in settled for r in a.rows}
            left = [r.id for r in rows if r.id not in ids]
            await asyncio.shield(self._in_db(self._settle, settled, left))
            raise
        while settling:
            await settling.pop()
        settling.append(asyncio.create_task(self._in_db(self._settle, settled, [])))
        for a in settled:
            if isinstance(a, Retry):
                result.failed += len(a.rows)
                kind = a.failure.kind.value
                result.errors[kind] = result.errors.get(kind, 0) + len(a.rows)
            else:
                result.done += len(a.rows)
                result.done_ids += [r.id for r in a.rows]
        return result

    async def _execute(self, action: Action, settled: list[Settle], result: DrainResult) -> None:
        """Carry ``action`` out and then whatever the plan decides from its outcome."""
        if isinstance(action, Send):
            result.messages += 1
            outcome = await self._send(action)
            follow = sendplan.after_send(action, outcome, self.policy, _now())
        elif isinstance(action, Lookup):
            change = action.batch.changes[0]
            try:
                found: sendplan.LookupOutcome = sendplan.Holds(
                    await self.client.lookup(action.batch.zone, change.name, change.rdtype)
                )
            except UpdateFailure as exc:
                found = exc.failure
            follow = sendplan.after_lookup(action, found, self.policy, _now())
        else:
            settled.append(action)
            return
        for nxt in follow:
            await self._execute(nxt, settled, result)

    async def _send(self, send: Send) -> sendplan.Outcome:
        try:
            await self.client.send(send.batch.zone, send.wire)
        except UpdateFailure as exc:
            MESSAGES.labels(exc.kind.value).inc()
            return exc.failure
        MESSAGES.labels("ok").inc()
        return sendplan.APPLIED

    def _settle(self, settled: Sequence[Settle], left: list[int]) -> None:
        """Record the plan's verdicts in the store (runs on the store thread)."""
        done = [r.id for a in settled if isinstance(a, Publish) for r in a.rows]
        if done:
            dnsoutbox.mark_done(self.store, done)
            ROWS.labels("done").inc(len(done))
        closed: dict[str, list[int]] = defaultdict(list)
        for a in settled:
            if isinstance(a, Close):
                closed[a.reason] += [r.id for r in a.rows]
        for reason, ids in closed.items():
            dnsoutbox.mark_not_sent(self.store, ids, reason)
            ROWS.labels("not_sent").inc(len(ids))
        for a in settled:
            if isinstance(a, Retry):
                self._failed(a.rows, a.failure, a.due)
        if left:
            dnsoutbox.release(self.store, left)

    def _failed(
        self, rows: Sequence[OutboxRow], failure: Failure, due: Sequence[dt.datetime]
    ) -> None:
        dnsoutbox.mark_failed(self.store, [(r.id, at) for r, at in zip(rows, due, strict=True)],
                              str(failure))
        ROWS.labels("failed").inc(len(rows))
        log.warning("%d DNS outbox rows not published: %s", len(rows), failure)

    async def run(self) -> None:
        """Drain forever; sleep ``poll_interval`` whenever nothing is due."""
        failing = False
        while True:
            try:
                if await self._in_db(dnsoutbox.has_work, self.store):
                    await self.drain()
                FRESHNESS.refreshed("dns", "outbox")
                if failing:
                    log.info("DNS outbox reachable again")
                failing = False
            except Exception as exc:  # store outage: keep going, rows stay in the outbox
                FRESHNESS.failed("dns", "waiting for the outbox")
                if not failing:
                    log.warning("DNS outbox pass failed, will retry: %s", exc)
                failing = True
            await asyncio.sleep(self.settings.poll_interval)

    async def flush(self) -> DrainResult:
        """Send every pending row now (backoff cancelled), each at most once more."""
        await self._in_db(dnsoutbox.make_due, self.store)
        return await self.drain()
