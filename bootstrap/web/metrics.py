"""``/metrics`` (Prometheus text) and ``/healthz``.

The faces count on the default registry (``mip6bs_dhcp_...``,
``mip6bs_dns_...``, ``mip6bs_vici_...``); the store gauges come from a
collector that reads :mod:`bootstrap.services.dashboard` at scrape time.
It lives in a registry of its own per app, so tests may build many apps
in one process, and the two expositions are concatenated.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .. import freshness
from ..context import Store
from ..services import dashboard, home_agents, versions
from .routing import STORE, RouteTable, run

routes = RouteTable()
STORE_REGISTRY = web.AppKey("store_registry", CollectorRegistry)

WEB_REQUESTS = Counter(
    "mip6bs_web_requests_total",
    "HTTP requests answered by the web UI and API, by area and status class.",
    ["area", "status"],
)
WEB_LOGINS = Counter(
    "mip6bs_web_logins_total", "Login attempts of the web UI, by outcome.", ["outcome"]
)


class StoreCollector(Collector):
    """Gauges read from the store at scrape time."""

    def __init__(self, store: Store, heartbeat_timeout: float) -> None:
        self.store = store
        self.heartbeat_timeout = heartbeat_timeout

    def collect(self) -> Iterator[GaugeMetricFamily]:
        subs = GaugeMetricFamily(
            "mip6bs_subscribers", "Subscribers by state.", labels=["state"]
        )
        for state, n in dashboard.subscribers_by_state(self.store).items():
            subs.add_metric([state], n)
        yield subs
        has = GaugeMetricFamily("mip6bs_home_agents", "Home agents by state.", labels=["state"])
        for state, n in dashboard.home_agents_by_state(self.store).items():
            has.add_metric([state], n)
        yield has
        agents = home_agents.list_all(self.store)
        yield GaugeMetricFamily(
            "mip6bs_home_agents_offered",
            "Home agents that may be named to mobile nodes now (active, heartbeat fresh).",
            value=len(dashboard.offered(agents, self.heartbeat_timeout)),
        )
        box = dashboard.outbox(self.store)
        yield GaugeMetricFamily(
            "mip6bs_dns_outbox_depth", "DNS changes not yet applied.", value=box.depth
        )
        yield GaugeMetricFamily(
            "mip6bs_dns_outbox_failing", "Pending DNS changes that failed at least once.",
            value=box.failing,
        )
        age = time.time() - box.oldest.timestamp() if box.oldest else 0.0
        yield GaugeMetricFamily(
            "mip6bs_dns_outbox_oldest_age_seconds",
            "Age of the oldest pending DNS change (0 when none).",
            value=max(age, 0.0),
        )
        yield GaugeMetricFamily(
            "mip6bs_bindings_live", "Open IKE SAs (bindings) of subscribers.",
            value=dashboard.live_bindings(self.store),
        )


def store_registry(store: Store, heartbeat_timeout: float) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, heartbeat_timeout))
    return registry


def _exposition(store_reg: CollectorRegistry) -> bytes:
    return generate_latest(REGISTRY) + generate_latest(store_reg)


@routes.add("GET", "/metrics", "viewer", "Prometheus metrics")
async def metrics(request: web.Request) -> web.Response:
    data = await run(_exposition, request.app[STORE_REGISTRY])
    resp = web.Response(body=data)
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


@routes.add("GET", "/healthz", None, "Liveness and store reachability for load balancers")
async def healthz(request: web.Request) -> web.Response:
    services = freshness.as_json(freshness.FRESHNESS.report())
    extra = {"services": services} if services else {}
    try:
        await run(versions.current, request.app[STORE])
    except Exception as exc:  # any store failure means: take this host out of rotation
        return web.json_response(
            {"status": "unavailable", "error": f"the store cannot be read: {type(exc).__name__}",
             **extra},
            status=503,
        )
    return web.json_response({"status": "ok", **extra})


def count_response(request: web.Request, status: int) -> None:
    area = "api" if request.path.startswith("/api/") else "ui"
    WEB_REQUESTS.labels(area, f"{status // 100}xx").inc()
