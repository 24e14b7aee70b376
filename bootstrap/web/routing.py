"""The route table: every route with who may call it and what it takes.

One :class:`RouteSpec` per route is the single source for registration,
the access check of :mod:`.security` (role, public or not, CSRF) and the
OpenAPI document of :mod:`.openapi`.  A route without a spec is refused by
the security middleware, so forgetting to declare access fails closed.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from aiohttp import web

from ..config import Settings
from ..context import Store
from ..services.operators import LoginLimiter, Principal
from .settings import WebSettings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
P = ParamSpec("P")
T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PARAM = re.compile(r"{(\w+)}")
_SEGMENT = {"identity": "[^/]*@[^/]+"}
"""An identity always holds an ``@``: ``/subscribers/bulk`` is no identity, so the route
table's Allow header for it lists only what that path does."""


def _pattern(m: re.Match[str]) -> str:
    name = m.group(1)
    return "{" + name + ":" + _SEGMENT.get(name, "[^/]+") + "}"


# A path parameter matches any one segment: aiohttp's default refuses "{" and "}", which
# RFC 7542 allows in an identity (a{b}@example.com is reached as a%7Bb%7D@example.com).

SETTINGS = web.AppKey("settings", Settings)
"""The whole configuration, for the service-layer calls (enrol, export) that need it."""
WEB = web.AppKey("web_settings", WebSettings)
"""The web face's own checked settings (:mod:`.settings`); handlers read ``[web]`` here."""
STORE = web.AppKey("store", Store)
LIMITER = web.AppKey("login_limiter", LoginLimiter)
SPECS = web.AppKey("route_specs", dict)
PRINCIPAL_KEY: Any = (
    web.RequestKey("principal", Principal) if hasattr(web, "RequestKey") else "mip6bs.principal"
)
"""Where the security middleware puts the caller (a RequestKey on aiohttp >= 3.12)."""


@dataclass(frozen=True)
class RouteSpec:
    """One route and its access rule.

    ``role`` is the least role that may call it (``None`` = public: login,
    health, static).  ``body`` is a JSON schema of the request body (API) and
    ``query`` the documented query parameters as ``{name: (json type, text)}``,
    ``returns`` the JSON schema of a successful response body.
    """

    method: str
    path: str
    handler: Handler
    role: str | None
    summary: str
    body: dict[str, Any] | None = None
    returns: dict[str, Any] | None = None
    query: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    """``{name: (json type, text)}`` or ``(json type, text, {extra schema keys})``"""
    status: int = 200
    tag: str = ""
    max_body: int | None = None
    """A larger request-body limit than the app's (file uploads), in bytes."""

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def public(self) -> bool:
        return self.role is None

    @property
    def state_changing(self) -> bool:
        return self.method not in SAFE_METHODS


class RouteTable:
    """Collects specs from the handler modules, then registers them on an app."""

    def __init__(self) -> None:
        self.specs: list[RouteSpec] = []

    def add(
        self,
        method: str,
        path: str,
        role: str | None,
        summary: str,
        **extra: Any,
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.specs.append(RouteSpec(method, path, fn, role, summary, **extra))
            return fn

        return deco

    def register(self, app: web.Application) -> None:
        by_handler: dict[Handler, RouteSpec] = app[SPECS]
        for spec in self.specs:
            app.router.add_route(spec.method, _PARAM.sub(_pattern, spec.path), spec.handler)
            by_handler[spec.handler] = spec


def spec_of(request: web.Request) -> RouteSpec | None:
    """The spec of the route that matched, or None (404/405 or an undeclared route)."""
    specs: dict[Handler, RouteSpec] = request.app[SPECS]
    return specs.get(request.match_info.handler)


def principal(request: web.Request) -> Principal:
    """The authenticated caller; the security middleware guarantees one on non-public routes."""
    who = request.get(PRINCIPAL_KEY)
    if not isinstance(who, Principal):
        raise web.HTTPUnauthorized(reason="authentication required")
    return who


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call a (synchronous, database-touching) service function off the event loop."""
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))
