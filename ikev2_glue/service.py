"""``bootstrapd --only vici``: the strongSwan bridge as a bootstrapd service."""

from __future__ import annotations

from bootstrap.context import ServiceContext

from .bridge import Bridge


async def serve(ctx: ServiceContext) -> None:
    """Run the bridge for ``[vici] home_agent`` until cancelled."""
    bridge = Bridge(ctx.settings, ctx.store, announce=ctx.announce)
    await bridge.run()
