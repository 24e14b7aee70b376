"""Home agents, home networks, the CA and the DNS outbox: the operator's infrastructure pages.

Drain and down ask first, saying how many subscribers move and to which
home agents, and the result page says how many moved where.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from .. import domain
from ..services import credentials, dnsoutbox, home_agents, networks, reassign
from . import api, forms, pagekit
from .routing import SETTINGS, STORE, WEB, RouteTable, principal, run
from .templating import render

routes = RouteTable()
HA_FIELDS = ("fqdn", "network", "address", "ipv4", "priority", "weight", "capacity",
             "allow_outside_prefix")
HA_EDIT_FIELDS = ("priority", "weight", "capacity")
NET_FIELDS = ("domain", "prefix", "ipv4_pool", "zones", "ha_info")


def ha_url(fqdn: str) -> str:
    return "/home-agents/" + quote(fqdn, safe="")


def _zones(text: str) -> list[str]:
    return [z for z in text.replace(",", " ").split() if z]


# ---------------------------------------------------------------- home agents


@routes.add("GET", "/home-agents", "viewer", "Home agents")
async def home_agents_page(request: web.Request) -> web.Response:
    items = await run(home_agents.list_all, request.app[STORE])
    from ..services import dashboard

    offered = dashboard.offered(items, request.app[WEB].heartbeat_timeout)
    return render(request, "home_agents.html", items=items, offered=offered, ha_url=ha_url)


async def _ha_form(
    request: web.Request, values: forms.Values, errors: forms.Errors, status: int = 200
) -> web.Response:
    nets = await run(networks.list_all, request.app[STORE])
    return render(request, "home_agent_new.html", values=values, errors=errors, networks=nets,
                  status=status)


@routes.add("GET", "/home-agents/new", "admin", "Form: add a home agent")
async def new_home_agent(request: web.Request) -> web.Response:
    return await _ha_form(request, {}, {})


@routes.add("POST", "/home-agents", "admin", "Add a home agent")
async def add_home_agent(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        h = await run(
            home_agents.add, request.app[STORE], principal(request).actor, f.get("fqdn", ""),
            f.get("network", ""), f.get("address", ""), f.get("ipv4") or None,
            forms.int_field(f, "priority", 10), forms.int_field(f, "weight", 100),
            forms.int_field(f, "capacity", 10000), f.get("allow_outside_prefix") == "on",
            request.app[SETTINGS],
        )
        raise pagekit.flash_to(request, ha_url(h.fqdn),
                               f"Added home agent {h.fqdn}; it is offered to new subscribers.")

    return await forms.submit(f, HA_FIELDS, act, lambda v, e, st: _ha_form(request, v, e, st))


async def _ha_page(
    request: web.Request, values: forms.Values, errors: forms.Errors, status: int = 200
) -> web.Response:
    h = await run(home_agents.get, request.app[STORE], request.match_info["fqdn"])
    from ..services import dashboard

    offered = dashboard.offered([h], request.app[WEB].heartbeat_timeout)
    return render(request, "home_agent.html", h=h, offered=h.fqdn in offered, values=values,
                  errors=errors, url=ha_url(h.fqdn), status=status)


@routes.add("GET", "/home-agents/{fqdn}", "viewer", "One home agent")
async def home_agent_page(request: web.Request) -> web.Response:
    return await _ha_page(request, {}, {})


@routes.add("POST", "/home-agents/{fqdn}", "admin",
            "Change a home agent's priority, weight, capacity")
async def edit_home_agent(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        h = await run(
            home_agents.edit, request.app[STORE], principal(request).actor,
            request.match_info["fqdn"], forms.int_field(f, "priority", -1) if f.get("priority")
            else None, forms.int_field(f, "weight", -1) if f.get("weight") else None,
            forms.int_field(f, "capacity", -1) if f.get("capacity") else None,
            request.app[SETTINGS],
        )
        raise pagekit.flash_to(request, ha_url(h.fqdn),
                               f"Saved {h.fqdn}: priority {h.priority}, weight {h.weight},"
                               f" capacity {h.capacity:,}.")

    return await forms.submit(f, HA_EDIT_FIELDS, act, lambda v, e, st: _ha_page(request, v, e, st))


def _move_words(p: reassign.Preview) -> list[str]:
    if p.subscribers == 0:
        return ["It has no subscribers, so nobody moves."]
    if not p.targets:
        return [f"Its {p.subscribers:,} subscribers stay on it: no other live home agent of the"
                " network has room."]
    spread = ", ".join(f"{fqdn} ({room:,} free)" for fqdn, room in p.targets.items())
    if p.room >= p.subscribers:
        if len(p.targets) == 1:
            return [f"{p.subscribers:,} subscribers move to {next(iter(p.targets))}."]
        return [f"{p.subscribers:,} subscribers move to the other live home agents: {spread}."]
    return [f"{p.room:,} of its {p.subscribers:,} subscribers move ({spread});"
            f" {p.subscribers - p.room:,} stay on it for lack of room."]


def _ha_state(verb: str, target: domain.HAState) -> None:
    asks = target is not domain.HAState.ACTIVE

    async def handler(request: web.Request) -> web.StreamResponse:
        store, settings = request.app[STORE], request.app[SETTINGS]
        fqdn = request.match_info["fqdn"]
        values = await forms.read(request) if request.method == "POST" else {}
        h = await run(home_agents.get, store, fqdn)
        url = ha_url(h.fqdn)
        if asks and not pagekit.confirmed(values):
            p = await run(reassign.preview, store, settings, h.fqdn)
            what = ("It is no longer offered to new subscribers, by DHCP or DNS; connected mobile"
                    " nodes are redirected to their new home agent."
                    if target is domain.HAState.DRAINING else
                    "It is treated as failed: no longer offered, and its subscribers are"
                    " reassigned.")
            return pagekit.confirm(request, f"{verb.capitalize()} {h.fqdn}",
                                   [what, *_move_words(p)], f"{url}/{verb}",
                                   f"{verb.capitalize()} {h.fqdn}", url)
        change = await run(home_agents.change_state, store, principal(request).actor, fqdn,
                           target, settings)
        if not asks:
            raise pagekit.flash_to(request, url, f"Activated {h.fqdn}: it is offered again.")
        moved = change.moved_to()
        lines = [f"{h.fqdn} is now {change.agent.state.value} (was {change.before.value})."]
        if moved:
            lines.append(f"{len(change.moved):,} subscribers moved: " + ", ".join(
                f"{n:,} to {fqdn}" for fqdn, n in moved.items()) + ".")
        else:
            lines.append("No subscriber moved.")
        if change.stranded:
            lines.append(f"{len(change.stranded):,} subscribers stay on {h.fqdn}: no other live"
                         " home agent had room.")
        raise pagekit.done(request, f"{verb.capitalize()}ed {h.fqdn}".replace("eed", "ed"),
                           lines, [(url, f"Back to {h.fqdn}"), ("/home-agents", "All home agents")],
                           ("Home agent", "Subscribers moved there"),
                           [(fqdn, f"{n:,}") for fqdn, n in moved.items()])

    handler.__name__ = f"{verb}_ha_page"
    routes.add("POST", f"/home-agents/{{fqdn}}/{verb}", "admin",
               f"{verb.capitalize()} a home agent")(handler)
    if asks:

        async def ask(request: web.Request) -> web.StreamResponse:
            return await handler(request)

        ask.__name__ = f"confirm_{verb}_ha_page"
        routes.add("GET", f"/home-agents/{{fqdn}}/{verb}", "admin",
                   f"Confirm: {verb} a home agent")(ask)


_ha_state("drain", domain.HAState.DRAINING)
_ha_state("down", domain.HAState.DOWN)
_ha_state("activate", domain.HAState.ACTIVE)


# ---------------------------------------------------------------- networks and the CA


@routes.add("GET", "/networks", "viewer", "Home networks and the CA")
async def networks_page(request: web.Request) -> web.Response:
    items = await run(networks.list_all, request.app[STORE])
    has_ca = await run(credentials.ca_cert_pem, request.app[STORE]) is not None
    return render(request, "networks.html", items=items, has_ca=has_ca)


async def _net_form(
    request: web.Request, values: forms.Values, errors: forms.Errors, status: int = 200
) -> web.Response:
    return render(request, "network_new.html", values=values, errors=errors,
                  ha_infos=[i.value for i in domain.HAInfo], status=status)


@routes.add("GET", "/networks/new", "admin", "Form: add a home network")
async def new_network(request: web.Request) -> web.Response:
    return await _net_form(request, {}, {})


@routes.add("POST", "/networks", "admin", "Add a home network")
async def add_network(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        n = await run(
            networks.add, request.app[STORE], principal(request).actor, f.get("domain", ""),
            f.get("prefix", ""), f.get("ipv4_pool") or None, _zones(f.get("zones", "")),
            f.get("ha_info") or "both",
        )
        raise pagekit.flash_to(request, f"/networks/{quote(n.domain, safe='')}",
                               f"Added network {n.domain}; add a home agent to it next.")

    return await forms.submit(f, NET_FIELDS, act, lambda v, e, st: _net_form(request, v, e, st))


@routes.add("POST", "/ca", "admin", "Create the store's certificate authority")
async def create_ca(request: web.Request) -> web.StreamResponse:
    await forms.read(request)
    await run(credentials.ca_init, request.app[STORE], request.app[SETTINGS],
              actor=principal(request).actor)
    raise pagekit.flash_to(request, "/networks",
                           "Created the CA: certificate subscribers and MN bundles work now.")


@routes.add("GET", "/ca.pem", "viewer", "Download the store CA's certificate")
async def ca_pem_page(request: web.Request) -> web.Response:
    pem = await api.ca_pem(request)
    return web.Response(
        text=pem, content_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="mip6-bootstrap-ca.pem"'},
    )


async def _net_page(
    request: web.Request, values: forms.Values, errors: forms.Errors, status: int = 200
) -> web.Response:
    n = await run(networks.get, request.app[STORE], request.match_info["domain"])
    agents = await run(home_agents.list_all, request.app[STORE], n.domain)
    return render(request, "network.html", n=n, agents=agents, values=values, errors=errors,
                  ha_infos=[i.value for i in domain.HAInfo], ha_url=ha_url, status=status)


@routes.add("GET", "/networks/{domain}", "viewer", "One home network")
async def network_page(request: web.Request) -> web.Response:
    return await _net_page(request, {}, {})


@routes.add("POST", "/networks/{domain}", "admin", "Save a home network")
async def edit_network(request: web.Request) -> web.StreamResponse:
    f = await forms.read(request)

    async def act() -> web.StreamResponse:
        n = await run(
            networks.update, request.app[STORE], principal(request).actor,
            request.match_info["domain"], _zones(f.get("zones", "")), f.get("ha_info") or None,
        )
        raise pagekit.flash_to(request, f"/networks/{quote(n.domain, safe='')}",
                               f"Saved network {n.domain}.")

    return await forms.submit(f, ("zones", "ha_info"), act,
                              lambda v, e, st: _net_page(request, v, e, st))


# ---------------------------------------------------------------- DNS


@routes.add("GET", "/dns", "viewer", "DNS outbox per zone")
async def dns_page(request: web.Request) -> web.Response:
    st = await run(dnsoutbox.status, request.app[STORE])
    cfg = request.app[WEB]
    return render(request, "dns.html", st=st, publishing=cfg.dns_enabled, mode=cfg.dns_publish)


@routes.add("POST", "/dns/retry", "admin", "Send every pending DNS change now (cancel backoffs)")
async def dns_retry(request: web.Request) -> web.StreamResponse:
    await forms.read(request)
    n = await run(dnsoutbox.make_due, request.app[STORE])
    raise pagekit.flash_to(request, "/dns", f"{n:,} waiting DNS changes are due now; the"
                           " publisher sends them on its next pass.")
