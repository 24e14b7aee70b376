"""Walk the app's router: every route but login, health and static assets refuses an
anonymous request, and every state-changing route refuses a session request without
(or with a wrong) CSRF token, or one marked cross-site by Sec-Fetch-Site."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import TestClient

from bootstrap.web.app import route_specs
from tests.support.web import World, login

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/healthz"), ("GET", "/static/{name}")}
DUMMY = {"identity": "mn@example.com", "fqdn": "ha1.example.com", "domain": "example.com",
         "name": "oper"}


def concrete(path: str) -> str:
    return re.sub(r"{([^}:]+)}", lambda m: DUMMY.get(m.group(1), "x"), path)


def router_routes(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD":
            out.add((route.method, str(path)))
    return out


async def test_every_router_route_is_declared(client: TestClient) -> None:
    declared = {(s.method, s.path) for s in route_specs(client.app)}
    assert router_routes(client.app) == declared
    assert {(m, p) for (m, p) in declared if (m, p) in PUBLIC} == PUBLIC
    public = {(s.method, s.path) for s in route_specs(client.app) if s.public}
    assert public == PUBLIC


async def test_anonymous_requests_are_refused(client: TestClient) -> None:
    walked = 0
    for method, path in router_routes(client.app):
        if (method, path) in PUBLIC:
            continue
        resp = await client.request(method, concrete(path), allow_redirects=False)
        walked += 1
        if path.startswith("/api/") or path == "/metrics":
            assert resp.status == 401, (method, path, resp.status)
            assert "error" in await resp.json()
        else:
            assert resp.status == 303, (method, path, resp.status)
            assert resp.headers["Location"].startswith("/login"), (method, path)
    assert walked >= 40


async def test_public_routes_answer_anonymously(client: TestClient) -> None:
    assert (await client.get("/login")).status == 200
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/static/style.css")).status == 200
    assert (await client.get("/static/..%2Fapp.py")).status == 404
    resp = await client.post("/login", data={"name": "admin", "password": "x"})
    assert resp.status == 403  # no login CSRF cookie + field


async def test_state_changing_routes_need_the_csrf_token(client: TestClient, world: World) -> None:
    token = await login(client, "admin")
    changing = [(m, p) for (m, p) in router_routes(client.app)
                if m not in ("GET", "HEAD") and (m, p) not in PUBLIC]
    assert len(changing) >= 20
    for method, path in changing:
        url = concrete(path)
        for headers, data in (
            ({}, {}),
            ({}, {"csrf_token": "wrong"}),
            ({"X-CSRF-Token": "wrong"}, None),
            ({"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}, None),
        ):
            resp = await client.request(method, url, headers=headers, data=data,
                                        allow_redirects=False)
            assert resp.status == 403, (method, path, headers, resp.status)
            text = await resp.text()
            assert "CSRF" in text or "cross-site" in text, (method, path, text[:200])
    # the session is still there and the token works: the refusals were the CSRF checks
    resp = await client.post("/subscribers/mn@example.com/suspend", data={"csrf_token": token},
                             allow_redirects=False)
    assert resp.status == 404  # passed the guard, then: no such subscriber


async def test_bearer_requests_need_no_csrf_token(client: TestClient, world: World) -> None:
    resp = await client.post("/api/v1/subscribers", json={"identity": "mn@example.com"},
                             headers=world.bearer("operator"))
    assert resp.status == 201
