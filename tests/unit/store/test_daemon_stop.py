"""bootstrapd's stop (issue 14, finding 8): every service stops within the grace period.

The review saw ``bootstrapd --only vici`` ignore SIGTERM with live SAs: the
bridge waited for charon events with ``asyncio.wait_for``, which on Python 3.11
swallows a cancellation that arrives while an event is being handed over, and
the daemon cancelled once and waited forever.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bootstrap.daemon import stop_tasks
from ikev2_glue.bridge import next_event


async def _bridge_wait(q: asyncio.Queue[tuple[Any, Any]]) -> None:
    """The bridge's wait for charon events (its idle loop, without the store and charon)."""
    while True:
        try:
            await next_event(q, 0.5)
        except TimeoutError:
            continue


async def test_the_bridge_wait_never_swallows_a_cancel() -> None:
    """One cancel (what bootstrapd sends on SIGTERM) stops it under a stream of events."""
    q: asyncio.Queue[tuple[Any, Any]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    done = threading.Event()

    def feed() -> None:  # a steady stream of events, as 50 MNs with live SAs make
        while not done.is_set():
            asyncio.run_coroutine_threadsafe(q.put(("ike-updown", {})), loop).result(5)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    swallowed = 0
    try:
        for _ in range(100):
            task = asyncio.create_task(_bridge_wait(q), name="vici")
            await asyncio.sleep(0.003)
            task.cancel()
            finished, _ = await asyncio.wait([task], timeout=1.0)
            if not finished:
                swallowed += 1
                await stop_tasks([task], 3.0)
    finally:
        done.set()
        await asyncio.to_thread(feeder.join, 5)
    assert swallowed == 0


async def test_a_task_that_does_not_stop_is_reported_not_waited_for() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)  # started: a task cancelled before its first step just ends
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    stuck = await stop_tasks([task], 0.5)
    assert stuck == [task] and loop.time() - t0 < 1.5
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1)
