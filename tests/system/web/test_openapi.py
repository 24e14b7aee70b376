"""The OpenAPI document validates and lists exactly the /api/v1 routes of the router."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

from bootstrap.web.app import route_specs
from tests.support.web import World


async def test_openapi_document_validates_and_matches_router(
    client: TestClient, world: World
) -> None:
    resp = await client.get("/api/v1/openapi.json", headers=world.bearer("viewer"))
    assert resp.status == 200
    doc = await resp.json()
    validate(doc)
    documented = {
        (method.upper(), path) for path, ops in doc["paths"].items() for method in ops
    }
    routed = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = str(info.get("path") or info.get("formatter"))
        if path.startswith("/api/v1") and route.method != "HEAD":
            routed.add((route.method, path))
    assert documented == routed
    assert ("GET", "/api/v1/openapi.json") in documented
    assert len(documented) == len([s for s in route_specs(client.app) if s.api]) >= 20
    enroll = doc["paths"]["/api/v1/subscribers"]["post"]
    assert enroll["requestBody"]["content"]["application/json"]["schema"]["required"] == [
        "identity"
    ]
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == names, path
            ok = [v for k, v in op["responses"].items() if k.startswith("2")]
            assert len(ok) == 1, path
            (media, body), = ok[0]["content"].items()
            if media == "application/json":
                assert body["schema"], f"{path} documents no response schema"
            assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }


async def test_openapi_needs_authentication(client: TestClient) -> None:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 401
