"""In-memory snapshots of networks and home agents for the per-packet paths.

A face builds one :class:`~bootstrap.domain.Snapshot` at start, then
:class:`SnapshotFollower` polls the ``topology`` change version (one
primary-key read) every ``interval`` seconds and rebuilds the snapshot only
when the number moved.  Heartbeats do not bump the version (they would churn
every snapshot every few seconds); instead the follower also rebuilds at
least every ``max_age`` seconds so liveness judged from heartbeats stays
fresh.  The DHCP responder answers from ``follower.snapshot`` and never
queries the database per packet.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import select

from ..domain import Snapshot
from ..freshness import FRESHNESS
from ..store.engine import Store
from ..store.models import HomeAgent, Network, Setting
from . import versions, views

log = logging.getLogger(__name__)

SERVER_DUID_KEY = "dhcp6.server_duid"


def load(store: Store) -> Snapshot:
    """Read every network and home agent at one consistent version."""
    with store.read_session() as s:
        ver = versions.current_in(s, versions.TOPOLOGY)
        nets = list(s.scalars(select(Network).order_by(Network.id)))
        by_id = {n.id: n.domain for n in nets}
        has = list(s.scalars(select(HomeAgent).order_by(HomeAgent.id)))
        duid_row = s.get(Setting, SERVER_DUID_KEY)
        return Snapshot(
            version=ver,
            networks=tuple(views.network(n) for n in nets),
            home_agents=tuple(views.home_agent(h, by_id[h.network_id]) for h in has),
            server_duid=(duid_row.blob or b"") if duid_row else b"",
        )


class SnapshotFollower:
    """Keeps ``snapshot`` current; ``run()`` is the polling task."""

    def __init__(
        self,
        store: Store,
        interval: float = 1.0,
        max_age: float = 15.0,
        on_change: Callable[[Snapshot], None] | None = None,
        service: str = "dhcp",
    ) -> None:
        self.store = store
        self.service = service
        self.interval = interval
        self.max_age = max_age
        self.on_change = on_change
        self.snapshot = load(store)
        self._built = time.monotonic()
        FRESHNESS.refreshed(service, "snapshot")

    def refresh(self) -> bool:
        """Rebuild if the version moved or the snapshot is old; True if rebuilt."""
        with self.store.read_session() as s:
            ver = versions.current_in(s, versions.TOPOLOGY)
        stale = time.monotonic() - self._built >= self.max_age
        if ver == self.snapshot.version and not stale:
            return False
        self.snapshot = load(self.store)
        self._built = time.monotonic()
        if self.on_change is not None:
            self.on_change(self.snapshot)
        return True

    async def run(self) -> None:
        """Poll forever; a database outage keeps the last snapshot and logs once."""
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await asyncio.to_thread(self.refresh)
                FRESHNESS.refreshed(self.service, "snapshot")
                if failing:
                    log.info("store reachable again; snapshot refreshed")
                failing = False
            except Exception as exc:  # keep serving the last good snapshot
                FRESHNESS.failed(self.service, "answering from the last snapshot")
                if not failing:
                    log.warning("cannot refresh snapshot, keeping the last one: %s", exc)
                failing = True
