"""``create_app``: the aiohttp application of the operator UI and REST API.

Middlewares, outermost first: error shapes (JSON under ``/api/``, an error
page elsewhere, never a trace), then authentication / roles / CSRF.  Security
headers are added to every response as it is prepared.  Routes come from the
route tables of :mod:`.pages` and the ``ui_*`` page modules, :mod:`.api`
(+ :mod:`.openapi`) and :mod:`.metrics`.
"""

from __future__ import annotations

from aiohttp import web

from ..config import Settings
from ..context import Store
from ..services.bundle import Renderer
from ..services.operators import LoginLimiter
from . import (
    api,
    bundles,
    metrics,
    openapi,
    pages,
    protocol_log,
    ui_admin,
    ui_audit,
    ui_dashboard,
    ui_import,
    ui_infra,
    ui_subscribers,
)
from .feedback import RESULTS, ResultBox
from .routing import LIMITER, SETTINGS, SPECS, STORE, WEB, RouteSpec
from .security import auth_middleware, errors_middleware, security_headers
from .settings import from_settings
from .templating import JINJA, make_environment

MAX_BODY = 256 * 1024

assert openapi.openapi_json is not None  # registers /api/v1/openapi.json on api.routes


async def _count(request: web.Request, response: web.StreamResponse) -> None:
    metrics.count_response(request, response.status)


def create_app(
    settings: Settings,
    store: Store,
    render_bundle: Renderer | None = None,
    sample: bool = False,
) -> web.Application:
    """The whole web face over ``store``; the caller runs it (service.py or a test server).

    ``render_bundle`` writes the MN bundle for the download routes; the
    composition root passes the strongSwan face's (the web face imports no
    other face); without one those routes answer 503.  ``sample`` runs the
    dashboard's sampler (:mod:`.ui_dashboard`) while the app runs (``bootstrapd``
    does; tests write their samples themselves).
    """
    protocol_log.install()
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware], client_max_size=MAX_BODY
    )
    cfg = from_settings(settings)
    app[SETTINGS] = settings
    app[WEB] = cfg
    app[STORE] = store
    app[LIMITER] = LoginLimiter(cfg.login_attempts, cfg.login_window)
    app[SPECS] = {}
    if render_bundle is not None:
        app[bundles.RENDERER] = render_bundle
    app[JINJA] = make_environment()
    app[metrics.STORE_REGISTRY] = metrics.store_registry(store, cfg.heartbeat_timeout)
    app[RESULTS] = ResultBox()
    app[ui_import.JOBS] = {}
    tables = (pages, ui_dashboard, ui_import, ui_subscribers, ui_infra, ui_admin, ui_audit, api,
              metrics)  # ui_import before ui_subscribers: /subscribers/import is no identity
    for table in (m.routes for m in tables):
        table.register(app)
    if sample:
        app.cleanup_ctx.append(ui_dashboard.sampler)
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(_count)
    return app


def route_specs(app: web.Application) -> list[RouteSpec]:
    """Every declared route (the router walk test and the OpenAPI test use this)."""
    return list(app[SPECS].values())
