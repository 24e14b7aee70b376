"""The dashboard: counts, health banners, a first-run checklist and time charts.

Banners say what needs an operator now (DNS publisher off or failing, an
HA full, down or silent, no CA); the checklist shows until the store is set
up (admin password changed, a network, an HA, the CA).  The charts are
drawn from :mod:`bootstrap.services.stats`; the web face samples every
:data:`~bootstrap.services.stats.SAMPLE_EVERY` seconds (:func:`sampler`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from .. import domain, freshness
from ..context import Store
from ..services import audit, credentials, dashboard, networks, stats, store_status
from . import charts
from .routing import STORE, WEB, RouteTable, run
from .settings import WebSettings
from .templating import render

routes = RouteTable()
log = logging.getLogger("bootstrap.web")
DAY = dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Banner:
    level: str
    """``bad`` (act now) or ``warn``."""
    text: str
    href: str
    link: str


@dataclass(frozen=True, slots=True)
class Step:
    text: str
    done: bool
    href: str


def banners(s: dashboard.Summary, cfg: WebSettings, has_ca: bool) -> list[Banner]:
    out = []
    if not cfg.dns_enabled and s.outbox.depth:
        out.append(Banner("warn", f"The DNS publisher is off in this daemon: {s.outbox.depth:,}"
                          " DNS changes wait in the outbox.", "/dns", "DNS status"))
    if s.outbox.failing:
        out.append(Banner("bad", f"DNS publishing fails: {s.outbox.failing:,} changes were"
                          f" refused or timed out (last: {s.outbox.last_error or 'unknown'}).",
                          "/dns", "DNS status"))
    for h in s.home_agents:
        link = f"/home-agents/{h.fqdn}"
        if h.state is domain.HAState.DOWN:
            out.append(Banner("bad", f"Home agent {h.fqdn} is down.", link, h.fqdn))
        elif h.state is domain.HAState.FAILED:
            out.append(Banner("bad", f"Home agent {h.fqdn} failed (no heartbeat); its"
                              " subscribers were moved to the other home agents.", link, h.fqdn))
        elif h.state is domain.HAState.ACTIVE and h.fqdn not in s.offered:
            out.append(Banner("bad", f"Home agent {h.fqdn} is not answering (no heartbeat"
                              " within the timeout), so it is not offered.", link, h.fqdn))
        if h.assigned >= h.capacity:
            out.append(Banner("bad", f"Home agent {h.fqdn} is full ({h.assigned:,}/"
                              f"{h.capacity:,}); new subscribers go elsewhere or fail.",
                              link, h.fqdn))
    if not has_ca:
        out.append(Banner("warn", "The store has no CA: certificate subscribers and MN bundles"
                          " cannot be issued.", "/networks", "Create the CA"))
    return out


def checklist(
    s: dashboard.Summary, networks: int, has_ca: bool, password_changed: bool
) -> list[Step]:
    return [
        Step("Give the admin account a password of your own", password_changed, "/operators"),
        Step("Add a home network", networks > 0, "/networks/new"),
        Step("Add a home agent", bool(s.home_agents), "/home-agents/new"),
        Step("Create the CA", has_ca, "/networks"),
    ]


def _password_changed(store: Store) -> bool:
    """False while the first-start admin still has the password printed at first start."""
    entries = audit.search(store, audit.AuditQuery(action="operator.update", target="admin"), 20)
    return any("password" in e.detail for e in entries) or not audit.search(
        store, audit.AuditQuery(action="operator.add", target="admin"), 1)


def _charts(store: Store, now: dt.datetime) -> list[charts.Chart]:
    week = 7 * DAY
    live = stats.series(store, stats.LIVE_BINDINGS, week, now)
    depth = stats.series(store, stats.OUTBOX_DEPTH, week, now)
    age = stats.series(store, stats.OUTBOX_AGE, week, now)
    load = stats.series(store, stats.HA_LOAD, week, now)
    cap = stats.series(store, stats.HA_CAPACITY, week, now)
    return [
        charts.bars("enrollments", "Enrollments per day",
                    stats.enrollments_per_day(store, 14, now)),
        charts.line("bindings", "Live bindings", {"live bindings": live.get("", [])} if live
                    else {}, now, week),
        charts.line("outbox", "DNS outbox depth", {"pending": depth.get("", [])} if depth
                    else {}, now, week),
        charts.line("outbox-age", "Oldest pending DNS change", {"age": age.get("", [])} if age
                    else {}, now, week, unit="s"),
        charts.line("ha-load", "Home agent load against capacity", load, now, week,
                    dashed=cap),
    ]


@routes.add("GET", "/", "viewer", "Dashboard")
async def dashboard_page(request: web.Request) -> web.Response:
    store, cfg = request.app[STORE], request.app[WEB]
    s = await run(dashboard.summary, store, cfg.heartbeat_timeout)
    has_ca = await run(credentials.ca_cert_pem, store) is not None
    changed = await run(_password_changed, store)
    nets = await run(networks.list_all, store)
    steps = checklist(s, len(nets), has_ca, changed)
    drawn = await run(_charts, store, dt.datetime.now(dt.UTC))
    db = await run(store_status.status, store)
    stale = freshness.as_json(freshness.FRESHNESS.report())
    return render(request, "dashboard.html", s=s, banners=banners(s, cfg, has_ca),
                  steps=steps if not all(st.done for st in steps) else [], charts=drawn,
                  db=db, stale=stale)


async def _sample_forever(app: web.Application) -> None:
    while True:
        try:
            await asyncio.to_thread(stats.sample, app[STORE])
        except DBAPIError as exc:
            log.warning("dashboard sample not written (store error): %s", type(exc).__name__)
        await asyncio.sleep(stats.SAMPLE_EVERY)


async def sampler(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: sample the dashboard's series while the app runs."""
    task = asyncio.create_task(_sample_forever(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
