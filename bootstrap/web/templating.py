"""Jinja2 page rendering with autoescaping; every page gets the caller, its CSRF token
and the flash message left for it (:mod:`.feedback`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from ..services.operators import Principal
from .feedback import FLASH_COOKIE, take_flash
from .routing import PRINCIPAL_KEY

TEMPLATES = Path(__file__).resolve().parent / "templates"
JINJA = web.AppKey("jinja", jinja2.Environment)


def _when(t: dt.datetime | None) -> str:
    if t is None:
        return "-"
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _num(n: int) -> str:
    return f"{n:,}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _path(value: object) -> str:
    """One URL path segment (identities may hold characters a path needs escaped)."""
    return quote(str(value), safe="@")


def _pair(value: object) -> tuple[object, object]:
    return (value, value)


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["num"] = _num
    env.filters["path"] = _path
    env.filters["pair"] = _pair
    env.filters["plural"] = _plural
    return env


def render(
    request: web.Request, name: str, status: int = 200, **context: Any
) -> web.Response:
    who = request.get(PRINCIPAL_KEY)
    context.setdefault("who", who if isinstance(who, Principal) else None)
    context.setdefault("csrf", who.csrf_token if isinstance(who, Principal) else "")
    context.setdefault("path", request.path)
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("flash", take_flash(request, who if isinstance(who, Principal) else None))
    text = request.app[JINJA].get_template(name).render(**context)
    resp = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    if FLASH_COOKIE in request.cookies:
        resp.del_cookie(FLASH_COOKIE, path="/")
    return resp
