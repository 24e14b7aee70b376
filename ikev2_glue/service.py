"""``bootstrapd --only vici``: the strongSwan bridge as a bootstrapd service."""

from __future__ import annotations

from collections.abc import Callable

from bootstrap.config import Settings
from bootstrap.context import ServiceContext, Store

from .bridge import Bridge
from .settings import from_settings
from .store_side import StoreSide


def bridge_for(
    settings: Settings,
    store: Store,
    announce: Callable[[str], None] | None = None,
    poll_interval: float | None = None,
) -> Bridge:
    """The bridge for ``[vici] home_agent``: settings checked here, at the face's edge."""
    return Bridge(from_settings(settings), StoreSide.of(store, settings), announce, poll_interval)


async def serve(ctx: ServiceContext) -> None:
    """Run the bridge for ``[vici] home_agent`` until cancelled."""
    await bridge_for(ctx.settings, ctx.store, announce=ctx.announce).run()
