"""Which live SAs a home agent redirects or terminates: pure decisions, the bridge acts.

Two situations, each a function of (state, what charon and the store say,
now) -> (new state, actions), with no clock read, no charon call and no
store access, so every branch is tested without charon:

* :func:`drain_step` — the HA is draining (or down): an MN whose subscriber
  the store has reassigned to another HA for ``grace`` seconds (time for that
  HA's bridge to load it) is redirected there (RFC 5685).  charon answers
  ``redirect`` with success even when the MN never announced support (5.9.8
  logs "client does not support IKE redirection" and keeps the SA), so the
  proof is the SA going away: one still here ``redirect_wait`` seconds after
  its redirect, or ``redirect_wait + grace`` after draining began when no HA
  takes it, is terminated and the MN re-bootstraps.
* :func:`unassigned` — the HA is active: an SA whose identity is no longer
  an active subscriber of this HA (suspended, revoked, moved) is terminated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from . import model

REDIRECT_GRACE = 3.0
"""Seconds a reassignment must be old before an MN is redirected (the new HA's bridge
polls the store about every second and must have loaded the subscriber)."""


def peer_key(identity: str) -> str:
    """An SA's identity as the store's lookups key it (RFC 822 or FQDN, no ``@`` prefix)."""
    return identity.strip().lstrip("@")


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where the store says a subscriber belongs now."""

    home_agent: str
    address: str
    since: dt.datetime


class Why(StrEnum):
    """Why an SA is terminated."""

    NOT_REDIRECTED = "not redirected"
    """Draining: the MN did not leave after its redirect, or no other HA takes it."""
    NOT_ALLOWED = "no longer allowed here"
    """Active HA: the identity is no longer an active subscriber of this HA."""


@dataclass(frozen=True, slots=True)
class Redirect:
    uniqueid: str
    identity: str
    home_agent: str
    address: str


@dataclass(frozen=True, slots=True)
class Terminate:
    uniqueid: str
    identity: str
    why: Why


Action = Redirect | Terminate


@dataclass(frozen=True, slots=True)
class DrainState:
    """Per live SA (by uniqueid): when draining first saw it, when it was redirected."""

    seen: Mapping[str, float] = field(default_factory=dict)
    redirected: Mapping[str, float] = field(default_factory=dict)

    def forget(self, uniqueid: str) -> DrainState:
        """The SA went down: nothing to remember about it."""
        if uniqueid not in self.seen and uniqueid not in self.redirected:
            return self
        return DrainState(
            {k: v for k, v in self.seen.items() if k != uniqueid},
            {k: v for k, v in self.redirected.items() if k != uniqueid},
        )


@dataclass(frozen=True, slots=True)
class DrainTimers:
    redirect_wait: float
    """``[vici] redirect_wait``: how long a redirected MN may stay."""
    grace: float = REDIRECT_GRACE


def drain_step(
    state: DrainState,
    sas: Iterable[model.IkeSa],
    where: Mapping[str, Assignment],
    me: str,
    now: float,
    wall: dt.datetime,
    timers: DrainTimers,
) -> tuple[DrainState, tuple[Action, ...]]:
    """One step of a draining HA ``me``.

    ``sas``: charon's SAs; ``where``: the store's assignment per
    :func:`peer_key`; ``now``: a monotonic clock (for the waits); ``wall``:
    the store's clock (for the age of an assignment).
    """
    live = [sa for sa in sas if sa.established]
    ids = {sa.uniqueid for sa in live}
    seen = {k: v for k, v in state.seen.items() if k in ids}
    redirected = {k: v for k, v in state.redirected.items() if k in ids}
    actions: list[Action] = []
    for sa in live:
        first = seen.setdefault(sa.uniqueid, now)
        sent = redirected.get(sa.uniqueid)
        a = where.get(peer_key(sa.identity))
        movable = (
            a is not None
            and a.home_agent != me
            and (wall - a.since).total_seconds() >= timers.grace
        )
        if sent is None and movable and a is not None:
            actions.append(Redirect(sa.uniqueid, sa.identity, a.home_agent, a.address))
            redirected[sa.uniqueid] = now
            continue
        # redirected and still here, or no HA takes it: terminate after the wait
        since, wait = (sent, timers.redirect_wait) if sent is not None else (
            first, timers.redirect_wait + timers.grace)
        if now - since >= wait:
            actions.append(Terminate(sa.uniqueid, sa.identity, Why.NOT_REDIRECTED))
    return DrainState(seen, redirected), tuple(actions)


def unassigned(sas: Iterable[model.IkeSa], allowed: set[str]) -> tuple[Terminate, ...]:
    """Terminations for established SAs whose :func:`peer_key` is not in ``allowed``."""
    return tuple(
        Terminate(sa.uniqueid, sa.identity, Why.NOT_ALLOWED)
        for sa in sas
        if sa.established and peer_key(sa.identity) not in allowed
    )
