"""Jinja2 page rendering with autoescaping; every page gets the caller and its CSRF token."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from ..services.operators import Principal
from .routing import PRINCIPAL_KEY

TEMPLATES = Path(__file__).resolve().parent / "templates"
JINJA = web.AppKey("jinja", jinja2.Environment)


def _when(t: dt.datetime | None) -> str:
    if t is None:
        return "-"
    return t.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _segment(value: object) -> str:
    """``value`` percent-encoded as one URL path segment (``#``, ``/``, ``?`` and all)."""
    return quote(str(value), safe="")


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["seg"] = _segment
    return env


def render(
    request: web.Request, name: str, status: int = 200, **context: Any
) -> web.Response:
    who = request.get(PRINCIPAL_KEY)
    context.setdefault("who", who if isinstance(who, Principal) else None)
    context.setdefault("csrf", who.csrf_token if isinstance(who, Principal) else "")
    context.setdefault("path", request.path)
    text = request.app[JINJA].get_template(name).render(**context)
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
