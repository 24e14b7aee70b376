"""Suspend, resume or revoke many subscribers at once (UI bulk actions, API, CLI).

Each subscriber changes in its own transaction through the same functions
as a single change, so a refusal (already suspended, already revoked) is
reported for that identity and the others still change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .. import domain
from ..config import Settings
from ..errors import BootstrapError, ValidationError
from ..store.engine import Store
from . import subscribers
from .actor import Actor

MAX_BULK = 1000
ACTIONS: dict[str, Callable[[Store, Settings, Actor, str], domain.Subscriber]] = {
    "suspend": subscribers.suspend,
    "resume": subscribers.resume,
    "revoke": subscribers.revoke,
}


@dataclass
class Outcome:
    action: str
    done: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(identity, reason) of each subscriber that did not change."""


def check(action: str, identities: Sequence[str]) -> list[str]:
    """The distinct identities to act on, or one sentence saying what is wrong."""
    if action not in ACTIONS:
        raise ValidationError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    chosen = list(dict.fromkeys(i.strip() for i in identities if i.strip()))
    if not chosen:
        raise ValidationError("identities: choose at least one subscriber")
    if len(chosen) > MAX_BULK:
        raise ValidationError(
            f"identities: at most {MAX_BULK} subscribers at once, not {len(chosen)}"
        )
    return chosen


def change(
    store: Store, settings: Settings, actor: Actor, action: str, identities: Sequence[str]
) -> Outcome:
    """Apply ``action`` to each identity; see the module docstring."""
    chosen = check(action, identities)
    fn = ACTIONS[action]
    out = Outcome(action)
    for ident in chosen:
        try:
            fn(store, settings, actor, ident)
        except BootstrapError as exc:
            out.refused.append((ident, str(exc)))
        else:
            out.done.append(ident)
    return out
