"""The audit log page: one sentence per entry, filters, targets as links."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from aiohttp import web

from ..errors import ValidationError
from ..services import audit
from . import audit_words
from .routing import STORE, RouteTable, run
from .templating import render

routes = RouteTable()
PAGE_SIZE = 50
FILTERS = ("action", "actor", "source", "target", "since", "until")


def _day(name: str, raw: str, end: bool = False) -> dt.datetime | None:
    """A ``YYYY-MM-DD`` date (UTC); ``until`` includes its whole day."""
    if not raw:
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a date such as 2026-01-31, not {raw!r}") from None
    start = dt.datetime(day.year, day.month, day.day)
    return start + dt.timedelta(days=1) if end else start


@routes.add("GET", "/audit", "viewer", "Audit log: sentences, filters, links")
async def audit_page(request: web.Request) -> web.Response:
    q = request.query
    raw_page = q.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise ValidationError("page must be a positive whole number")
    page = int(raw_page)
    params = {k: q[k].strip() for k in FILTERS if q.get(k, "").strip()}
    source = params.get("source")
    if source and source not in audit.SOURCES:
        raise ValidationError(f"source must be one of {', '.join(audit.SOURCES)}, not {source!r}")
    query = audit.AuditQuery(
        action=params.get("action"), actor=params.get("actor"), source=source,
        target=params.get("target"), since=_day("since", params.get("since", "")),
        until=_day("until", params.get("until", ""), end=True),
    )
    items = await run(audit.search, request.app[STORE], query, PAGE_SIZE + 1,
                      (page - 1) * PAGE_SIZE)
    more = len(items) > PAGE_SIZE
    rows = [
        (e, audit_words.sentence(e.action, e.target, e.detail),
         audit_words.target_link(e.action, e.target))
        for e in items[:PAGE_SIZE]
    ]

    def link(n: int) -> str:
        return "/audit?" + urlencode({**params, "page": n})

    return render(request, "audit.html", rows=rows, page=page, more=more, params=params,
                  link=link, actions=audit_words.ACTIONS, groups=audit_words.GROUPS,
                  sources=audit.SOURCES)
