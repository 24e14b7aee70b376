"""Per-client token buckets and the "log each drop reason at most once per interval" gate.

Both are pure: the caller passes the monotonic time.  The bucket table is
bounded (oldest clients are forgotten first), so a flood of forged client
identifiers costs memory only up to ``max_clients``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable


class RateLimiter:
    """Token bucket per client: ``rate`` requests/s, bursts of ``burst``; rate 0 = off."""

    def __init__(self, rate: float, burst: int, max_clients: int = 100_000) -> None:
        self.rate = rate
        self.burst = float(max(burst, 1))
        self.max_clients = max_clients
        self._buckets: OrderedDict[Hashable, tuple[float, float]] = OrderedDict()

    def allow(self, client: Hashable, now: float) -> bool:
        """Take one token for ``client`` at monotonic time ``now``; False when none is left."""
        if self.rate <= 0:
            return True
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        ok = tokens >= 1.0
        if ok:
            tokens -= 1.0
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return ok


class LogGate:
    """True at most once per ``interval`` seconds for each key."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def should_log(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        return True
