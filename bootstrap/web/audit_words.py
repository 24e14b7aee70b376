"""The audit log in sentences: what each recorded action means to an operator.

The store keeps each entry as (actor, source, action, target, detail); the
audit page shows one sentence per entry, built here, with the target as a
link to its page when it has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

Detail = Mapping[str, Any]


def _list(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _enroll(t: str, d: Detail) -> str:
    parts = [f"enrolled {t}"]
    if d.get("ha"):
        parts.append(f"on {d['ha']}")
    if d.get("hoa"):
        parts.append(f"with home address {_list(d['hoa'])}")
    if d.get("hoa4"):
        parts.append(f"and {d['hoa4']}")
    if d.get("auth"):
        parts.append(f"({d['auth']})")
    return " ".join(parts)


def _changes(d: Detail) -> str:
    shown = [f"{k.replace('_', ' ')} {_list(v)}" for k, v in d.items() if k != "before"]
    return ", ".join(shown) or "nothing"


SENTENCES: dict[str, Callable[[str, Detail], str]] = {
    "subscriber.enroll": _enroll,
    "subscriber.suspend": lambda t, d: f"suspended {t}",
    "subscriber.resume": lambda t, d: f"resumed {t}",
    "subscriber.revoke": lambda t, d: f"revoked {t} (was {d.get('before', '?')})",
    "subscriber.bundle": lambda t, d: f"downloaded the configuration bundle of {t}",
    "ha.add": lambda t, d: f"added home agent {t} to {d.get('network', '?')}"
                           f" at {d.get('address', '?')}",
    "ha.update": lambda t, d: f"changed home agent {t}: {_changes(d)}",
    "ha.draining": lambda t, d: f"drained home agent {t} (was {d.get('before', '?')})",
    "ha.active": lambda t, d: f"activated home agent {t} (was {d.get('before', '?')})",
    "ha.down": lambda t, d: f"marked home agent {t} down (was {d.get('before', '?')})",
    "ha.failed": lambda t, d: f"found home agent {t} failed (was {d.get('before', '?')})",
    "ha.reassign": lambda t, d: f"moved {d.get('moved', 0):,} subscribers off {t}"
                                + (f"; {d['stranded']:,} had nowhere to go"
                                   if d.get("stranded") else ""),
    "network.add": lambda t, d: f"added home network {t} ({d.get('prefix', '?')})",
    "network.update": lambda t, d: f"changed home network {t}: {_changes(d)}",
    "ca.init": lambda t, d: f"created the CA '{t}'",
    "operator.add": lambda t, d: f"added operator {t} as {d.get('role', '?')}",
    "operator.update": lambda t, d: f"changed operator {t}: {_changes(d)}",
    "operator.login": lambda t, d: "logged in",
    "operator.logout": lambda t, d: "logged out",
    "operator.login_failed": lambda t, d: f"failed to log in as {t!r}",
    "operator.sessions_revoked": lambda t, d: f"ended {d.get('sessions', 0)} sessions of {t}",
    "token.create": lambda t, d: f"created API token {t} ({d.get('role', '?')})",
    "token.revoke": lambda t, d: f"revoked API token {t}",
}

ACTIONS = tuple(SENTENCES)
GROUPS = ("subscriber.", "ha.", "network.", "operator.", "token.", "ca.")


def sentence(action: str, target: str, detail: Detail) -> str:
    """What the entry says, without who did it (the page shows who)."""
    fn = SENTENCES.get(action)
    if fn is None:
        return f"{action} {target}".strip()
    try:
        return fn(target, detail)
    except (TypeError, ValueError):
        return f"{action} {target}".strip()


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    text: str


def target_link(action: str, target: str) -> Link | None:
    """Where the entry's target lives in the UI, if it has a page."""
    if not target:
        return None
    kind = action.split(".", 1)[0]
    base = {"subscriber": "/subscribers/", "ha": "/home-agents/", "network": "/networks/"}.get(kind)
    if base is None:
        return None
    return Link(base + quote(target, safe="@"), target)
