"""``bootstrapd`` runs the web face through :func:`serve`."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..context import ServiceContext
from ..services import operators
from ..services.actor import DAEMON
from .app import create_app
from .settings import from_settings


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


async def serve(ctx: ServiceContext) -> None:
    """Listen on ``[web] listen`` until cancelled; create the first admin on an empty store."""
    cfg = from_settings(ctx.settings)
    host, port = cfg.host, cfg.port
    password = await asyncio.to_thread(operators.ensure_first_admin, ctx.store, DAEMON)
    app = create_app(ctx.settings, ctx.store, ctx.bundle_renderer, sample=True)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        ctx.announce(f"web: {url_of(host, port)}")
        if password is not None:
            ctx.announce(
                f"web: first start: operator 'admin' created with password {password}"
                " (shown only now; change it under Operators)"
            )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
