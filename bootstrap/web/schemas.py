"""Request bodies of the REST API as JSON schemas, and their check.

The schemas are the ones published in the OpenAPI document; :func:`check`
enforces the small subset they use (object with typed, required and no
unknown properties; strings, integers, booleans, numbers, string arrays,
enums) and turns the first violation into one sentence.
"""

from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..services import validate
from ..services.operators import MAX_TOKEN_DAYS


def obj(required: tuple[str, ...] = (), **props: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def string(text: str, enum: tuple[str, ...] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "description": text, **extra}
    if enum:
        out["enum"] = list(enum)
    return out


def integer(text: str, minimum: int | None = None, maximum: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "description": text}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def boolean(text: str) -> dict[str, Any]:
    return {"type": "boolean", "description": text}


def number(
    text: str, minimum: float | None = None, maximum: float | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number", "description": text}
    if minimum is not None:
        out["exclusiveMinimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def strings(text: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "description": text}


_PY = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list of strings",
    "object": "a JSON object",
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _PY[kind])


def check(schema: dict[str, Any], data: Any) -> dict[str, Any]:
    """``data`` if it satisfies ``schema``; else :class:`ValidationError` naming the field."""
    if not isinstance(data, dict):
        raise ValidationError("the request body must be a JSON object")
    props: dict[str, dict[str, Any]] = schema.get("properties", {})
    for name in schema.get("required", []):
        if data.get(name) is None:
            raise ValidationError(f"field {name!r} is required")
    for name, value in data.items():
        if name not in props:
            known = ", ".join(sorted(props)) or "none"
            raise ValidationError(f"unknown field {name!r} (known fields: {known})")
        if value is None and name not in schema.get("required", []):
            continue
        prop = props[name]
        kind = prop["type"]
        if not _type_ok(value, kind):
            raise ValidationError(f"field {name!r} must be {_NAMES[kind]}")
        if kind == "array" and not all(isinstance(v, str) for v in value):
            raise ValidationError(f"field {name!r} must be {_NAMES[kind]}")
        if "enum" in prop and value not in prop["enum"]:
            allowed = ", ".join(repr(v) for v in prop["enum"])
            raise ValidationError(f"field {name!r} must be one of {allowed}, not {value!r}")
        if "minimum" in prop and value < prop["minimum"]:
            raise ValidationError(f"field {name!r} must be at least {prop['minimum']}")
        if "maximum" in prop and value > prop["maximum"]:
            raise ValidationError(f"field {name!r} must be at most {prop['maximum']}")
        if "exclusiveMinimum" in prop and value <= prop["exclusiveMinimum"]:
            raise ValidationError(f"field {name!r} must be more than {prop['exclusiveMinimum']}")
        if kind == "string" and "minLength" in prop and len(value) < prop["minLength"]:
            least = prop["minLength"]
            raise ValidationError(
                f"field {name!r} must not be empty" if least == 1
                else f"field {name!r} must have at least {least} characters"
            )
        if kind == "string" and "maxLength" in prop and len(value) > prop["maxLength"]:
            raise ValidationError(f"field {name!r} must be at most {prop['maxLength']} characters")
        for item in value if kind == "array" else [value] if kind == "string" else []:
            validate.text(item, f"field {name!r}")
    return data


ROLE = ("viewer", "operator", "admin")
# Patterns the OpenAPI document publishes (what the service layer enforces; the end of
# text is written (?![\s\S]) because Python's $ also matches before a final newline).
_DNS = (r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
        r"[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?(?![\s\S])")
_DNS_NAME: dict[str, Any] = {"pattern": _DNS, "maxLength": 253}
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?![\s\S])"

ENROLL = obj(
    ("identity",),
    identity=string("NAI of the mobile node, e.g. mn@example.com", minLength=1),
    network=string("Home network domain; default: the identity's domain", **_DNS_NAME),
    fqdn=string("Host name; default: derived from the identity", **_DNS_NAME),
    auth=string("IKEv2 authentication of the MN", ("eap", "cert")),
    ipv4=boolean("Also assign an IPv4 home address (dual stack)"),
)
NETWORK_ADD = obj(
    ("domain", "prefix"),
    domain=string("MSP domain of the home network", minLength=1, **_DNS_NAME),
    prefix=string("IPv6 home prefix, /64 or shorter", minLength=1),
    ipv4_pool=string("IPv4 home-address pool (/16 to /30)"),
    zones=strings("DNS zones to publish into"),
    ha_info=string("What DHCP home information names", ("address", "fqdn", "both")),
)
NETWORK_EDIT = obj(
    (),
    zones=strings("Replace the zone list (empty list: no zones)"),
    ha_info=string("What DHCP home information names", ("address", "fqdn", "both")),
)
HA_ADD = obj(
    ("fqdn", "network", "address"),
    fqdn=string("Home agent host name", minLength=1, **_DNS_NAME),
    network=string("Home network domain", minLength=1, **_DNS_NAME),
    address=string("IPv6 address of the home agent", minLength=1),
    ipv4=string("IPv4 address (DSMIPv6)"),
    priority=integer("SRV priority", 0, 65535),
    weight=integer("SRV weight", 0, 65535),
    capacity=integer("Most subscribers it takes", 1),
    allow_outside_prefix=boolean("Accept an address outside the home prefix"),
)
OPERATOR_ADD = obj(
    ("name", "role", "password"),
    name=string("Login name", minLength=1, pattern=_NAME),
    role=string("Role", ROLE),
    password=string("Password (at least 12 characters)", minLength=12, maxLength=1024),
)
OPERATOR_EDIT = obj(
    (),
    role=string("Role", ROLE),
    disabled=boolean("Lock (true) or unlock (false) the account"),
    password=string("New password (at least 12 characters)", minLength=12, maxLength=1024),
)
TOKEN_ADD = obj(
    ("name", "role"),
    name=string("Token name", minLength=1, pattern=_NAME),
    role=string("Role", ROLE),
    days=number("Lifetime in days (default: no expiry)", 0, MAX_TOKEN_DAYS),
)


# ---------------------------------------------------------------- response bodies

def _nullable(kind: str) -> dict[str, Any]:
    return {"type": [kind, "null"]}


def _record(**props: dict[str, Any]) -> dict[str, Any]:
    """An object whose listed properties are all present (and no others)."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


_S = {"type": "string"}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_HA_REF = {
    "oneOf": [
        _record(fqdn=_S, address=_S, ipv4=_nullable("string")),
        {"type": "null"},
    ]
}
_SUB_FIELDS: dict[str, dict[str, Any]] = {
    "identity": _S,
    "fqdn": _S,
    "network": _S,
    "state": {"type": "string", "enum": ["active", "suspended", "revoked"]},
    "auth": {"type": "string", "enum": ["eap", "cert"]},
    "ha": _nullable("string"),
    "hoa": _nullable("string"),
    "hoas": _STRINGS,
    "hoa4": _nullable("string"),
    "created_at": _nullable("string"),
    "updated_at": _nullable("string"),
}
SUBSCRIBER_OUT = _record(**_SUB_FIELDS)
SUBSCRIBER_PAGE_OUT = _record(
    items={"type": "array", "items": SUBSCRIBER_OUT},
    total={"type": "integer"},
    limit={"type": "integer"},
    offset={"type": "integer"},
)
BINDING_OUT = _record(
    ha=_S, care_of=_S, care_of_port=_nullable("integer"), hoa=_S, up_since=_nullable("string"),
    down_at=_nullable("string"),
)
SUBSCRIBER_DETAIL_OUT = _record(
    **{**_SUB_FIELDS, "ha": _HA_REF, "bindings": {"type": "array", "items": BINDING_OUT}}
)
ENROLLMENT_OUT = _record(
    **{
        **_SUB_FIELDS,
        "ha": _HA_REF,
        "credential": {
            "oneOf": [
                _record(type={"const": "eap"}, secret=_S),
                _record(type={"const": "cert"}, cert=_S, key=_S, ca=_S),
            ]
        },
    }
)
NETWORK_OUT = _record(
    domain=_S, prefix=_S, ipv4_pool=_nullable("string"), zones=_STRINGS,
    ha_info={"type": "string", "enum": ["address", "fqdn", "both"]},
)
_HA_FIELDS: dict[str, dict[str, Any]] = {
    "fqdn": _S,
    "address": _S,
    "ipv4": _nullable("string"),
    "network": _S,
    "priority": {"type": "integer"},
    "weight": {"type": "integer"},
    "capacity": {"type": "integer"},
    "assigned": {"type": "integer"},
    "state": {"type": "string", "enum": ["active", "draining", "down"]},
    "last_heartbeat": _nullable("string"),
}
HOME_AGENT_OUT = _record(**_HA_FIELDS)
OPERATOR_OUT = _record(
    name=_S, role={"type": "string", "enum": list(ROLE)}, disabled={"type": "boolean"},
    created_at=_nullable("string"),
)
_TOKEN_FIELDS: dict[str, dict[str, Any]] = {
    "name": _S,
    "role": {"type": "string", "enum": list(ROLE)},
    "revoked": {"type": "boolean"},
    "created_at": _nullable("string"),
    "expires_at": _nullable("string"),
}
TOKEN_OUT = _record(**_TOKEN_FIELDS)
NEW_TOKEN_OUT = _record(**_TOKEN_FIELDS, token=_S)
AUDIT_OUT = _record(
    id={"type": "integer"}, at=_nullable("string"), actor=_S, source=_S, action=_S, target=_S,
    detail={"type": "object"},
)
ME_OUT = _record(
    name=_S, role={"type": "string", "enum": list(ROLE)},
    kind={"type": "string", "enum": ["session", "token"]},
)
CA_OUT = _record(ca_cert=_S)
DASHBOARD_OUT = _record(
    subscribers={"type": "object", "additionalProperties": {"type": "integer"}},
    home_agents={
        "type": "array",
        "items": _record(**_HA_FIELDS, offered={"type": "boolean"}),
    },
    dns_outbox=_record(
        depth={"type": "integer"}, oldest=_nullable("string"), failing={"type": "integer"},
        last_error=_nullable("string"),
    ),
    live_bindings={"type": "integer"},
    recent_bindings={
        "type": "array",
        "items": _record(
            identity=_S, ha=_S, care_of=_S, hoa=_S, up_since=_nullable("string"),
            down_at=_nullable("string"),
        ),
    },
)


def array_of(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": schema}

BULK = obj(
    ("action", "identities"),
    action=string("What to do with each subscriber", ("suspend", "resume", "revoke")),
    identities=strings("Identities to act on (1 to 1000)"),
)
BULK_OUT = _record(
    action=_S,
    done=_STRINGS,
    refused={"type": "array", "items": _record(identity=_S, error=_S)},
)
