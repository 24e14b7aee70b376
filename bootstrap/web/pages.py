"""Server-rendered pages: plain HTML forms that work without JavaScript.

Each handler parses its form, makes one service call and renders or
redirects (303 after a change, so reloading does not repeat it).  Pages
showing a secret (enrollment result, new API token) are no-store like every
response, and the secret is never put in a URL.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import web

from .. import domain, freshness
from ..config import Settings
from ..context import Store
from ..errors import ValidationError
from ..services import (
    audit,
    bundle,
    credentials,
    dashboard,
    home_agents,
    networks,
    operators,
    store_status,
    subscribers,
)
from ..services.actor import Actor
from . import api, bundles
from .metrics import WEB_LOGINS
from .routing import LIMITER, PRINCIPAL_KEY, SETTINGS, STORE, WEB, RouteTable, principal, run
from .security import (
    LOGIN_COOKIE,
    clear_session_cookie,
    set_session_cookie,
)
from .templating import render

routes = RouteTable()
PAGE_SIZE = 50
STATIC = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png",
                ".svg": "image/svg+xml"}


async def form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def see_other(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location)


def page_number(request: web.Request) -> int:
    raw = request.query.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError("page must be a positive integer")
    return int(raw)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


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
    keys = (f"addr:{source}", f"name:{name}")
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


# ---------------------------------------------------------------- dashboard


@routes.add("GET", "/", "viewer", "Dashboard")
async def dashboard_page(request: web.Request) -> web.Response:
    s = await run(
        dashboard.summary, request.app[STORE], request.app[WEB].heartbeat_timeout
    )
    db = await run(store_status.status, request.app[STORE])
    stale = freshness.as_json(freshness.FRESHNESS.report())
    return render(request, "dashboard.html", s=s, db=db, stale=stale)


# ---------------------------------------------------------------- subscribers


@routes.add("GET", "/subscribers", "viewer", "Subscribers: search and pages")
async def subscribers_page(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    state = request.query.get("state", "")
    page = page_number(request)
    items, total = await run(
        subscribers.list_page,
        request.app[STORE],
        None,
        state or None,
        q or None,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    nets = await run(networks.list_all, request.app[STORE])

    def link(n: int) -> str:
        return "/subscribers?" + urlencode({"q": q, "state": state, "page": n})

    return render(
        request, "subscribers.html", items=items, total=total, page=page, pages=pages, q=q,
        state=state, states=[s.value for s in domain.SubscriberState], link=link,
        networks=nets,
    )


@routes.add("POST", "/subscribers", "operator", "Enroll a subscriber")
async def enroll(request: web.Request) -> web.Response:
    f = await form(request)
    e = await run(
        subscribers.enroll,
        request.app[STORE],
        request.app[SETTINGS],
        principal(request).actor,
        f.get("identity", ""),
        f.get("network") or None,
        f.get("fqdn") or None,
        f.get("auth") or "eap",
        f.get("ipv4") == "on",
    )
    return render(request, "enrolled.html", e=e, status=201)


@routes.add("GET", "/subscribers/{identity}", "viewer", "One subscriber")
async def subscriber_page(request: web.Request) -> web.Response:
    store, ident = request.app[STORE], request.match_info["identity"]
    sub = await run(subscribers.get, store, ident)
    ha = await run(subscribers.ha_of, store, ident)
    binds = await run(subscribers.bindings_of, store, ident)
    downloaded = await run(bundle.issued, store, sub.identity)
    return render(
        request, "subscriber.html", sub=sub, ha=ha, binds=binds, downloaded=downloaded,
        downloadable=bundles.RENDERER in request.app,
    )


StateChange = Callable[[Store, Settings, Actor, str], domain.Subscriber]


def _state_page(verb: str, fn: StateChange) -> None:
    async def handler(request: web.Request) -> web.Response:
        sub = await run(
            fn,
            request.app[STORE],
            request.app[SETTINGS],
            principal(request).actor,
            request.match_info["identity"],
        )
        raise see_other(f"/subscribers/{sub.identity}")

    handler.__name__ = f"{verb}_page"
    routes.add("POST", f"/subscribers/{{identity}}/{verb}", "operator",
               f"{verb.capitalize()} a subscriber")(handler)


_state_page("suspend", subscribers.suspend)
_state_page("resume", subscribers.resume)
_state_page("revoke", subscribers.revoke)


@routes.add("POST", "/subscribers/{identity}/bundle", "operator",
            "Download the MN configuration bundle (once)")
async def bundle_page(request: web.Request) -> web.Response:
    name, data = await run(
        bundles.download_once,
        request.app[STORE],
        request.app[SETTINGS],
        principal(request).actor,
        request.match_info["identity"],
        bundles.renderer_of(request.app),
    )
    return bundles.as_response(name, data)


# ---------------------------------------------------------------- home agents


@routes.add("GET", "/home-agents", "viewer", "Home agents")
async def home_agents_page(request: web.Request) -> web.Response:
    items = await run(home_agents.list_all, request.app[STORE])
    nets = await run(networks.list_all, request.app[STORE])
    return render(request, "home_agents.html", items=items, networks=nets)


def _int_field(f: dict[str, str], name: str, default: int) -> int:
    raw = f.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be an integer, not {raw!r}") from None


@routes.add("POST", "/home-agents", "admin", "Add a home agent")
async def add_home_agent(request: web.Request) -> web.Response:
    f = await form(request)
    await run(
        home_agents.add,
        request.app[STORE],
        principal(request).actor,
        f.get("fqdn", ""),
        f.get("network", ""),
        f.get("address", ""),
        f.get("ipv4") or None,
        _int_field(f, "priority", 10),
        _int_field(f, "weight", 100),
        _int_field(f, "capacity", 10000),
        f.get("allow_outside_prefix") == "on",
        request.app[SETTINGS],
    )
    raise see_other("/home-agents")


def _ha_page(verb: str, target: domain.HAState) -> None:
    async def handler(request: web.Request) -> web.Response:
        await run(
            home_agents.set_state,
            request.app[STORE],
            principal(request).actor,
            request.match_info["fqdn"],
            target,
            request.app[SETTINGS],
        )
        raise see_other("/home-agents")

    handler.__name__ = f"{verb}_ha_page"
    routes.add("POST", f"/home-agents/{{fqdn}}/{verb}", "admin",
               f"{verb.capitalize()} a home agent")(handler)


_ha_page("drain", domain.HAState.DRAINING)
_ha_page("activate", domain.HAState.ACTIVE)


# ---------------------------------------------------------------- networks


def _zones(text: str) -> list[str]:
    return [z for z in text.replace(",", " ").split() if z]


@routes.add("GET", "/networks", "viewer", "Home networks")
async def networks_page(request: web.Request) -> web.Response:
    items = await run(networks.list_all, request.app[STORE])
    has_ca = await run(credentials.ca_cert_pem, request.app[STORE]) is not None
    return render(request, "networks.html", items=items, has_ca=has_ca,
                  ha_infos=[i.value for i in domain.HAInfo])


@routes.add("POST", "/networks", "admin", "Add a home network")
async def add_network(request: web.Request) -> web.Response:
    f = await form(request)
    await run(
        networks.add,
        request.app[STORE],
        principal(request).actor,
        f.get("domain", ""),
        f.get("prefix", ""),
        f.get("ipv4_pool") or None,
        _zones(f.get("zones", "")),
        f.get("ha_info") or "both",
    )
    raise see_other("/networks")


@routes.add("GET", "/ca.pem", "viewer", "Download the store CA's certificate")
async def ca_pem_page(request: web.Request) -> web.Response:
    pem = await api.ca_pem(request)
    return web.Response(
        text=pem, content_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="mip6-bootstrap-ca.pem"'},
    )


@routes.add("GET", "/networks/{domain}", "viewer", "Edit a home network")
async def network_page(request: web.Request) -> web.Response:
    n = await run(networks.get, request.app[STORE], request.match_info["domain"])
    return render(request, "network.html", n=n, ha_infos=[i.value for i in domain.HAInfo])


@routes.add("POST", "/networks/{domain}", "admin", "Save a home network")
async def edit_network(request: web.Request) -> web.Response:
    f = await form(request)
    await run(
        networks.update,
        request.app[STORE],
        principal(request).actor,
        request.match_info["domain"],
        _zones(f.get("zones", "")),
        f.get("ha_info") or None,
    )
    raise see_other("/networks")


# ---------------------------------------------------------------- operators and tokens


@routes.add("GET", "/operators", "admin", "Operators and API tokens")
async def operators_page(request: web.Request) -> web.Response:
    ops = await run(operators.list_all, request.app[STORE])
    tokens = await run(operators.list_tokens, request.app[STORE])
    return render(request, "operators.html", ops=ops, tokens=tokens, roles=operators.ROLES)


@routes.add("POST", "/operators", "admin", "Create an operator")
async def add_operator(request: web.Request) -> web.Response:
    f = await form(request)
    await run(
        operators.add, request.app[STORE], principal(request).actor, f.get("name", "").strip(),
        f.get("role", ""), f.get("password", ""),
    )
    raise see_other("/operators")


@routes.add("POST", "/operators/{name}", "admin", "Change an operator")
async def edit_operator(request: web.Request) -> web.Response:
    f = await form(request)
    action = f.get("action", "")
    disabled = {"disable": True, "enable": False}.get(action)
    role = f.get("role") or None if action == "role" else None
    password = f.get("password", "") if action == "password" else None
    await run(
        operators.update, request.app[STORE], principal(request).actor,
        request.match_info["name"], role, disabled, password,
    )
    raise see_other("/operators")


@routes.add("POST", "/tokens", "admin", "Create an API token")
async def create_token(request: web.Request) -> web.Response:
    f = await form(request)
    days_raw = f.get("days", "").strip()
    try:
        days = float(days_raw) if days_raw else None
    except ValueError:
        raise ValidationError(f"days must be a number, not {days_raw!r}") from None
    t, raw = await run(
        operators.create_token, request.app[STORE], principal(request).actor,
        f.get("name", "").strip(), f.get("role", ""), days,
    )
    return render(request, "token.html", t=t, raw=raw, status=201)


@routes.add("POST", "/tokens/{name}/revoke", "admin", "Revoke an API token")
async def revoke_token(request: web.Request) -> web.Response:
    await run(operators.revoke_token, request.app[STORE], principal(request).actor,
              request.match_info["name"])
    raise see_other("/operators")


# ---------------------------------------------------------------- audit log


@routes.add("GET", "/audit", "viewer", "Audit log")
async def audit_page(request: web.Request) -> web.Response:
    page = page_number(request)
    target = request.query.get("target", "").strip()
    items = await run(
        audit.recent, request.app[STORE], PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, target or None
    )
    more = len(items) > PAGE_SIZE

    def link(n: int) -> str:
        return "/audit?" + urlencode({"target": target, "page": n})

    return render(request, "audit.html", items=items[:PAGE_SIZE], page=page, more=more,
                  target=target, link=link)

