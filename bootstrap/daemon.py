"""``bootstrapd``: runs the enabled services of this host in one asyncio process.

Each service is a coroutine ``serve(ctx: ServiceContext) -> None`` living in
its own package and running until it is cancelled; :mod:`bootstrap.faces`
lists them.  This module is the composition root: it loads them by name
only, so the faces never import each other.  Start-up first builds every
face's own settings (the same :func:`bootstrap.faces.check` that
``bootstrapctl config check`` runs, exit 2 on a bad key), then refuses an
out-of-date schema; SIGINT/SIGTERM cancel every service and the process
exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from . import config as config_mod
from . import faces, migrate
from .config import Settings
from .context import ServiceContext
from .errors import BootstrapError
from .services import ha_watch, housekeeping, publish_mode
from .services.bundle import Renderer
from .store.engine import Store

log = logging.getLogger("bootstrapd")

BUNDLE_RENDERER = "ikev2_glue.mn_bundle:renderer_for"
"""The MN bundle writer handed to the web face (which must not import ikev2_glue)."""


def bundle_renderer(settings: Settings) -> Renderer:
    """The strongSwan face's MN bundle writer for ``settings`` (by name, like the services)."""
    module, _, attr = BUNDLE_RENDERER.partition(":")
    factory: Callable[[Settings], Renderer] = getattr(importlib.import_module(module), attr)
    return factory(settings)


STOP_GRACE = 2.0
"""Seconds the services get to stop after SIGTERM: a service manager's stop must work."""


async def stop_tasks(tasks: list[asyncio.Task[Any]], grace: float) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` and wait up to ``grace`` s; returns those still running.

    A task may swallow one cancellation (``asyncio.wait_for`` on Python 3.11 does
    when its inner await completes at the same moment), so the cancel is
    repeated until the task is done or the grace period is over.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    pending = {t for t in tasks if not t.done()}
    while pending and loop.time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(0.2, deadline - loop.time()))
    return sorted(pending, key=lambda t: t.get_name())


def hard_stop_after(seconds: float, code: int) -> None:
    """Exit the process ``seconds`` from now if it has not exited by then.

    The last resort for a worker thread blocked in a call that cannot be
    cancelled (a VICI command waits up to [vici] command_timeout, a store
    query up to its statement timeout): ``asyncio.run`` joins the executor's
    threads at exit, and a service manager's stop must not wait for them.
    """

    def expire() -> None:
        frames = sys._current_frames()
        busy = [
            f"{t.name} in {frames[t.ident].f_code.co_name}"
            for t in threading.enumerate()
            if t is not threading.current_thread() and t.ident in frames and not t.daemon
        ]
        print("bootstrapd: still busy after SIGTERM: " + (", ".join(busy) or "-")
              + "; exiting now", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


async def run(settings: Settings, only: str | None = None) -> int:
    """Run the services until a signal arrives; returns the exit code."""
    names = [only] if only else faces.enabled(settings)
    faces.check(settings, names)  # the same check as 'bootstrapctl config check'
    db = settings.database
    store = Store(
        db.url, read_url=db.read_url or None, retry_for=db.retry_for, echo=db.echo
    )
    await asyncio.to_thread(migrate.ensure_current, store)
    # one [dns] publish mode for every host: stored on first start, refused if different
    await asyncio.to_thread(publish_mode.adopt, store, settings.dns.publish)
    ctx = ServiceContext(settings=settings, store=store, bundle_renderer=bundle_renderer(settings))
    ctx.announce(f"bootstrapd: store {store.engine.url.render_as_string(hide_password=True)}")
    tasks: dict[str, asyncio.Task[None]] = {}
    tasks["housekeeping"] = asyncio.create_task(
        housekeeping.serve(settings, store), name="housekeeping"
    )
    tasks["ha-watch"] = asyncio.create_task(ha_watch.serve(settings, store), name="ha-watch")
    for name in names:
        tasks[name] = asyncio.create_task(faces.serve_of(name)(ctx), name=name)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    ctx.announce("bootstrapd: running " + ", ".join(tasks) + "; Ctrl-C stops")
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([stopper, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
    code = 0
    for task in done:
        if task is stopper:
            continue
        exc = task.exception()
        if exc is not None:
            msg = str(exc) if isinstance(exc, BootstrapError | OSError) else repr(exc)
            print(f"bootstrapd: {task.get_name()} failed: {msg}", file=sys.stderr)
            log.debug("service failure", exc_info=exc)
            code = 1
        else:
            print(f"bootstrapd: {task.get_name()} stopped", file=sys.stderr)
    hard_stop_after(STOP_GRACE + 1.0, code)
    stopper.cancel()
    stuck = await stop_tasks([*tasks.values(), stopper], STOP_GRACE)
    for task in stuck:
        print(f"bootstrapd: {task.get_name()} did not stop within {STOP_GRACE:g} s;"
              " exiting anyway", file=sys.stderr)
    store.dispose()
    ctx.announce("bootstrapd: stopped")
    return code


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="bootstrapd", description="Run the mip6-bootstrap services of this host."
    )
    parser.add_argument("--config", metavar="FILE", help="bootstrap.toml (default: built-in)")
    parser.add_argument("--only", choices=sorted(faces.FACES), help="run just this one service")
    parser.add_argument("--db", metavar="URL", help="database URL (overrides the config)")
    args = parser.parse_args(argv)
    try:
        settings = config_mod.load(args.config)
        if args.db:
            settings = config_mod.with_database(settings, args.db)
        logging.basicConfig(
            level=settings.log.level.upper(),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        code = asyncio.run(run(settings, args.only))
    except BootstrapError as exc:
        print(f"bootstrapd: {exc}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)
