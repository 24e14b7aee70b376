"""Building blocks every page module uses: confirmation steps and result pages.

A destructive action is two requests: the first (a GET, or a POST without
``confirm=yes``) shows what it will do and asks; the confirmed POST does it
and redirects to a result page saying what was done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from .feedback import RESULTS, redirect
from .routing import WEB, principal
from .templating import render


def confirm(
    request: web.Request,
    title: str,
    consequences: Sequence[str],
    action: str,
    button: str,
    cancel: str,
    hidden: Sequence[tuple[str, str]] = (),
) -> web.Response:
    """The confirmation step of a destructive action."""
    return render(request, "confirm.html", title=title, consequences=list(consequences),
                  action=action, button=button, cancel=cancel, hidden=list(hidden))


def confirmed(values: dict[str, str]) -> bool:
    return values.get("confirm") == "yes"


def done(
    request: web.Request,
    title: str,
    lines: Sequence[str],
    links: Sequence[tuple[str, str]],
    rows_head: Sequence[str] = (),
    rows: Sequence[Sequence[Any]] = (),
) -> web.HTTPSeeOther:
    """303 to a result page that says what was done (reloading it repeats nothing)."""
    who = principal(request)
    token = request.app[RESULTS].put(
        who, "done.html", title=title, lines=list(lines), links=list(links),
        rows_head=list(rows_head), rows=[list(r) for r in rows],
    )
    return web.HTTPSeeOther(f"/done/{token}")


def flash_to(request: web.Request, location: str, message: str) -> web.HTTPSeeOther:
    return redirect(location, principal(request), message, request.app[WEB].secure_cookies)
