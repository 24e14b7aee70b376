"""Operators and API tokens (admin only).

Locking an operator and revoking a token ask first; a new token is shown on
a one-time result page (the redirect target), never in a URL.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from ..services import operators
from . import forms, pagekit
from .feedback import RESULTS
from .routing import STORE, RouteTable, principal, run
from .templating import render

routes = RouteTable()
OP_FIELDS = ("name", "role", "password")
TOKEN_FIELDS = ("name", "role", "days")


async def _page(
    request: web.Request, values: forms.Values | None = None, errors: forms.Errors | None = None,
    status: int = 200, form: str = "",
) -> web.Response:
    ops = await run(operators.list_all, request.app[STORE])
    tokens = await run(operators.list_tokens, request.app[STORE])
    return render(request, "operators.html", ops=ops, tokens=tokens, roles=operators.ROLES,
                  values=values or {}, errors=errors or {}, form=form, status=status)


@routes.add("GET", "/operators", "admin", "Operators and API tokens")
async def operators_page(request: web.Request) -> web.Response:
    return await _page(request)


@routes.add("POST", "/operators", "admin", "Create an operator")
async def add_operator(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        op = await run(operators.add, request.app[STORE], principal(request).actor,
                       f.get("name", "").strip(), f.get("role", ""), f.get("password", ""))
        raise pagekit.flash_to(request, "/operators", f"Added operator {op.name} ({op.role}).")

    return await forms.submit(f, OP_FIELDS, act,
                              lambda v, e, st: _page(request, v, e, st, "operator"))


@routes.add("GET", "/operators/{name}/disable", "admin", "Confirm: lock an operator")
async def confirm_disable(request: web.Request) -> web.Response:
    op = await run(operators.get, request.app[STORE], request.match_info["name"])
    return _confirm_disable(request, op.name)


def _confirm_disable(request: web.Request, name: str) -> web.Response:
    return pagekit.confirm(
        request, f"Lock operator {name}",
        [f"{name} can no longer log in, and every open session of {name} ends now.",
         "Enable gives the account back with the same password."],
        f"/operators/{quote(name, safe='')}", f"Lock {name}", "/operators",
        [("action", "disable")],
    )


@routes.add("POST", "/operators/{name}", "admin", "Change an operator")
async def edit_operator(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)
    name = request.match_info["name"]
    action = f.get("action", "")
    if action == "disable" and not pagekit.confirmed(f):
        return _confirm_disable(request, name)
    disabled = {"disable": True, "enable": False}.get(action)
    role = f.get("role") or None if action == "role" else None
    password = f.get("password", "") if action == "password" else None

    async def act() -> web.StreamResponse:
        op = await run(operators.update, request.app[STORE], principal(request).actor, name,
                       role, disabled, password)
        message = {
            "disable": f"Locked {op.name}; their sessions ended.",
            "enable": f"Enabled {op.name}.",
            "role": f"{op.name} is now {op.role}; their sessions ended.",
            "password": f"Set a new password for {op.name}; their sessions ended.",
        }.get(action, f"Saved {op.name}.")
        raise pagekit.flash_to(request, "/operators", message)

    async def again(v: forms.Values, e: forms.Errors, st: int) -> web.Response:
        message = "; ".join(e.values())
        return await _page(request, {}, {"_form": f"{name}: {message}"}, st)

    return await forms.submit(f, (), act, again)


@routes.add("POST", "/tokens", "admin", "Create an API token")
async def create_token(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        days_raw = f.get("days", "").strip()
        try:
            days = float(days_raw) if days_raw else None
        except ValueError:
            from ..errors import ValidationError

            raise ValidationError(f"days must be a number, not {days_raw!r}") from None
        t, raw = await run(operators.create_token, request.app[STORE], principal(request).actor,
                           f.get("name", "").strip(), f.get("role", ""), days)
        token = request.app[RESULTS].put(principal(request), "token.html", ("raw",), t=t, raw=raw)
        raise web.HTTPSeeOther(f"/done/{token}")

    return await forms.submit(f, TOKEN_FIELDS, act,
                              lambda v, e, st: _page(request, v, e, st, "token"))


@routes.add("GET", "/tokens/{name}/revoke", "admin", "Confirm: revoke an API token")
async def confirm_revoke_token(request: web.Request) -> web.Response:
    return _confirm_revoke(request, request.match_info["name"])


def _confirm_revoke(request: web.Request, name: str) -> web.Response:
    return pagekit.confirm(
        request, f"Revoke API token {name}",
        [f"Every script using the token {name} gets 401 from now on.",
         "This cannot be undone: create a new token to give access again."],
        f"/tokens/{quote(name, safe='')}/revoke", f"Revoke {name}", "/operators",
    )


@routes.add("POST", "/tokens/{name}/revoke", "admin", "Revoke an API token")
async def revoke_token(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)
    name = request.match_info["name"]
    if not pagekit.confirmed(f):
        return _confirm_revoke(request, name)
    t = await run(operators.revoke_token, request.app[STORE], principal(request).actor, name)
    raise pagekit.flash_to(request, "/operators", f"Revoked API token {t.name}.")
