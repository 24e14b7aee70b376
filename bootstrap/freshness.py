"""Since when each service of this process has been running on data it could not refresh.

A service that keeps serving while the store is away (DHCP from its last
snapshot, the DNS publisher waiting, the bridge queueing binding events)
says so here: :meth:`Freshness.refreshed` after every successful read,
:meth:`Freshness.failed` after a failed one.  ``/healthz``, ``/metrics``,
the dashboard and ``bootstrapctl db status`` (through ``/healthz``) read the
one process-wide :data:`FRESHNESS`; it lives outside the faces so that each
face and the web UI can reach it without importing one another.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from prometheus_client import Gauge

STALE_SECONDS = Gauge(
    "mip6bs_store_stale_seconds",
    "Seconds a service has been running on data it could not refresh from the store (0 = fresh)",
    ["service"],
)
DATA_AGE = Gauge(
    "mip6bs_store_data_age_seconds",
    "Seconds since a service last read the store successfully (DHCP: the snapshot's age)",
    ["service"],
)


@dataclass(frozen=True, slots=True)
class ServiceFreshness:
    service: str
    refreshed_at: dt.datetime | None
    """The last successful read from the store."""
    stale_since: dt.datetime | None
    """The first failed read after the last success; None while fresh."""
    detail: str = ""

    def age(self, now: dt.datetime) -> float | None:
        """Seconds since the data was last confirmed current."""
        return None if self.refreshed_at is None else (now - self.refreshed_at).total_seconds()

    def stale_for(self, now: dt.datetime) -> float:
        return 0.0 if self.stale_since is None else (now - self.stale_since).total_seconds()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Freshness:
    """Thread-safe: services record from worker threads, the web reads from the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, ServiceFreshness] = {}

    def refreshed(self, service: str, detail: str = "", now: dt.datetime | None = None) -> bool:
        """The service's data is current; True when it was stale before."""
        at = now or _now()
        with self._lock:
            old = self._state.get(service)
            self._state[service] = ServiceFreshness(service, at, None, detail)
            self._export(service)
        return old is not None and old.stale_since is not None

    def failed(self, service: str, detail: str = "", now: dt.datetime | None = None) -> bool:
        """A read failed; True when the service just became stale."""
        at = now or _now()
        with self._lock:
            old = self._state.get(service)
            since = old.stale_since if old is not None and old.stale_since else at
            refreshed = old.refreshed_at if old is not None else None
            self._state[service] = ServiceFreshness(service, refreshed, since, detail)
            self._export(service)
        return old is None or old.stale_since is None

    def report(self) -> list[ServiceFreshness]:
        with self._lock:
            return sorted(self._state.values(), key=lambda f: f.service)

    def _export(self, service: str) -> None:
        def stale() -> float:
            f = self._state.get(service)
            return 0.0 if f is None else f.stale_for(_now())

        def age() -> float:
            f = self._state.get(service)
            a = None if f is None else f.age(_now())
            return -1.0 if a is None else a

        STALE_SECONDS.labels(service).set_function(stale)
        DATA_AGE.labels(service).set_function(age)


FRESHNESS = Freshness()


def as_json(report: list[ServiceFreshness], now: dt.datetime | None = None) -> dict[str, object]:
    """The ``/healthz`` form: per service, its data age and since when it is stale."""
    at = now or _now()
    out: dict[str, object] = {}
    for f in report:
        age = f.age(at)
        out[f.service] = {
            "data_age_seconds": None if age is None else round(age, 1),
            "stale_since": f.stale_since.isoformat() if f.stale_since else None,
            "stale_seconds": round(f.stale_for(at), 1),
            **({"detail": f.detail} if f.detail else {}),
        }
    return out
