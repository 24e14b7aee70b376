"""Who may call what: authentication, roles, CSRF, security headers, error shapes.

* ``Authorization: Bearer TOKEN`` (API tokens) or the session cookie
  (browser) identifies the caller; anything else is anonymous, and only
  public routes (login, health, static assets) take anonymous requests.
* A state-changing request made with a session cookie must carry the
  session's CSRF token (form field ``csrf_token`` or header
  ``X-CSRF-Token``) and, when the browser sends ``Sec-Fetch-Site``, come
  from the same origin.  The login form uses a double-submit cookie
  instead, since there is no session yet.  Bearer requests need neither:
  browsers never attach the header on their own.
* Every response gets CSP, X-Frame-Options, nosniff, Referrer-Policy and
  ``Cache-Control: no-store`` (pages may show secrets); static assets may
  be cached.
* Errors under ``/api/`` are ``{"error": "..."}`` with a 4xx/5xx status,
  pages get an error page; never a stack trace.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
from urllib.parse import quote, urlsplit

from aiohttp import web
from sqlalchemy.exc import DBAPIError

from ..errors import BootstrapError
from ..services import operators, validate
from ..services.validate import shown
from .routing import PRINCIPAL_KEY, STORE, WEB, Handler, run, spec_of
from .templating import render

log = logging.getLogger("bootstrap.web")

SESSION_COOKIE = "mip6bs_session"
LOGIN_COOKIE = "mip6bs_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)


class Refused(Exception):
    """A request refused with ``status`` and a one-sentence reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def error_response(request: web.Request, status: int, message: str) -> web.StreamResponse:
    if is_api(request) or request.path in ("/metrics", "/healthz"):
        resp = web.json_response({"error": message}, status=status)
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="mip6-bootstrap"'
        return resp
    return render(request, "error.html", status=status, message=message)


_HTTP_MESSAGES = {
    404: "there is no such page or API path",
    405: "this method is not allowed on this path",
    413: "the request body is too large",
}


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: turn every failure into a clean response of the right kind."""
    try:
        return await handler(request)
    except Refused as exc:
        return error_response(request, exc.status, exc.message)
    except BootstrapError as exc:
        return error_response(request, exc.http_status, str(exc))
    except DBAPIError as exc:
        log.error(
            "store error on %s %s: %s", request.method, shown(request.path), shown(str(exc.orig))
        )
        return error_response(
            request, 503, "store unavailable: it cannot be reached right now; try again later"
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = _HTTP_MESSAGES.get(exc.status) or exc.reason or "request refused"
        if exc.text and not exc.text.startswith(f"{exc.status}:"):
            message = exc.text
        resp = error_response(request, exc.status, message)
        if "Allow" in exc.headers:  # RFC 9110 section 15.5.6: a 405 lists what is allowed
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, shown(request.path))
        return error_response(request, 500, "internal error; the server log has the details")


def same_origin_path(value: str | None) -> str | None:
    """``value`` if it is a path on this origin to redirect to after login, else None.

    Exactly one leading ``/``, then no second ``/`` or ``\\``, no scheme, host or
    control character or space anywhere: browsers drop tabs and newlines and
    read ``\\`` as ``/``, so ``/\t/evil.example`` or ``/\\evil.example`` would
    otherwise leave the origin.
    """
    if not value or len(value) > 2000 or not value.startswith("/"):
        return None
    if any(c in value for c in "\\") or not value.isprintable() or " " in value:
        return None
    if value[1:2] == "/":
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return value


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Refused(401, "the Authorization header must be 'Bearer TOKEN'")
    return value.strip()


def _check_fetch_site(request: web.Request) -> None:
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ALLOWED_FETCH_SITES:
        raise Refused(403, f"cross-site request refused (Sec-Fetch-Site: {site})")


async def _form_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def _check_csrf(request: web.Request, expected: str) -> None:
    _check_fetch_site(request)
    given = await _form_token(request)
    if not given or not expected or not hmac.compare_digest(given, expected):
        raise Refused(403, "the CSRF token is missing or wrong; reload the page and try again")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Identify the caller, check the route's role and the CSRF guards."""
    spec = spec_of(request)
    if spec is None:
        if request.match_info.http_exception is not None:
            raise request.match_info.http_exception
        raise Refused(403, "this route declares no access rule")
    if spec.max_body is not None:
        request = request.clone(client_max_size=spec.max_body)  # an upload route
    store = request.app[STORE]
    token = _bearer(request)
    who: operators.Principal | None = None
    if token is not None:
        who = await run(operators.token_principal, store, token)
        if who is None:
            raise Refused(401, "the API token is unknown, revoked or expired")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            who = await run(
                operators.session_principal, store, cookie, request.app[WEB].session_idle_timeout
            )
    if who is not None:
        request[PRINCIPAL_KEY] = who
    if spec.public:
        if spec.state_changing and spec.path == "/login":
            await _check_csrf(request, request.cookies.get(LOGIN_COOKIE, ""))
        check_inputs(request)
        return await handler(request)
    if who is None:
        if is_api(request) or request.path == "/metrics":
            raise Refused(401, "authentication required: send 'Authorization: Bearer TOKEN'")
        target = request.path_qs if request.method == "GET" else "/"
        raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")
    assert spec.role is not None
    if not who.may(spec.role):
        raise Refused(403, f"this needs the {spec.role} role; {who.name} is {who.role}")
    if spec.state_changing and who.kind == "session":
        await _check_csrf(request, who.csrf_token)
    check_inputs(request)
    return await handler(request)


def check_inputs(request: web.Request) -> None:
    """Path and query values are free text: no NUL, newline or other control character.

    Checked once here for every route, so no handler passes such a value to
    the store (PostgreSQL refuses NUL) or into a log line.
    """
    for name, value in request.match_info.items():
        validate.text(value, f"path parameter {shown(name)}")
    for name, value in request.query.items():
        validate.text(name, "a query parameter name")
        validate.text(value, f"query parameter {shown(name)}")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: headers every response carries."""
    h = response.headers
    h["Server"] = "mip6-bootstrap"
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/static/"):
        h.setdefault("Cache-Control", "public, max-age=3600")
    else:
        h["Cache-Control"] = "no-store"


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, value: str, max_age: float
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(max_age),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.app[WEB].secure_cookies,
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def login_csrf(request: web.Request, response: web.StreamResponse) -> str:
    """The login form's double-submit token: reuse the cookie's or set a new one."""
    value = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response.set_cookie(
        LOGIN_COOKIE,
        value,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=request.app[WEB].secure_cookies,
    )
    return value


async def json_body(request: web.Request) -> object:
    """The request's JSON body, or a 400-class error in one sentence."""
    if not request.can_read_body:
        raise Refused(400, "the request needs a JSON body")
    try:
        text = await request.text()
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Refused(400, "the request body is not valid JSON") from None
    except RecursionError:
        raise Refused(400, "the request body is nested too deeply") from None
