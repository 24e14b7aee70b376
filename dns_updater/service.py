"""``bootstrapd --only dns``: the outbox publisher plus SRV/HA liveness.

SRV and HA address records depend on HA heartbeats, which change without a
store transaction (so without outbox rows).  The liveness task therefore
re-derives every network's RRsets from a fresh snapshot every
``[dns] liveness_interval`` seconds and enqueues those that changed; at start
it enqueues them all once (a handful of idempotent rows), so DNS is right
after a restart too.  Subscriber records only change in transactions, which
write their own rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from bootstrap.context import ServiceContext, Store
from bootstrap.dnsrecords import network_rrsets
from bootstrap.services import dnsoutbox, publish_mode, snapshot

from . import plan
from .publisher import Publisher, publisher_id
from .settings import DnsSettings, from_settings
from .transport import UpdateClient

log = logging.getLogger(__name__)


def make_publisher(settings: DnsSettings, store: Store, owner: str | None = None) -> Publisher:
    """A publisher for ``settings`` (see :func:`.settings.from_settings`)."""
    client = UpdateClient(
        settings.host, settings.port, settings.key, settings.timeout, settings.max_in_flight
    )
    return Publisher(store, settings, client, owner or publisher_id())


class Liveness:
    """Enqueues SRV/HA RRsets whose content moved since the last look."""

    def __init__(self, store: Store, settings: DnsSettings) -> None:
        self.store = store
        self.heartbeat_timeout = settings.heartbeat_timeout
        self.last: dict[tuple[str, str], tuple[str, ...]] = {}

    def check(self, now: dt.datetime | None = None) -> int:
        """One look; returns the number of rows enqueued (blocking)."""
        snap = snapshot.load(self.store)
        now = now or dt.datetime.now(dt.UTC)
        n = 0
        for net in snap.networks:
            if not net.zones:
                continue
            changed = plan.moved(
                self.last, network_rrsets(net, snap.home_agents, now, self.heartbeat_timeout)
            )
            self.last.update({(rr.name, rr.rdtype): rr.rdatas for rr in changed})
            if changed:
                n += dnsoutbox.enqueue_now(self.store, changed, net.zones, "liveness")
        return n

    async def run(self, interval: float) -> None:
        while True:
            try:
                n = await asyncio.to_thread(self.check)
                if n:
                    log.info("liveness: %d SRV/HA RRsets changed, enqueued", n)
            except Exception as exc:  # store outage: try again next round
                log.warning("liveness check failed, will retry: %s", exc)
            await asyncio.sleep(interval)


async def serve(ctx: ServiceContext) -> None:
    """Publish until cancelled."""
    settings = from_settings(ctx.settings)
    publisher = make_publisher(settings, ctx.store)
    liveness = Liveness(ctx.store, settings)
    mode = await asyncio.to_thread(publish_mode.current, ctx.store, settings.publish)
    ctx.announce(
        f"dns: publishing the outbox to {settings.server} "
        f"(TSIG key {settings.key.name}, {mode.value} mode)"
    )
    try:
        await asyncio.gather(publisher.run(), liveness.run(settings.liveness_interval))
    finally:
        await publisher.close()
