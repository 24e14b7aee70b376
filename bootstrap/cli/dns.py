"""``bootstrapctl dns``: the DNS outbox and reconciliation, for operators and scripts.

``status`` reads the outbox; ``flush`` sends every pending change now and
exits 0 only when the outbox is empty afterwards; ``reconcile`` transfers the
zones, prints what differs from the store and (without ``--dry-run``) fixes
it through the outbox.  The work is done by :mod:`dns_updater`; the commands
only call it and print.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from ..errors import BootstrapError
from ..services import dnsoutbox, publish_mode
from ..services.actor import Actor
from .common import emit_json, json_option, kv, state, table


class RowsRemain(BootstrapError):
    """Pending rows are left after a flush (exit 1)."""


def _reasons(store: Any) -> str:
    parts = [f"{err} ({n} rows)" for err, n in dnsoutbox.pending_reasons(store, 5)]
    return "; ".join(parts)


@click.group("dns")
def group() -> None:
    """The DNS publisher: outbox status, flush, reconciliation with the zones."""


@group.command("status")
@json_option
def status(as_json: bool) -> None:
    """Outbox depth, oldest pending change and last error per zone."""
    st = dnsoutbox.status(state().store())
    if as_json:
        emit_json(
            {
                "pending": st.pending,
                "unroutable": st.unroutable,
                "zones": [
                    {
                        "zone": z.zone,
                        "pending": z.pending,
                        "oldest": z.oldest,
                        "next_attempt": z.next_attempt,
                        "last_error": z.last_error,
                    }
                    for z in st.zones
                ],
            }
        )
        return
    kv([("pending", st.pending), ("not publishable (no zone)", st.unroutable)])
    if st.zones:
        click.echo("")
        table(
            [
                (z.zone or "(none)", z.pending, z.oldest, z.next_attempt, z.last_error or "")
                for z in st.zones
            ],
            ["zone", "pending", "oldest", "next attempt", "last error"],
        )


def _publisher() -> Any:
    from dns_updater.service import make_publisher
    from dns_updater.settings import from_settings

    st = state()
    return make_publisher(from_settings(st.settings), st.store(), owner=f"{_owner()}:flush")


def _owner() -> str:
    from dns_updater.publisher import publisher_id

    return publisher_id()


async def _flush(pub: Any) -> Any:
    try:
        return await pub.flush()
    finally:
        await pub.close()


@group.command("flush")
@json_option
def flush(as_json: bool) -> None:
    """Send every pending change now; exit 1 with the reasons if rows remain."""
    pub = _publisher()
    res = asyncio.run(_flush(pub))
    store = state().store()
    left = dnsoutbox.pending_count(store)
    if as_json:
        emit_json(
            {
                "sent": res.done,
                "failed": res.failed,
                "messages": res.messages,
                "errors": res.errors,
                "pending": left,
            }
        )
    else:
        click.echo(f"sent {res.done} changes in {res.messages} UPDATE messages; {left} pending")
    if left:
        raise RowsRemain(f"{left} DNS changes remain pending: {_reasons(store)}")


@group.command("reconcile")
@click.option("--zone", help="Only this zone (default: every zone a network lists).")
@click.option("--dry-run", is_flag=True, help="Print the differences, change nothing.")
@json_option
def reconcile(zone: str | None, dry_run: bool, as_json: bool) -> None:
    """Transfer the zones (AXFR, TSIG), diff them with the store, and fix them."""
    from dns_updater.reconcile import reconcile as run

    st = state()
    pub = _publisher()

    async def go() -> Any:
        try:
            return await run(pub, zone=zone, dry_run=dry_run)
        finally:
            await pub.close()

    rep = asyncio.run(go())
    if as_json:
        emit_json(
            {
                "zones": rep.zones,
                "dry_run": dry_run,
                "differences": [
                    {
                        "zone": d.zone,
                        "name": d.name,
                        "type": d.rdtype,
                        "have": list(d.have),
                        "want": list(d.want),
                    }
                    for d in rep.differences
                ],
                "unroutable": [{"name": r.name, "type": r.rdtype} for r in rep.unroutable],
                "applied": rep.applied,
                "pending": rep.remaining,
            }
        )
    else:
        for d in rep.differences:
            click.echo(f"{d.zone}  {d.name} {d.rdtype}")
            for v in d.have:
                click.echo(f"  - {v}")
            for v in d.want:
                click.echo(f"  + {v}")
        for r in rep.unroutable:
            click.echo(f"not publishable: {r.name} {r.rdtype} is under no listed zone")
        verb = "would change" if dry_run else "changed"
        n = len(rep.differences)
        click.echo(
            f"{len(rep.zones)} zones checked; {verb} {n} RRsets"
            if n
            else f"{len(rep.zones)} zones checked; in sync"
        )
    if rep.applied and rep.remaining:
        raise RowsRemain(f"{rep.remaining} DNS changes remain pending: {_reasons(st.store())}")


@group.command("publish")
@click.argument("mode", required=False, type=click.Choice(["enroll", "registration"]))
@json_option
def publish(mode: str | None, as_json: bool) -> None:
    """Show or switch the store-wide publish mode; a switch queues the DNS changes it implies.

    One mode for every host (kept in the store): switching to registration withdraws the
    records of subscribers without a live binding, switching to enroll publishes every
    active subscriber's, in the same transaction (the running publishers send them).
    """
    st = state()
    if mode is None:
        cur = publish_mode.current(st.store(), st.settings.dns.publish)
        if as_json:
            emit_json({"mode": cur.value})
        else:
            click.echo(cur.value)
        return
    sw = publish_mode.switch(st.store(), Actor.cli(), mode, st.settings.dns.publish)
    if as_json:
        emit_json({"before": sw.before.value, "mode": sw.after.value, "changed": sw.changed})
        return
    click.echo(f"publish mode {sw.after.value} (was {sw.before.value}); "
               f"{sw.changed} subscribers' records queued to follow")
