"""Home-agent selection rules, in one place for enrollment, DHCP and DNS.

"Live" means: operator state ``active`` and, when the HA is monitored (it has
ever sent a heartbeat), a heartbeat younger than ``heartbeat_timeout``.
Ranking follows RFC 2782: lowest priority first; inside one priority a
weighted random order, where the weight is the SRV weight scaled by the HA's
spare capacity, so that a nearly full HA is rarely chosen and a full one never.

Pure functions: the caller passes ``now`` and the random source.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence

from .domain import HAState, HomeAgent

DEFAULT_HEARTBEAT_SECONDS = 90.0
"""The one default of ``[store] heartbeat_timeout``: nine beats of the bridge's 10 s interval."""
DEFAULT_HEARTBEAT_TIMEOUT = dt.timedelta(seconds=DEFAULT_HEARTBEAT_SECONDS)


def is_live(ha: HomeAgent, now: dt.datetime, timeout: dt.timedelta) -> bool:
    """True when ``ha`` may be named to a mobile node."""
    if ha.state is not HAState.ACTIVE:
        return False
    if ha.last_heartbeat is None:
        return True
    return now - ha.last_heartbeat <= timeout


def live_agents(
    agents: Iterable[HomeAgent], now: dt.datetime, timeout: dt.timedelta
) -> list[HomeAgent]:
    """The live subset of ``agents``, in their given order."""
    return [h for h in agents if is_live(h, now, timeout)]


def selection_weight(ha: HomeAgent) -> float:
    """SRV weight scaled by the spare share of capacity (0 when full).

    An SRV weight of 0 still gets a small chance, as RFC 2782 asks, unless
    the HA is full.
    """
    if ha.capacity <= 0 or ha.spare <= 0:
        return 0.0
    return (max(ha.weight, 0) + 0.01) * (ha.spare / ha.capacity)


def rank(agents: Sequence[HomeAgent], rng: random.Random) -> list[HomeAgent]:
    """Order live agents best first: priority, then RFC 2782 weighted draw.

    Agents with no spare capacity go last inside their priority group.
    """
    out: list[HomeAgent] = []
    for prio in sorted({h.priority for h in agents}):
        group = [h for h in agents if h.priority == prio]
        weighted = [h for h in group if selection_weight(h) > 0]
        full = [h for h in group if selection_weight(h) <= 0]
        while weighted:
            total = sum(selection_weight(h) for h in weighted)
            pick = rng.uniform(0, total)
            running = 0.0
            chosen = weighted[-1]
            for h in weighted:
                running += selection_weight(h)
                if running >= pick:
                    chosen = h
                    break
            out.append(chosen)
            weighted.remove(chosen)
        out.extend(sorted(full, key=lambda h: h.fqdn))
    return out


def best(
    agents: Sequence[HomeAgent], now: dt.datetime, timeout: dt.timedelta, rng: random.Random
) -> HomeAgent | None:
    """The one live HA with spare capacity a new subscriber should get, if any."""
    for ha in rank(live_agents(agents, now, timeout), rng):
        if ha.spare > 0:
            return ha
    return None


def best_many(
    agents: Sequence[HomeAgent],
    n: int,
    now: dt.datetime,
    timeout: dt.timedelta,
    rng: random.Random,
) -> list[HomeAgent | None]:
    """What ``n`` successive :func:`best` calls give when each choice takes one slot.

    The same rule (lowest priority group with spare capacity, then a draw
    weighted by :func:`selection_weight`, which shrinks as the HA fills), in
    O(n x number of HAs) plain arithmetic for bulk import; ``None`` once no
    live HA has a free slot.  The returned objects are the input agents
    (their ``assigned`` is the caller's to update).
    """
    live = [h for h in live_agents(agents, now, timeout) if h.capacity > 0]
    spare = [h.spare for h in live]
    base = [max(h.weight, 0) + 0.01 for h in live]
    out: list[HomeAgent | None] = []
    for _ in range(n):
        open_ = [i for i, s in enumerate(spare) if s > 0]
        if not open_:
            out.append(None)
            continue
        prio = min(live[i].priority for i in open_)
        group = [i for i in open_ if live[i].priority == prio]
        weights = [base[i] * spare[i] / live[i].capacity for i in group]
        pick = rng.uniform(0, sum(weights))
        chosen = group[-1]
        running = 0.0
        for i, w in zip(group, weights, strict=True):
            running += w
            if running >= pick:
                chosen = i
                break
        spare[chosen] -= 1
        out.append(live[chosen])
    return out
