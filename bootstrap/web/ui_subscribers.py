"""Subscriber pages: the list with its filters and bulk actions, enrollment, one subscriber.

Enrollment answers with a redirect to a one-time result page
(:mod:`.feedback`): the secret is shown on its first view, a reload shows
the rest and enrolls nothing.  Suspend, revoke and the bulk actions ask
first (:mod:`.pagekit`).
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote, urlencode

from aiohttp import web

from .. import domain
from ..errors import ValidationError
from ..services import (
    bundle,
    home_agents,
    networks,
    subscriber_bulk,
    subscriber_list,
    subscribers,
)
from . import bundles, forms, pagekit
from .feedback import RESULTS
from .routing import SETTINGS, STORE, WEB, RouteTable, principal, run
from .templating import render

routes = RouteTable()
ENROLL_FIELDS = ("identity", "network", "fqdn", "auth", "ipv4")
FILTERS = ("q", "network", "home_agent", "state", "auth", "sort", "dir", "size")


def url_of(identity: str) -> str:
    return "/subscribers/" + quote(identity, safe="@")


def query_of(request: web.Request) -> subscriber_list.Query:
    """The list query an operator asked for in the URL."""
    q = request.query

    def number(name: str, default: int) -> int:
        raw = q.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit():
            raise ValidationError(f"{name} must be a whole number, not {raw!r}")
        return int(raw)

    return subscriber_list.Query(
        network=q.get("network") or None,
        home_agent=q.get("home_agent") or None,
        state=q.get("state") or None,
        auth=q.get("auth") or None,
        search=q.get("q") or None,
        sort=q.get("sort") or "identity",
        descending=q.get("dir") == "desc",
        page=number("page", 1),
        size=number("size", 50),
    )


def _filter_params(request: web.Request) -> dict[str, str]:
    return {k: request.query[k] for k in FILTERS if request.query.get(k)}


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """1 … p-2 p-1 p p+1 p+2 … last, with None for a gap."""
    wanted = {1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}
    out: list[int | None] = []
    prev = 0
    for n in sorted(wanted):
        if n - prev > 1:
            out.append(None)
        out.append(n)
        prev = n
    return out


@routes.add("GET", "/subscribers", "viewer", "Subscribers: filter, sort, pages, bulk actions")
async def list_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    params = _filter_params(request)
    query = query_of(request)
    result = await run(subscriber_list.page, store, query)
    nets = await run(networks.list_all, store)
    has = await run(home_agents.list_all, store)

    def link(**change: object) -> str:
        merged = {**params, **{k: str(v) for k, v in change.items() if v is not None}}
        return "/subscribers?" + urlencode({k: v for k, v in merged.items() if v})

    def sort_link(col: str) -> str:
        desc = query.sort == col and not query.descending
        return link(sort=col, dir="desc" if desc else "asc", page=1)

    return render(
        request, "subscribers.html", result=result, query=result.query, params=params,
        link=link, sort_link=sort_link, numbers=_page_numbers(result.query.page, result.pages),
        states=[s.value for s in domain.SubscriberState],
        auths=[a.value for a in domain.AuthMethod], networks=nets, home_agents=has,
        sizes=subscriber_list.PAGE_SIZES, url_of=url_of,
        export_link="/subscribers/export.csv?" + urlencode(params),
    )


# ---------------------------------------------------------------- enrollment


async def _enroll_form(
    request: web.Request, values: forms.Values, errors: forms.Errors, status: int = 200
) -> web.Response:
    nets = await run(networks.list_all, request.app[STORE])
    return render(request, "enroll.html", values=values, errors=errors, networks=nets,
                  status=status)


@routes.add("GET", "/subscribers/new", "operator", "Enrollment form")
async def enroll_form(request: web.Request) -> web.Response:
    values = {"identity": request.query.get("identity", "")}
    return await _enroll_form(request, values, {})


@routes.add("POST", "/subscribers", "operator", "Enroll a subscriber")
async def enroll(request: web.Request) -> web.StreamResponse:
    values = await forms.read(request)

    async def act() -> web.StreamResponse:
        e = await run(
            subscribers.enroll, request.app[STORE], request.app[SETTINGS],
            principal(request).actor, values.get("identity", ""), values.get("network") or None,
            values.get("fqdn") or None, values.get("auth") or "eap", values.get("ipv4") == "on",
        )
        token = request.app[RESULTS].put(
            principal(request), "enrolled.html", ("secret",),
            e=dataclasses.replace(e, secret=None), secret=e.secret,
        )
        raise web.HTTPSeeOther(f"/done/{token}")

    return await forms.submit(values, ENROLL_FIELDS, act,
                              lambda v, e, st: _enroll_form(request, v, e, st))


# ---------------------------------------------------------------- one subscriber


@routes.add("GET", "/subscribers/{identity}", "viewer", "One subscriber")
async def subscriber_page(request: web.Request) -> web.Response:
    store, ident = request.app[STORE], request.match_info["identity"]
    sub = await run(subscribers.get, store, ident)
    ha = await run(subscribers.ha_of, store, ident)
    binds = await run(subscribers.bindings_of, store, ident)
    downloaded = await run(bundle.issued, store, sub.identity)
    return render(request, "subscriber.html", sub=sub, ha=ha, binds=binds,
                  downloaded=downloaded, downloadable=bundles.RENDERER in request.app,
                  url=url_of(sub.identity))


def _consequences(verb: str, sub: domain.Subscriber, quarantine_days: float) -> list[str]:
    hoas = ", ".join(str(a) for a in (*sub.hoas, *([sub.hoa4] if sub.hoa4 else [])))
    if verb == "suspend":
        return [
            f"{sub.identity} loses service: its IKEv2 logins are refused and its DNS names"
            " are withdrawn.",
            f"It keeps its home address ({hoas or 'none'}) and home agent"
            f" ({sub.home_agent or 'none'}), so Resume gives service back.",
        ]
    return [
        f"The credential of {sub.identity} ({sub.auth.value}) is destroyed; the mobile node"
        " can no longer log in.",
        f"Its home address ({hoas or 'none'}) is released and kept out of use for"
        f" {quarantine_days:g} days.",
        f"Its slot on {sub.home_agent or 'its home agent'} is freed and its DNS names are"
        " withdrawn.",
        "This cannot be undone: re-enrolling gives a new credential and a new home address.",
    ]


def _state_page(verb: str) -> None:
    fn = subscriber_bulk.ACTIONS[verb]
    asks = verb in ("suspend", "revoke")

    async def handler(request: web.Request) -> web.StreamResponse:
        store, settings = request.app[STORE], request.app[SETTINGS]
        ident = request.match_info["identity"]
        sub = await run(subscribers.get, store, ident)
        url = url_of(sub.identity)
        values = await forms.read(request) if request.method == "POST" else {}
        if asks and not pagekit.confirmed(values):
            return pagekit.confirm(
                request, f"{verb.capitalize()} {sub.identity}",
                _consequences(verb, sub, request.app[WEB].hoa_quarantine_days),
                f"{url}/{verb}", f"{verb.capitalize()} {sub.identity}", url,
            )
        after = await run(fn, store, settings, principal(request).actor, ident)
        if verb == "revoke":
            released = ", ".join(str(a) for a in (*sub.hoas, *([sub.hoa4] if sub.hoa4 else [])))
            raise pagekit.done(request, f"Revoked {after.identity}", [
                f"The credential of {after.identity} was destroyed.",
                f"Home address {released or '(none)'} is quarantined for"
                f" {request.app[WEB].hoa_quarantine_days:g} days.",
                f"The slot on {sub.home_agent or 'its home agent'} was freed.",
            ], [(url, f"Back to {after.identity}"), ("/subscribers", "All subscribers")])
        message = {
            "suspend": f"Suspended {after.identity}: it keeps its home address; resume it to"
                       " give service back.",
            "resume": f"Resumed {after.identity}: it has service again.",
        }[verb]
        raise pagekit.flash_to(request, url, message)

    handler.__name__ = f"{verb}_page"
    routes.add("POST", f"/subscribers/{{identity}}/{verb}", "operator",
               f"{verb.capitalize()} a subscriber")(handler)
    if asks:

        async def ask(request: web.Request) -> web.StreamResponse:
            return await handler(request)

        ask.__name__ = f"confirm_{verb}_page"
        routes.add("GET", f"/subscribers/{{identity}}/{verb}", "operator",
                   f"Confirm: {verb} a subscriber")(ask)


_state_page("suspend")
_state_page("resume")
_state_page("revoke")


@routes.add("POST", "/subscribers/{identity}/bundle", "operator",
            "Download the MN configuration bundle (once)")
async def bundle_page(request: web.Request) -> web.Response:
    name, data = await run(
        bundles.download_once, request.app[STORE], request.app[SETTINGS],
        principal(request).actor, request.match_info["identity"],
        bundles.renderer_of(request.app),
    )
    return bundles.as_response(name, data)


# ---------------------------------------------------------------- bulk actions


@routes.add("POST", "/subscribers/bulk", "operator",
            "Suspend, resume or revoke the chosen subscribers (asks first)")
async def bulk(request: web.Request) -> web.StreamResponse:
    data = await request.post()
    action = str(data.get("action", ""))
    chosen = [str(v) for v in data.getall("identity", []) if isinstance(v, str)]
    back = str(data.get("back", "")) or "/subscribers"
    if not back.startswith("/subscribers"):
        back = "/subscribers"
    try:
        idents = subscriber_bulk.check(action, chosen)
    except ValidationError as exc:
        raise pagekit.flash_to(request, back, forms.ui_words(str(exc)).replace(
            "identities: ", "Nothing done: ")) from None
    if data.get("confirm") != "yes":
        shown = ", ".join(idents[:10]) + (f" and {len(idents) - 10:,} more" if len(idents) > 10
                                          else "")
        what = {
            "suspend": "lose service until resumed (they keep their home addresses)",
            "resume": "get service again",
            "revoke": "lose their credentials for good; their home addresses are quarantined",
        }[action]
        n = len(idents)
        return pagekit.confirm(
            request, f"{action.capitalize()} {n:,} subscriber{'s' if n != 1 else ''}",
            [f"{n:,} subscriber{'s' if n != 1 else ''} {what}: {shown}."],
            "/subscribers/bulk", f"{action.capitalize()} {n:,}", back,
            [("action", action), ("back", back), *(("identity", i) for i in idents)],
        )
    out = await run(subscriber_bulk.change, request.app[STORE], request.app[SETTINGS],
                    principal(request).actor, action, idents)
    past = {"suspend": "Suspended", "resume": "Resumed", "revoke": "Revoked"}[action]
    lines = [f"{past} {len(out.done):,} subscriber{'s' if len(out.done) != 1 else ''}."]
    if out.refused:
        lines.append(f"{len(out.refused):,} did not change (see the table).")
    raise pagekit.done(
        request, f"{past} {len(out.done):,} of {len(idents):,}", lines,
        [(back, "Back to the list")], ("Identity", "Why it did not change"),
        [(i, forms.ui_words(r)) for i, r in out.refused],
    )


# ---------------------------------------------------------------- MN configuration, QR code


@routes.add("GET", "/subscribers/{identity}/config", "operator",
            "The MN configuration: file download or QR code (once)")
async def config_page(request: web.Request) -> web.Response:
    store = request.app[STORE]
    sub = await run(subscribers.get, store, request.match_info["identity"])
    downloaded = await run(bundle.issued, store, sub.identity)
    return render(request, "config.html", sub=sub, url=url_of(sub.identity),
                  downloaded=downloaded, qr=None, conf_name=None)


@routes.add("POST", "/subscribers/{identity}/qr", "operator",
            "Show the MN's swanctl.conf as a QR code (takes the one-time bundle)")
async def qr_page(request: web.Request) -> web.Response:
    from . import qr

    await forms.read(request)
    store = request.app[STORE]
    sub = await run(subscribers.get, store, request.match_info["identity"])
    issued = await run(bundle.issue_once, store, request.app[SETTINGS],
                       principal(request).actor, sub.identity, bundles.renderer_of(request.app))
    top = f"{issued.input.sub.fqdn}-swanctl"
    conf = issued.files["swanctl.conf"][0].decode()
    code = qr.svg(conf, f"QR code of the swanctl.conf of {sub.identity}")
    return render(request, "config.html", sub=sub, url=url_of(sub.identity), downloaded=True,
                  qr=code, conf_name=f"{top}/swanctl.conf")


# ---------------------------------------------------------------- re-enrollment


@routes.add("GET", "/subscribers/{identity}/reenroll", "operator",
            "Confirm: enroll a revoked subscriber again")
async def reenroll_form(request: web.Request) -> web.Response:
    sub = await run(subscribers.get, request.app[STORE], request.match_info["identity"])
    return pagekit.confirm(
        request, f"Enroll {sub.identity} again",
        [f"{sub.identity} gets a new {sub.auth.value} credential, a home agent slot and a new"
         " home address in " + sub.network + ".",
         f"Its old home address stays out of use until its {request.app[WEB].hoa_quarantine_days:g}"
         "-day quarantine ends.",
         "The new credential is shown once on the next page."],
        f"{url_of(sub.identity)}/reenroll", f"Enroll {sub.identity} again", url_of(sub.identity),
    )


@routes.add("POST", "/subscribers/{identity}/reenroll", "operator",
            "Enroll a revoked subscriber again (new credential and HoA)")
async def reenroll(request: web.Request) -> web.StreamResponse:
    values = await forms.read(request)
    if not pagekit.confirmed(values):
        return await reenroll_form(request)
    e = await run(subscribers.reenroll, request.app[STORE], request.app[SETTINGS],
                  principal(request).actor, request.match_info["identity"])
    token = request.app[RESULTS].put(
        principal(request), "enrolled.html", ("secret",),
        e=dataclasses.replace(e, secret=None), secret=e.secret,
    )
    raise web.HTTPSeeOther(f"/done/{token}")
