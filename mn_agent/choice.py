"""Which home agent next: the agent's decisions as a pure function of (state, event, now).

The loop in :mod:`.cli` feeds events (discovery answers, SA up, SA lost,
SA moved by a redirect, timer ticks) to :func:`step` and carries out the
actions it returns (discover, connect to an HA, wait).  Rules:

* Candidates are only those the *latest* answers name, DHCP's in answer
  order first, then SRV's in RFC 2782 order: an HA the answers no longer
  name is never chosen again, whatever the agent knew before.
* An HA that failed (IKE could not be set up, the SA was lost: DPD timeout,
  IKE down, a redirect loop) is avoided for ``holdoff`` seconds; if every
  named HA failed within that time, the one that failed longest ago is
  retried once it is ``retry`` seconds old.
* More than ``redirect_limit`` HA changes by redirect within
  ``redirect_window`` seconds is a redirect loop: a failure of the HA it
  ended on.
* While up, new answers that no longer name the current HA move the node
  to the best named one; answers that still name it change nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Tuning:
    holdoff: float = 30.0
    retry: float = 2.0
    redirect_limit: int = 5
    redirect_window: float = 60.0
    rediscover: float = 5.0
    """Seconds between discoveries while no HA is reachable or named."""


# --- events ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Discovered:
    dhcp: tuple[str, ...] = ()
    srv: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Up:
    ha: str
    hoa: str


@dataclass(frozen=True, slots=True)
class ConnectFailed:
    ha: str
    reason: str


@dataclass(frozen=True, slots=True)
class Lost:
    ha: str
    reason: str


@dataclass(frozen=True, slots=True)
class Moved:
    """The SA now runs with another HA without the agent asking (RFC 5685 redirect)."""

    ha: str


@dataclass(frozen=True, slots=True)
class Tick:
    pass


Event = Discovered | Up | ConnectFailed | Lost | Moved | Tick


# --- actions --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Discover:
    pass


@dataclass(frozen=True, slots=True)
class Connect:
    ha: str


@dataclass(frozen=True, slots=True)
class Wait:
    until: float


Action = Discover | Connect | Wait


@dataclass(frozen=True, slots=True)
class State:
    phase: str = "start"
    """start, discovering, connecting, up, waiting"""
    current: str | None = None
    hoa: str | None = None
    candidates: tuple[str, ...] = ()
    failures: Mapping[str, float] = field(default_factory=dict)
    redirects: tuple[float, ...] = ()
    wait_until: float = 0.0


def rank(dhcp: tuple[str, ...], srv: tuple[str, ...]) -> tuple[str, ...]:
    """DHCP's HAs in answer order, then SRV's not already listed, in SRV order."""
    out: list[str] = []
    for a in (*dhcp, *srv):
        if a not in out:
            out.append(a)
    return tuple(out)


def choose(
    candidates: tuple[str, ...], failures: Mapping[str, float], now: float, t: Tuning
) -> str | float | None:
    """The HA to try, or the time to try again (all failed recently), or None (none named)."""
    if not candidates:
        return None
    fresh = [c for c in candidates if c not in failures or now - failures[c] >= t.holdoff]
    if fresh:
        return fresh[0]
    oldest = min(candidates, key=lambda c: failures[c])
    if now - failures[oldest] >= t.retry:
        return oldest
    return failures[oldest] + t.retry


def _failed(state: State, ha: str, now: float) -> State:
    failures = dict(state.failures)
    failures[ha] = now
    return dataclasses.replace(state, failures=failures, phase="discovering", current=None,
                               hoa=None)


def _pick(state: State, now: float, t: Tuning) -> tuple[State, list[Action]]:
    got = choose(state.candidates, state.failures, now, t)
    if isinstance(got, str):
        return dataclasses.replace(state, phase="connecting", current=got), [Connect(got)]
    until = now + t.rediscover if got is None else got
    return dataclasses.replace(state, phase="waiting", wait_until=until), [Wait(until)]


def step(
    state: State, event: Event, now: float, t: Tuning = Tuning()
) -> tuple[State, list[Action]]:
    """The next state and what to do, for one event."""
    if isinstance(event, Discovered):
        state = dataclasses.replace(state, candidates=rank(event.dhcp, event.srv))
        if state.phase == "up" and state.current is not None:
            if state.current in state.candidates:
                return state, []
            return _pick(dataclasses.replace(state, phase="discovering"), now, t)
        if state.phase == "connecting":
            return state, []
        return _pick(state, now, t)
    if isinstance(event, Up):
        return dataclasses.replace(state, phase="up", current=event.ha, hoa=event.hoa), []
    if isinstance(event, ConnectFailed | Lost):
        return _failed(state, event.ha, now), [Discover()]
    if isinstance(event, Moved):
        recent = tuple(x for x in state.redirects if now - x < t.redirect_window) + (now,)
        state = dataclasses.replace(state, redirects=recent)
        if len(recent) > t.redirect_limit:
            return _failed(dataclasses.replace(state, redirects=()), event.ha, now), [Discover()]
        # follow it, but only as long as the answers name it (checked by the discovery)
        return dataclasses.replace(state, phase="up", current=event.ha), [Discover()]
    if isinstance(event, Tick):
        if state.phase == "start":
            return dataclasses.replace(state, phase="discovering"), [Discover()]
        if state.phase == "waiting" and now >= state.wait_until:
            return dataclasses.replace(state, phase="discovering"), [Discover()]
        return state, []
    raise TypeError(f"not an agent event: {event!r}")
