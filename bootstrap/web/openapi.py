"""The OpenAPI 3.1 document of ``/api/v1``, built from the route table.

Built from the same :class:`~.routing.RouteSpec` objects that register the
routes and guard them, so the document cannot list a path the router lacks
or miss one it has.
"""

from __future__ import annotations

import importlib.metadata
import re
from typing import Any

from aiohttp import web

from .api import API, ok, routes
from .routing import SPECS, RouteSpec

_PARAM = re.compile(r"{([^}:]+)}")

ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "One sentence for the operator"}},
    "required": ["error"],
}


def _error(text: str) -> dict[str, Any]:
    return {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _version() -> str:
    try:
        return importlib.metadata.version("mip6-bootstrap")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def operation(spec: RouteSpec) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(spec.path)
    ]
    for name, (kind, text) in spec.query.items():
        params.append(
            {"name": name, "in": "query", "required": False, "description": text,
             "schema": {"type": kind}}
        )
    success = "application/gzip" if spec.path.endswith("/bundle") else "application/json"
    op: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": spec.summary,
        "tags": [spec.tag] if spec.tag else [],
        "description": f"Needs the {spec.role} role.",
        "responses": {
            str(spec.status): {
                "description": "Success",
                "content": {success: {"schema": spec.returns or {}}},
            },
            "400": _error("Malformed request"),
            "401": _error("Not authenticated"),
            "403": _error("Role too low, or CSRF check failed for a session"),
            "404": _error("Not found"),
            "409": _error("Conflicts with the current state"),
            "422": _error("A field breaks a rule"),
        },
    }
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": spec.body}},
        }
    return op


def document(specs: list[RouteSpec]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if not spec.api:
            continue
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "mip6-bootstrap operator API",
            "version": _version(),
            "description": "Provision Mobile IPv6 subscribers, home networks and home agents."
            " Send 'Authorization: Bearer TOKEN' (bootstrapctl token create); browser sessions"
            " must add the X-CSRF-Token header to state-changing calls.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "mip6bs_session"},
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


@routes.add("GET", f"{API}/openapi.json", "viewer", "This OpenAPI document", tag="meta",
            returns={"type": "object", "required": ["openapi", "paths"]})
async def openapi_json(request: web.Request) -> web.Response:
    specs = list(request.app[SPECS].values())
    return ok(document(specs))
