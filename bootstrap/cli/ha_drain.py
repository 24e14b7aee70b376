"""``bootstrapctl ha drain FQDN [--wait]``: planned maintenance of one home agent.

The drain itself is the service layer's (:func:`bootstrap.services.home_agents.drain`):
the HA leaves DHCP, DNS SRV and enrollment and its subscribers move to the
other live HAs in the store.  The HA's own bridge then redirects its live
MNs (RFC 5685) to their new HA and terminates those that do not support
redirects.  ``--wait`` follows that from the store until the HA holds no open
binding: a progress bar on a terminal, the counts with ``--json``.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ..errors import BootstrapError
from ..services.actor import Actor
from .common import emit_json, is_tty, json_option, state

if TYPE_CHECKING:
    from .. import serialize
    from ..services import home_agents
else:
    from .common import lazy_module

    serialize = lazy_module("bootstrap.serialize")
    home_agents = lazy_module("bootstrap.services.home_agents")

POLL = 0.5


class DrainTimeout(BootstrapError):
    """The drained HA still holds bindings when ``--timeout`` ran out."""

    exit_code = 1


@click.command("drain")
@click.argument("fqdn")
@click.option("--wait", is_flag=True, help="Wait until the HA holds no open binding.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=120.0, show_default=True,
              help="Seconds --wait waits before giving up (exit 1).")
@json_option
def drain_cmd(fqdn: str, wait: bool, timeout: float, as_json: bool) -> None:
    """Stop offering an HA to new nodes and move its subscribers (--wait: until all left)."""
    st = state()
    store = st.store()
    before = home_agents.get(store, fqdn).assigned
    start = time.monotonic()
    open_at_start, _ = home_agents.drain_progress(store, fqdn)
    h = home_agents.drain(store, Actor.cli(), fqdn, st.settings)
    moved = before - h.assigned
    result: dict[str, Any] = {  # the HA as 'ha list --json' shows it, plus the drain's counts
        **serialize.home_agent(h), "moved": moved, "stranded": h.assigned,
        "open_at_start": open_at_start,
    }
    if wait:
        remaining = _wait(store, h.fqdn, open_at_start, timeout, show=is_tty() and not as_json)
        result["open"] = remaining
        result["seconds"] = round(time.monotonic() - start, 3)
        if remaining:
            if as_json:
                emit_json(result)
            raise DrainTimeout(
                f"home agent {h.fqdn} still holds {remaining} open binding(s)"
                f" after {timeout:g} s"
            )
    if as_json:
        emit_json(result)
        return
    click.echo(f"home agent {h.fqdn} is now {h.state.value}: {moved} subscriber(s) moved"
               + (f", {h.assigned} found no live HA with room" if h.assigned else ""))
    if wait:
        click.echo(f"all {open_at_start} live node(s) left {h.fqdn} in {result['seconds']} s")


def _wait(store: Any, fqdn: str, total: int, timeout: float, show: bool) -> int:
    """Poll the HA's open bindings until none is left; returns how many remain."""
    deadline = time.monotonic() + timeout
    remaining, _ = home_agents.drain_progress(store, fqdn)
    if not show:
        while remaining and time.monotonic() < deadline:
            time.sleep(POLL)
            remaining, _ = home_agents.drain_progress(store, fqdn)
        return remaining
    bar_cm: Any = click.progressbar(length=max(total, 1), label=f"draining {fqdn}",
                                    file=sys.stderr)
    with bar_cm as bar:
        done = 0
        while True:
            now_done = max(total - remaining, 0)
            bar.update(now_done - done)
            done = now_done
            if not remaining or time.monotonic() >= deadline:
                break
            time.sleep(POLL)
            remaining, _ = home_agents.drain_progress(store, fqdn)
        if not remaining:
            bar.update(max(total, 1) - done)
    return remaining
