"""Reconciliation: zone transfer (AXFR with TSIG), diff with the store, repair.

The desired state is read from the store and turned into RRsets by the same
rule (:mod:`bootstrap.dnsrecords`) the outbox rows come from.  Only names and
types we own are compared (what the store wants now, or what the outbox ever
asked for in that zone), so operator records in the same zone are never
touched.  Repairs go through the outbox like any other change, then are
flushed: same ordering, batching and error handling.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import dns.exception
import dns.query
import dns.rdatatype
import dns.tsig
import dns.xfr

from bootstrap.dnsrecords import RRset
from bootstrap.domain import absolute_name
from bootstrap.errors import BootstrapError, NotFound
from bootstrap.services import dnsoutbox, publish_mode

from . import plan
from .errors import from_exception
from .publisher import DrainResult, Publisher


class TransferFailed(BootstrapError):
    """The zone could not be transferred."""


def fetch_zone(
    host: str, port: int, zone: str, key: dns.tsig.Key, timeout: float
) -> dict[plan.Key, tuple[str, ...]]:
    """AXFR ``zone`` signed with ``key``: (name, type) -> rdata texts (blocking)."""
    have: dict[plan.Key, list[str]] = {}
    try:
        for msg in dns.query.xfr(
            host, zone, port=port, keyring={key.name: key}, keyname=key.name,
            relativize=False, timeout=timeout, lifetime=max(timeout * 30, 60.0),
        ):
            for rrset in msg.answer:
                k = (absolute_name(rrset.name.to_text()), dns.rdatatype.to_text(rrset.rdtype))
                have.setdefault(k, []).extend(rd.to_text() for rd in rrset)
    except dns.xfr.TransferError as exc:
        raise TransferFailed(
            f"zone transfer of {zone} from {host}:{port} was refused ({exc}); "
            f"allow-transfer must name our TSIG key"
        ) from None
    except (OSError, dns.exception.DNSException, EOFError) as exc:
        server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise TransferFailed(str(from_exception(exc, zone, server, "transfer"))) from None
    return {k: tuple(sorted(set(v))) for k, v in have.items()}


@dataclass
class ReconcileReport:
    """What differed, what cannot be published, and what the repair did."""

    zones: list[str]
    differences: list[plan.Difference]
    unroutable: list[RRset]
    applied: bool = False
    flush: DrainResult = field(default_factory=DrainResult)
    remaining: int = 0


async def reconcile(
    publisher: Publisher,
    zone: str | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> ReconcileReport:
    """Diff every listed zone (or just ``zone``) with the store; repair unless ``dry_run``.

    Everything comes through ``publisher``: its store, its server and key,
    its :class:`~dns_updater.settings.DnsSettings`, and its flush for the repair.
    """
    store, cfg, client = publisher.store, publisher.settings, publisher.client
    state = await asyncio.to_thread(dnsoutbox.desired_state, store)
    mode = await asyncio.to_thread(publish_mode.current, store, cfg.publish)
    want, lost = plan.desired_rrsets(
        state, mode, now or dt.datetime.now(dt.UTC), cfg.heartbeat_timeout
    )
    listed = sorted({absolute_name(z) for n in state.networks for z in n.zones})
    if zone is not None:
        if absolute_name(zone) not in listed:
            raise NotFound(f"zone {absolute_name(zone)} is listed by no network")
        listed = [absolute_name(zone)]
    diffs: list[plan.Difference] = []
    for z in listed:
        have = await asyncio.to_thread(
            fetch_zone, client.host, client.port, z, client.key, cfg.timeout
        )
        owned = await asyncio.to_thread(dnsoutbox.owned_names, store, z)
        diffs.extend(plan.diff(z, want.get(z, {}), have, owned))
    report = ReconcileReport(zones=listed, differences=diffs, unroutable=[
        rr for rr in lost if rr.rdtype != "PTR"
    ])
    if dry_run or not diffs:
        return report
    for z in listed:
        mine = [RRset(d.name, d.rdtype, d.want) for d in diffs if d.zone == z]
        if mine:
            await asyncio.to_thread(dnsoutbox.enqueue_now, store, mine, [z], plan.RECONCILE)
    report.applied = True
    report.flush = await publisher.flush()
    report.remaining = await asyncio.to_thread(dnsoutbox.pending_count, store)
    return report
