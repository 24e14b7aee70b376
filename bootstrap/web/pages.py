"""Server-rendered pages: static assets, login, logout, result pages.

The other pages live in ``ui_*`` modules by subject.  Each handler parses
its form, makes one service call and redirects (303 after a change, so
reloading does not repeat it) to a page that says what happened
(:mod:`.feedback`).  Pages showing a secret (enrollment result, new API
token) are no-store like every response, and the secret is never put in a
URL.
"""

from __future__ import annotations

import math
import secrets
from pathlib import Path

from aiohttp import web

from ..services import operators
from .feedback import RESULTS
from .metrics import WEB_LOGINS
from .routing import LIMITER, PRINCIPAL_KEY, STORE, WEB, RouteTable, principal, run
from .security import (
    LOGIN_COOKIE,
    clear_session_cookie,
    same_origin_path,
    set_session_cookie,
)
from .templating import render

routes = RouteTable()
STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png",
                ".svg": "image/svg+xml"}


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def _safe_next(value: str | None) -> str:
    """``value`` if it is a same-origin path, else ``/`` (:func:`.security.same_origin_path`)."""
    return same_origin_path(value) or "/"


# ---------------------------------------------------------------- static, login, logout


@routes.add("GET", "/static/{name}", None, "Static assets (CSS, JS)")
async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type=STATIC_TYPES[path.suffix])


def _login_page(
    request: web.Request, error: str | None = None, status: int = 200
) -> web.Response:
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    resp = render(
        request,
        "login.html",
        status=status,
        login_csrf=token,
        error=error,
        next=_safe_next(request.query.get("next")),
    )
    resp.set_cookie(
        LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="Strict",
        secure=request.app[WEB].secure_cookies,
    )
    return resp


@routes.add("GET", "/login", None, "Login form")
async def login_form(request: web.Request) -> web.Response:
    return _login_page(request)


@routes.add("POST", "/login", None, "Log in")
async def login(request: web.Request) -> web.Response:
    f = await form(request)
    name, password = f.get("name", "").strip(), f.get("password", "")
    store, limiter = request.app[STORE], request.app[LIMITER]
    source = request.remote or "unknown"
    keys = (name, source)
    wait = limiter.retry_after(*keys)
    if wait > 0:
        WEB_LOGINS.labels("rate_limited").inc()
        return _login_page(
            request,
            f"too many failed logins; try again in {math.ceil(wait)} seconds",
            status=429,
        )
    op = await run(operators.authenticate, store, name, password) if name and password else None
    if op is None:
        limiter.failed(*keys)
        WEB_LOGINS.labels("failed").inc()
        await run(operators.record_login_failure, store, name, source, "bad name or password")
        return _login_page(request, "wrong name or password", status=401)
    limiter.succeeded(*keys)
    WEB_LOGINS.labels("ok").inc()
    previous = request.get(PRINCIPAL_KEY)
    if isinstance(previous, operators.Principal) and previous.session_hash:
        await run(operators.end_session, store, previous.session_hash)  # no session fixation
    new = await run(operators.start_session, store, op, request.app[WEB].session_lifetime)
    resp = web.HTTPSeeOther(_safe_next(f.get("next")))
    set_session_cookie(request, resp, new.cookie, request.app[WEB].session_lifetime)
    resp.del_cookie(LOGIN_COOKIE, path="/login")
    raise resp


@routes.add("POST", "/logout", "viewer", "Log out (ends the session in the store)")
async def logout(request: web.Request) -> web.Response:
    who = principal(request)
    if who.session_hash:
        await run(operators.end_session, request.app[STORE], who.session_hash, who.actor)
    resp = web.HTTPSeeOther("/login")
    clear_session_cookie(resp)
    raise resp


# ---------------------------------------------------------------- result pages


@routes.add("GET", "/done/{token}", "viewer", "What an action did (one-time secrets blanked)")
async def done_page(request: web.Request) -> web.Response:
    result = request.app[RESULTS].view(principal(request), request.match_info["token"])
    if result is None:
        return render(request, "gone.html", status=410)
    return render(request, result.template, views=result.views, **result.context)
