"""Background upkeep every bootstrapd runs: ending address quarantines."""

from __future__ import annotations

import asyncio
import logging

from ..config import Settings
from ..store.engine import Store
from . import allocation

log = logging.getLogger(__name__)

INTERVAL = 300.0


async def serve(settings: Settings, store: Store, interval: float = INTERVAL) -> None:
    """Release quarantined HoAs whose time is up, every ``interval`` seconds."""
    while True:
        try:
            n = await asyncio.to_thread(allocation.release_quarantined, store)
            if n:
                log.info("released %d home addresses from quarantine", n)
        except Exception as exc:  # the store may be down for a while; try again later
            log.warning("housekeeping failed, will retry: %s", exc)
        await asyncio.sleep(interval)
