"""REST API ``/api/v1``: thin handlers, each one service call plus JSON.

Roles: ``viewer`` reads, ``operator`` changes subscribers, ``admin``
changes networks, home agents, operators and tokens.  Bodies are checked
against the schemas of :mod:`.schemas` (the ones the OpenAPI document
shows); service errors become ``{"error": ...}`` with their HTTP status.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import serialize
from ..errors import NotFound, ValidationError
from ..services import (
    audit,
    credentials,
    dashboard,
    home_agents,
    networks,
    operators,
    subscriber_bulk,
    subscriber_list,
    subscribers,
)
from . import bundles, schemas
from .routing import SETTINGS, STORE, WEB, RouteTable, principal, run
from .security import json_body

API = "/api/v1"
routes = RouteTable()


def ok(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def body(request: web.Request, schema: dict[str, Any]) -> dict[str, Any]:
    return schemas.check(schema, await json_body(request))


def int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"query parameter {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise ValidationError(f"query parameter {name!r} must be between {lo} and {hi}")
    return value


PAGE_QUERY = {
    "limit": ("integer", "Page size (1 to [web] api_page_limit, default 100)",
              {"minimum": 1, "maximum": "api_page_limit"}),
    "offset": ("integer", "Rows to skip", {"minimum": 0, "maximum": 2**31}),
}


# ---------------------------------------------------------------- who am I, dashboard


@routes.add(
    "GET",
    f"{API}/me",
    "viewer",
    "The caller's name, role and kind",
    tag="operators",
    returns=schemas.ME_OUT,
)
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    return ok({"name": who.name, "role": who.role, "kind": who.kind})


@routes.add(
    "GET",
    f"{API}/dashboard",
    "viewer",
    "Counts, home agents, DNS outbox, bindings",
    tag="dashboard",
    returns=schemas.DASHBOARD_OUT,
)
async def get_dashboard(request: web.Request) -> web.Response:
    timeout = request.app[WEB].heartbeat_timeout
    return ok(serialize.summary(await run(dashboard.summary, request.app[STORE], timeout)))


# ---------------------------------------------------------------- subscribers


@routes.add(
    "GET",
    f"{API}/subscribers",
    "viewer",
    "List subscribers (search, filter, paginate)",
    tag="subscribers",
    returns=schemas.SUBSCRIBER_PAGE_OUT,
    query={
        "search": ("string", "Substring of identity or FQDN"),
        "state": ("string", "active, suspended or revoked",
                  {"enum": ["active", "suspended", "revoked"]}),
        "network": ("string", "Home network domain"),
        "home_agent": ("string", "FQDN of the home agent"),
        "auth": ("string", "eap or cert"),
        "sort": ("string", "identity, fqdn, network, home_agent, state, auth or created"),
        "order": ("string", "asc (default) or desc"),
        **PAGE_QUERY,
    },
)
async def list_subscribers(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", 100, 1, request.app[WEB].api_page_limit)
    offset = int_param(request, "offset", 0, 0, 2**31)
    q = request.query
    order = q.get("order") or "asc"
    if order not in ("asc", "desc"):
        raise ValidationError(f"query parameter 'order' must be asc or desc, not {order!r}")
    query = subscriber_list.Query(
        network=q.get("network") or None,
        home_agent=q.get("home_agent") or None,
        state=q.get("state") or None,
        auth=q.get("auth") or None,
        search=q.get("search") or None,
        sort=q.get("sort") or "identity",
        descending=order == "desc",
        size=limit,
        start=offset,
    )
    result = await run(subscriber_list.page, request.app[STORE], query)
    return ok(
        {
            "items": [serialize.subscriber(s) for s in result.items],
            "total": result.total,
            "limit": limit,
            "offset": offset,
        }
    )


@routes.add(
    "POST",
    f"{API}/bulk/subscribers",
    "operator",
    "Suspend, resume or revoke many subscribers; each changes on its own",
    tag="subscribers",
    returns=schemas.BULK_OUT,
    body=schemas.BULK,
)
async def bulk_subscribers(request: web.Request) -> web.Response:
    data = await body(request, schemas.BULK)
    out = await run(subscriber_bulk.change, request.app[STORE], request.app[SETTINGS],
                    principal(request).actor, data["action"], data["identities"])
    return ok({
        "action": out.action,
        "done": out.done,
        "refused": [{"identity": i, "error": e} for i, e in out.refused],
    })


@routes.add(
    "POST",
    f"{API}/subscribers",
    "operator",
    "Enroll a subscriber; the credential is in this response only",
    tag="subscribers",
    returns=schemas.ENROLLMENT_OUT,
    body=schemas.ENROLL,
    status=201,
)
async def enroll(request: web.Request) -> web.Response:
    b = await body(request, schemas.ENROLL)
    e = await run(
        subscribers.enroll,
        request.app[STORE],
        request.app[SETTINGS],
        principal(request).actor,
        b["identity"],
        b.get("network"),
        b.get("fqdn"),
        b.get("auth") or "eap",
        bool(b.get("ipv4")),
    )
    return ok(serialize.enrollment(e), 201)


async def subscriber_detail(request: web.Request, identity: str) -> dict[str, Any]:
    store = request.app[STORE]
    sub = await run(subscribers.get, store, identity)
    ha = await run(subscribers.ha_of, store, identity)
    binds = await run(subscribers.bindings_of, store, identity)
    return serialize.subscriber_detail(sub, ha, binds)


@routes.add(
    "GET",
    f"{API}/subscribers/{{identity}}",
    "viewer",
    "One subscriber with HA, home addresses and bindings",
    tag="subscribers",
    returns=schemas.SUBSCRIBER_DETAIL_OUT,
)
async def get_subscriber(request: web.Request) -> web.Response:
    return ok(await subscriber_detail(request, request.match_info["identity"]))


def _state_route(verb: str, fn: Any, text: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        sub = await run(
            fn,
            request.app[STORE],
            request.app[SETTINGS],
            principal(request).actor,
            request.match_info["identity"],
        )
        return ok(serialize.subscriber(sub))

    handler.__name__ = f"{verb}_subscriber"
    routes.add(
        "POST",
        f"{API}/subscribers/{{identity}}/{verb}",
        "operator",
        text,
        tag="subscribers",
        returns=schemas.SUBSCRIBER_OUT,
    )(handler)


_state_route("suspend", subscribers.suspend, "Suspend a subscriber (keeps HoA and HA)")
_state_route("resume", subscribers.resume, "Resume a suspended subscriber")
_state_route("revoke", subscribers.revoke, "Revoke a subscriber for good")


@routes.add(
    "POST",
    f"{API}/subscribers/{{identity}}/bundle",
    "operator",
    "Download the MN's swanctl bundle (tar.gz, with its secret; once only)",
    tag="subscribers",
)
async def download_bundle(request: web.Request) -> web.Response:
    name, data = await run(
        bundles.download_once,
        request.app[STORE],
        request.app[SETTINGS],
        principal(request).actor,
        request.match_info["identity"],
        bundles.renderer_of(request.app),
    )
    return bundles.as_response(name, data)


# ---------------------------------------------------------------- networks


@routes.add(
    "GET",
    f"{API}/networks",
    "viewer",
    "List home networks",
    tag="networks",
    returns=schemas.array_of(schemas.NETWORK_OUT),
)
async def list_networks(request: web.Request) -> web.Response:
    return ok([serialize.network(n) for n in await run(networks.list_all, request.app[STORE])])


@routes.add(
    "POST",
    f"{API}/networks",
    "admin",
    "Add a home network",
    tag="networks",
    returns=schemas.NETWORK_OUT,
    body=schemas.NETWORK_ADD,
    status=201,
)
async def add_network(request: web.Request) -> web.Response:
    b = await body(request, schemas.NETWORK_ADD)
    n = await run(
        networks.add,
        request.app[STORE],
        principal(request).actor,
        b["domain"],
        b["prefix"],
        b.get("ipv4_pool") or None,
        b.get("zones") or (),
        b.get("ha_info") or "both",
    )
    return ok(serialize.network(n), 201)


@routes.add(
    "GET",
    f"{API}/networks/{{domain}}",
    "viewer",
    "One home network",
    tag="networks",
    returns=schemas.NETWORK_OUT,
)
async def get_network(request: web.Request) -> web.Response:
    n = await run(networks.get, request.app[STORE], request.match_info["domain"])
    return ok(serialize.network(n))


@routes.add(
    "PATCH",
    f"{API}/networks/{{domain}}",
    "admin",
    "Change a network's zones or HA-information policy",
    tag="networks",
    returns=schemas.NETWORK_OUT,
    body=schemas.NETWORK_EDIT,
)
async def edit_network(request: web.Request) -> web.Response:
    b = await body(request, schemas.NETWORK_EDIT)
    if not b:
        raise ValidationError("give zones or ha_info to change")
    n = await run(
        networks.update,
        request.app[STORE],
        principal(request).actor,
        request.match_info["domain"],
        b.get("zones"),
        b.get("ha_info"),
    )
    return ok(serialize.network(n))


# ---------------------------------------------------------------- home agents


@routes.add(
    "GET",
    f"{API}/home-agents",
    "viewer",
    "List home agents with state and load",
    tag="home-agents",
    returns=schemas.array_of(schemas.HOME_AGENT_OUT),
    query={"network": ("string", "Home network domain")},
)
async def list_home_agents(request: web.Request) -> web.Response:
    items = await run(home_agents.list_all, request.app[STORE], request.query.get("network"))
    return ok([serialize.home_agent(h) for h in items])


@routes.add(
    "POST",
    f"{API}/home-agents",
    "admin",
    "Add a home agent",
    tag="home-agents",
    returns=schemas.HOME_AGENT_OUT,
    body=schemas.HA_ADD,
    status=201,
)
async def add_home_agent(request: web.Request) -> web.Response:
    b = await body(request, schemas.HA_ADD)
    h = await run(
        home_agents.add,
        request.app[STORE],
        principal(request).actor,
        b["fqdn"],
        b["network"],
        b["address"],
        b.get("ipv4") or None,
        10 if b.get("priority") is None else b["priority"],  # null: the default
        100 if b.get("weight") is None else b["weight"],
        10000 if b.get("capacity") is None else b["capacity"],
        bool(b.get("allow_outside_prefix")),
        request.app[SETTINGS],
    )
    return ok(serialize.home_agent(h), 201)


@routes.add(
    "GET",
    f"{API}/home-agents/{{fqdn}}",
    "viewer",
    "One home agent",
    tag="home-agents",
    returns=schemas.HOME_AGENT_OUT,
)
async def get_home_agent(request: web.Request) -> web.Response:
    h = await run(home_agents.get, request.app[STORE], request.match_info["fqdn"])
    return ok(serialize.home_agent(h))


def _ha_route(verb: str, fn: Any, text: str) -> None:
    async def handler(request: web.Request) -> web.Response:
        h = await run(
            fn,
            request.app[STORE],
            principal(request).actor,
            request.match_info["fqdn"],
            request.app[SETTINGS],
        )
        return ok(serialize.home_agent(h))

    handler.__name__ = f"{verb}_home_agent"
    routes.add(
        "POST",
        f"{API}/home-agents/{{fqdn}}/{verb}",
        "admin",
        text,
        tag="home-agents",
        returns=schemas.HOME_AGENT_OUT,
    )(handler)


_ha_route("drain", home_agents.drain, "Stop offering a home agent to new subscribers")
_ha_route("activate", home_agents.activate, "Offer a home agent again")


# ---------------------------------------------------------------- operators and tokens


@routes.add(
    "GET",
    f"{API}/operators",
    "admin",
    "List operator accounts",
    tag="operators",
    returns=schemas.array_of(schemas.OPERATOR_OUT),
)
async def list_operators(request: web.Request) -> web.Response:
    items = await run(operators.list_all, request.app[STORE])
    return ok([serialize.operator(o) for o in items])


@routes.add(
    "POST",
    f"{API}/operators",
    "admin",
    "Create an operator account",
    tag="operators",
    returns=schemas.OPERATOR_OUT,
    body=schemas.OPERATOR_ADD,
    status=201,
)
async def add_operator(request: web.Request) -> web.Response:
    b = await body(request, schemas.OPERATOR_ADD)
    o = await run(
        operators.add,
        request.app[STORE],
        principal(request).actor,
        b["name"],
        b["role"],
        b["password"],
    )
    return ok(serialize.operator(o), 201)


@routes.add(
    "PATCH",
    f"{API}/operators/{{name}}",
    "admin",
    "Change an operator's role, lock or password (ends its sessions)",
    tag="operators",
    returns=schemas.OPERATOR_OUT,
    body=schemas.OPERATOR_EDIT,
)
async def edit_operator(request: web.Request) -> web.Response:
    b = await body(request, schemas.OPERATOR_EDIT)
    if not b:
        raise ValidationError("give role, disabled or password to change")
    o = await run(
        operators.update,
        request.app[STORE],
        principal(request).actor,
        request.match_info["name"],
        b.get("role"),
        b.get("disabled"),
        b.get("password"),
    )
    return ok(serialize.operator(o))


@routes.add(
    "GET",
    f"{API}/tokens",
    "admin",
    "List API tokens (never their values)",
    tag="operators",
    returns=schemas.array_of(schemas.TOKEN_OUT),
)
async def list_tokens(request: web.Request) -> web.Response:
    return ok([serialize.token(t) for t in await run(operators.list_tokens, request.app[STORE])])


@routes.add(
    "POST",
    f"{API}/tokens",
    "admin",
    "Create an API token; shown in this response only",
    tag="operators",
    returns=schemas.NEW_TOKEN_OUT,
    body=schemas.TOKEN_ADD,
    status=201,
)
async def create_token(request: web.Request) -> web.Response:
    b = await body(request, schemas.TOKEN_ADD)
    t, raw = await run(
        operators.create_token,
        request.app[STORE],
        principal(request).actor,
        b["name"],
        b["role"],
        b.get("days"),
    )
    return ok(serialize.new_token(t, raw), 201)


@routes.add(
    "DELETE",
    f"{API}/tokens/{{name}}",
    "admin",
    "Revoke an API token",
    tag="operators",
    returns=schemas.TOKEN_OUT,
)
async def revoke_token(request: web.Request) -> web.Response:
    t = await run(
        operators.revoke_token,
        request.app[STORE],
        principal(request).actor,
        request.match_info["name"],
    )
    return ok(serialize.token(t))


# ---------------------------------------------------------------- CA


NO_CA = "the store has no CA yet; run 'bootstrapctl ca init' first"


async def ca_pem(request: web.Request) -> str:
    pem = await run(credentials.ca_cert_pem, request.app[STORE])
    if pem is None:
        raise NotFound(NO_CA)
    return pem


@routes.add(
    "GET",
    f"{API}/ca",
    "viewer",
    "The store CA's certificate (PEM)",
    tag="networks",
    returns=schemas.CA_OUT,
)
async def get_ca(request: web.Request) -> web.Response:
    return ok(serialize.ca(await ca_pem(request)))


# ---------------------------------------------------------------- audit


@routes.add(
    "GET",
    f"{API}/audit",
    "viewer",
    "The audit log, newest first",
    tag="audit",
    returns=schemas.array_of(schemas.AUDIT_OUT),
    query={"target": ("string", "Only entries about this name"), **PAGE_QUERY},
)
async def get_audit(request: web.Request) -> web.Response:
    limit = int_param(request, "limit", 100, 1, request.app[WEB].api_page_limit)
    offset = int_param(request, "offset", 0, 0, 2**31)
    items = await run(
        audit.recent, request.app[STORE], limit, offset, request.query.get("target") or None
    )
    return ok([serialize.audit_entry(e) for e in items])
