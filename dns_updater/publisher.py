"""Draining the DNS outbox into the server: claim, batch, send, mark.

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
import functools
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import Counter

from bootstrap.config import DnsConfig
from bootstrap.services import dnsoutbox
from bootstrap.services.dnsoutbox import OutboxRow
from bootstrap.store.engine import Store

from . import plan
from .errors import Kind, UpdateFailure
from .transport import UpdateClient

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_SPLIT_DEPTH = 4
"""A refused batch is halved at most this often (<= 16 parts) to isolate a bad record."""

NOT_OURS = "NOTSENT: delete of an RRset we never published; whatever is there is not ours"

ROWS = Counter("mip6bs_dns_rows_total", "Outbox rows settled by the publisher", ["result"])
MESSAGES = Counter("mip6bs_dns_updates_total", "UPDATE messages sent", ["result"])


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
    """Sends outbox rows of every zone to one primary server."""

    def __init__(self, store: Store, cfg: DnsConfig, client: UpdateClient, owner: str) -> None:
        self.store = store
        self.cfg = cfg
        self.client = client
        self.owner = owner
        self.claim_limit = max(cfg.batch_size * max(cfg.max_in_flight, 1), 1)
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
            dnsoutbox.claim, self.store, self.owner, self.claim_limit, self.cfg.claim_seconds
        )

    async def drain_once(self) -> DrainResult:
        """Claim one slice of due rows, send it, and record the outcome."""
        return await self._process(await self._claim())

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
        self, rows: list[OutboxRow], settling: list[asyncio.Task[None]] | None = None
    ) -> DrainResult:
        """Send ``rows`` and record the outcome.

        With ``settling`` the marking runs in the background while the next slice
        is sent; the rows stay claimed until it is done, so the order per name
        holds.  At most one marking is outstanding.
        """
        result = DrainResult()
        result.claimed = len(rows)
        if not rows:
            return result
        done: list[OutboxRow] = []
        skipped: list[OutboxRow] = []
        failed: list[tuple[list[OutboxRow], str]] = []
        try:
            batches, bad, nothing = plan.batches(rows, self.cfg.ttl, self.cfg.batch_size)
            failed.extend(bad)
            skipped.extend(nothing)
            await asyncio.gather(
                *(self._send(b, w, 0, done, failed, result) for b, w in batches)
            )
        except BaseException:
            settled = {r.id for r in done + skipped} | {r.id for rs, _ in failed for r in rs}
            left = [r.id for r in rows if r.id not in settled]
            await asyncio.shield(self._in_db(self._settle, done, skipped, failed, left))
            raise
        settle = self._in_db(self._settle, done, skipped, failed, [])
        if settling is None:
            await settle
        else:
            while settling:
                await settling.pop()
            settling.append(asyncio.create_task(settle))
        result.done = len(done) + len(skipped)
        result.done_ids = [r.id for r in done + skipped]
        result.failed = sum(len(rs) for rs, _ in failed)
        for rs, err in failed:
            kind = err.split(":", 1)[0]
            result.errors[kind] = result.errors.get(kind, 0) + len(rs)
        return result

    def _settle(
        self,
        done: list[OutboxRow],
        skipped: list[OutboxRow],
        failed: list[tuple[list[OutboxRow], str]],
        left: list[int],
    ) -> None:
        if done:
            dnsoutbox.mark_done(self.store, [r.id for r in done])
            ROWS.labels("done").inc(len(done))
        if skipped:
            dnsoutbox.mark_not_sent(self.store, [r.id for r in skipped], NOT_OURS)
            ROWS.labels("not_sent").inc(len(skipped))
        for rows, error in failed:
            dnsoutbox.mark_failed(
                self.store, rows, error, self.cfg.backoff_initial, self.cfg.backoff_cap
            )
            ROWS.labels("failed").inc(len(rows))
            log.warning("%d DNS outbox rows not published: %s", len(rows), error)
        if left:
            dnsoutbox.release(self.store, left)

    async def _send(
        self,
        batch: plan.Batch,
        unsigned: bytes,
        depth: int,
        done: list[OutboxRow],
        failed: list[tuple[list[OutboxRow], str]],
        result: DrainResult,
    ) -> None:
        result.messages += 1
        try:
            await self.client.send(batch.zone, unsigned)
        except UpdateFailure as exc:
            MESSAGES.labels(exc.kind.value).inc()
            # a failed prerequisite is one of our guards: bisect to the very change
            deep = exc.kind is Kind.YXRRSET or depth < MAX_SPLIT_DEPTH
            if exc.retry_by_split and len(batch.changes) > 1 and deep:
                for part, w in plan.split(batch, self.cfg.ttl):
                    await self._send(part, w, depth + 1, done, failed, result)
                return
            if exc.kind is Kind.YXRRSET and len(batch.changes) == 1:
                await self._adopt_or_refuse(batch, done, failed)
                return
            failed.append((batch.all_rows, str(exc)))
            return
        MESSAGES.labels("ok").inc()
        done.extend(batch.all_rows)

    async def _adopt_or_refuse(
        self,
        batch: plan.Batch,
        done: list[OutboxRow],
        failed: list[tuple[list[OutboxRow], str]],
    ) -> None:
        """A first publication met an existing RRset: equal is ours now, else refuse.

        Equal happens after a crash between send and mark, or when an HA's
        address was already in the zone file; anything else belongs to someone
        else and stays untouched until an operator runs ``dns reconcile``.
        """
        change = batch.changes[0]
        try:
            have = await self.client.lookup(batch.zone, change.name, change.rdtype)
        except UpdateFailure as exc:
            failed.append((batch.all_rows, str(exc)))
            return
        if plan.canonical(change.rdtype, have) == plan.canonical(change.rdtype, change.rdatas):
            done.extend(batch.all_rows)
            return
        failed.append((
            batch.all_rows,
            f"YXRRSET: {change.name} {change.rdtype} already holds {', '.join(have)}, which we "
            "did not publish; it is left alone (remove it, or take it over with "
            "'bootstrapctl dns reconcile')",
        ))

    async def run(self) -> None:
        """Drain forever; sleep ``poll_interval`` whenever nothing is due."""
        failing = False
        while True:
            try:
                if await self._in_db(dnsoutbox.has_work, self.store):
                    await self.drain()
                if failing:
                    log.info("DNS outbox reachable again")
                failing = False
            except Exception as exc:  # store outage: keep going, rows stay in the outbox
                if not failing:
                    log.warning("DNS outbox pass failed, will retry: %s", exc)
                failing = True
            await asyncio.sleep(self.cfg.poll_interval)

    async def flush(self) -> DrainResult:
        """Send every pending row now (backoff cancelled), each at most once more."""
        await self._in_db(dnsoutbox.make_due, self.store)
        return await self.drain()
