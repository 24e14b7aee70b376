"""Home-agent failure detection: which HAs must change state now, decided from heartbeats.

Every bootstrapd writes its own HA's heartbeat while its charon answers and,
every ``[ha] heartbeat_interval``, runs :func:`transitions` over all HAs of
the store.  There is no leader: every host decides the same thing from the
same rows, and the guarded UPDATE that carries a decision out
(:mod:`bootstrap.services.ha_watch`) lets exactly one host win it.

* ``active`` -> ``failed``: a monitored HA (it has beaten at least once)
  whose last heartbeat is older than ``failure_timeout``.
* ``failed`` -> ``active``: its heartbeat is fresh again and the current
  unbroken run of beats (``beating_since``) is at least ``recovery_time``
  old, so an HA that beats once between two outages does not flap.

``draining`` and ``down`` belong to the operator and are never changed here.
Pure: the caller passes ``now``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .domain import HAState, HomeAgent


@dataclass(frozen=True, slots=True)
class HaPolicy:
    """``[ha]`` as the decision needs it."""

    failure_timeout: dt.timedelta
    recovery_time: dt.timedelta


@dataclass(frozen=True, slots=True)
class Transition:
    """Move HA ``ha_id`` from ``before`` to ``after``; ``reason`` goes to the audit log."""

    ha_id: int
    fqdn: str
    before: HAState
    after: HAState
    reason: str


def beat_fresh(ha: HomeAgent, now: dt.datetime, policy: HaPolicy) -> bool:
    """True when the HA's last heartbeat is at most ``failure_timeout`` old."""
    return ha.last_heartbeat is not None and now - ha.last_heartbeat <= policy.failure_timeout


def next_beating_since(
    last_heartbeat: dt.datetime | None,
    beating_since: dt.datetime | None,
    now: dt.datetime,
    policy: HaPolicy,
) -> dt.datetime:
    """``beating_since`` after a beat at ``now``: kept across short gaps, reset after long ones."""
    if last_heartbeat is None or beating_since is None:
        return now
    if now - last_heartbeat > policy.failure_timeout:
        return now
    return beating_since


def decide(ha: HomeAgent, now: dt.datetime, policy: HaPolicy) -> Transition | None:
    """The state change HA ``ha`` needs at ``now``, if any."""
    if ha.state is HAState.ACTIVE and ha.last_heartbeat is not None:
        if not beat_fresh(ha, now, policy):
            age = (now - ha.last_heartbeat).total_seconds()
            return Transition(
                ha.id, ha.fqdn, ha.state, HAState.FAILED, f"no heartbeat for {age:.1f} s"
            )
        return None
    if ha.state is HAState.FAILED and beat_fresh(ha, now, policy):
        since = ha.beating_since or ha.last_heartbeat
        assert since is not None
        if now - since >= policy.recovery_time:
            run = (now - since).total_seconds()
            return Transition(
                ha.id, ha.fqdn, ha.state, HAState.ACTIVE, f"beating again for {run:.1f} s"
            )
    return None


def transitions(
    agents: list[HomeAgent], now: dt.datetime, policy: HaPolicy
) -> list[Transition]:
    """Every state change the HAs need at ``now``, in the given order."""
    out = []
    for ha in agents:
        t = decide(ha, now, policy)
        if t is not None:
            out.append(t)
    return out


def stale_cutoff(now: dt.datetime, policy: HaPolicy) -> dt.datetime:
    """Heartbeats older than this mean failure (the guard of the ``failed`` UPDATE)."""
    return now - policy.failure_timeout


def recovered_cutoff(now: dt.datetime, policy: HaPolicy) -> dt.datetime:
    """A run of beats that started at or before this is long enough to recover."""
    return now - policy.recovery_time
