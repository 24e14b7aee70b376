"""Domain objects as JSON: one shape for ``bootstrapctl --json`` and the REST API.

Keys are append-only: scripts and API clients rely on them.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from . import domain

if TYPE_CHECKING:  # types only: the CLI imports this module for every command
    from .services import audit, dashboard, operators, subscribers


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def network(n: domain.HomeNetwork) -> dict[str, Any]:
    return {
        "domain": n.domain,
        "prefix": str(n.prefix),
        "ipv4_pool": str(n.ipv4_pool) if n.ipv4_pool else None,
        "zones": list(n.zones),
        "ha_info": n.ha_info.value,
    }


def home_agent(h: domain.HomeAgent) -> dict[str, Any]:
    return {
        "fqdn": h.fqdn,
        "address": str(h.address),
        "ipv4": str(h.ipv4) if h.ipv4 else None,
        "network": h.network,
        "priority": h.priority,
        "weight": h.weight,
        "capacity": h.capacity,
        "assigned": h.assigned,
        "state": h.state.value,
        "last_heartbeat": iso(h.last_heartbeat),
    }


def ha_ref(h: domain.HomeAgent | None) -> dict[str, Any] | None:
    if h is None:
        return None
    return {"fqdn": h.fqdn, "address": str(h.address), "ipv4": str(h.ipv4) if h.ipv4 else None}


def subscriber(sub: domain.Subscriber) -> dict[str, Any]:
    return {
        "identity": sub.identity,
        "fqdn": sub.fqdn,
        "network": sub.network,
        "state": sub.state.value,
        "auth": sub.auth.value,
        "ha": sub.home_agent,
        "hoa": str(sub.hoas[0]) if sub.hoas else None,
        "hoas": [str(a) for a in sub.hoas],
        "hoa4": str(sub.hoa4) if sub.hoa4 else None,
        "created_at": iso(sub.created_at),
        "updated_at": iso(sub.updated_at),
    }


def binding(b: domain.Binding) -> dict[str, Any]:
    return {
        "ha": b.home_agent,
        "care_of": b.care_of,
        "care_of_port": b.care_of_port,
        "hoa": b.hoa,
        "up_since": iso(b.up_at),
        "down_at": iso(b.down_at),
    }


def subscriber_detail(
    sub: domain.Subscriber, ha: domain.HomeAgent | None, binds: list[domain.Binding]
) -> dict[str, Any]:
    out = subscriber(sub)
    out["ha"] = ha_ref(ha)
    out["bindings"] = [binding(b) for b in binds]
    return out


def enrollment(e: subscribers.Enrollment) -> dict[str, Any]:
    """The enrollment result, with the credential the operator sees only now."""
    out = subscriber(e.subscriber)
    out["ha"] = ha_ref(e.home_agent)
    if e.secret is not None:
        out["credential"] = {"type": "eap", "secret": e.secret}
    else:
        out["credential"] = {
            "type": "cert",
            "cert": str(e.cert_path),
            "key": str(e.key_path),
            "ca": str(e.ca_path),
        }
    return out


def enrollment_flat(e: subscribers.Enrollment) -> dict[str, Any]:
    """:func:`enrollment` plus the credential's fields at top level (``enroll --json``).

    The CLI printed them flat before the API existed; scripts rely on both.
    """
    out = enrollment(e)
    cred = out["credential"]
    if cred["type"] == "eap":
        out["secret"] = cred["secret"]
    else:
        out.update({k: cred[k] for k in ("cert", "key", "ca")})
    return out


def ca(pem: str) -> dict[str, Any]:
    """The store CA's certificate."""
    return {"ca_cert": pem}


def audit_entry(e: audit.AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor": e.actor,
        "source": e.source,
        "action": e.action,
        "target": e.target,
        "detail": e.detail,
    }


def operator(o: operators.OperatorView) -> dict[str, Any]:
    return {"name": o.name, "role": o.role, "disabled": o.disabled, "created_at": iso(o.created_at)}


def token(t: operators.TokenView) -> dict[str, Any]:
    return {
        "name": t.name,
        "role": t.role,
        "revoked": t.revoked,
        "created_at": iso(t.created_at),
        "expires_at": iso(t.expires_at),
    }


def new_token(t: operators.TokenView, raw: str) -> dict[str, Any]:
    """A token just created: its shape plus the secret, shown this once."""
    return {**token(t), "token": raw}


def summary(s: dashboard.Summary) -> dict[str, Any]:
    return {
        "subscribers": dict(s.subscribers),
        "home_agents": [{**home_agent(h), "offered": h.fqdn in s.offered} for h in s.home_agents],
        "dns_outbox": {
            "depth": s.outbox.depth,
            "oldest": iso(s.outbox.oldest),
            "failing": s.outbox.failing,
            "last_error": s.outbox.last_error,
        },
        "live_bindings": s.live_bindings,
        "recent_bindings": [
            {
                "identity": b.identity,
                "ha": b.home_agent,
                "care_of": b.care_of,
                "hoa": b.hoa,
                "up_since": iso(b.up_at),
                "down_at": iso(b.down_at),
            }
            for b in s.recent_bindings
        ],
    }
