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
from .routing import SPECS, WEB, RouteSpec

_PARAM = re.compile(r"{([^}:]+)}")
_END = "(?![\\s\\S])"  # end of text in ECMA and Python regexes alike (Python's $ is not)
TEXT = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]*" + _END
"""What :func:`..services.validate.text` accepts: no control characters (no NUL, newline...)."""
IDENTITY = "^[^@\\u0000-\\u0020\\u007f-\\u009f\\u2028\\u2029]+@[A-Za-z0-9.-]+" + _END
"""The shape of an NAI (user@realm); the RFC 7542 rules in full are in validate.identity."""

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


def _texts(name: str, prop: dict[str, Any]) -> dict[str, Any]:
    """A string (or string list) property with the pattern the server enforces on text."""
    if prop.get("type") == "string" and "enum" not in prop and "pattern" not in prop:
        return {**prop, "pattern": IDENTITY if name == "identity" else TEXT}
    if prop.get("type") == "array" and prop.get("items", {}).get("type") == "string":
        return {**prop, "items": {**prop["items"], "pattern": TEXT}}
    return prop


def _nullable_optionals(schema: dict[str, Any]) -> dict[str, Any]:
    """The request schema as the server reads it: an optional field may be ``null``.

    :func:`.schemas.check` treats ``null`` in an optional field as absent (a
    ``PATCH`` with ``"ha_info": null`` changes nothing), so the document says so.
    """
    required = set(schema.get("required", ()))
    props = {}
    for name, prop in schema.get("properties", {}).items():
        prop = _texts(name, prop)
        if name not in required:
            prop = {**prop, "type": [prop["type"], "null"]}
            if "enum" in prop:
                prop["enum"] = [*prop["enum"], None]
        props[name] = prop
    return {**schema, "properties": props}


def operation(spec: RouteSpec, page_limit: int = 1000) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 1, "pattern": TEXT}}
        for name in _PARAM.findall(spec.path)
    ]
    for name, (kind, text, *more) in spec.query.items():
        schema: dict[str, Any] = {"type": kind, **(more[0] if more else {})}
        if kind == "string" and "enum" not in schema:
            schema["pattern"] = TEXT
        if schema.get("maximum") == "api_page_limit":
            schema["maximum"] = page_limit
        params.append(
            {"name": name, "in": "query", "required": False, "description": text,
             "schema": schema}
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
            "503": _error("The store (or a writer this server was started without) is"
                          " unavailable"),
        },
    }
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _nullable_optionals(spec.body)}},
        }
    return op


def document(specs: list[RouteSpec], page_limit: int = 1000) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        if not spec.api:
            continue
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation(spec, page_limit)
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
    return ok(document(specs, request.app[WEB].api_page_limit))
