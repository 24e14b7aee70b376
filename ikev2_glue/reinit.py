"""HA-initiated re-bootstrap after a takeover (draft-li-mip6-ha-init-bootstrap §4, §5), pure.

When the store's watchers mark an HA ``failed`` and move its subscribers
here, this HA initiates IKEv2 to each node's last care-of address (from its
closed binding), with the node's HoA as the CHILD_SA traffic selector, so
nodes come back before their own DPD notices the dead HA.  The MN answers
with its bundle's responder connection (``from-ha``: any HA of its network
certified by the store's CA, child ``local_ts`` = its HoA, which it keeps on
``lo``).  No CFG exchange: the HoA is unchanged because the prefix is shared.

:class:`Pacer` keeps a takeover of many nodes from becoming an IKE storm
(§5): at most ``concurrency`` exchanges in flight and at most ``rate``
starts per second; each start is an asynchronous VICI ``initiate``
(``timeout -1``), so a dead care-of address holds no charon worker thread
and blocks nobody; an attempt not up after ``timeout`` seconds is given up.
The bridge feeds it targets, the clock and charon's up events, and executes
the starts.  Pure: no I/O, the caller passes ``now`` (monotonic seconds).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import profile

CONN_PREFIX = "reinit-"


@dataclass(frozen=True, slots=True)
class Target:
    """One node to bring back: who, where it was last seen, which HoA(s) it keeps."""

    sub_id: int
    identity: str
    care_of: str
    hoas: tuple[str, ...]

    @property
    def conn(self) -> str:
        return conn_name(self.sub_id)


def conn_name(sub_id: int) -> str:
    return f"{CONN_PREFIX}{sub_id}"


def sub_id_of(conn: str) -> int | None:
    if not conn.startswith(CONN_PREFIX):
        return None
    rest = conn[len(CONN_PREFIX):]
    return int(rest) if rest.isdigit() else None


def hoa_ts(hoa: str) -> str:
    return f"{hoa}/32" if "." in hoa else f"{hoa}/128"


def conn(t: Target, local_address: str, ike_id: str, cert_pem: str) -> dict[str, Any]:
    """The HA's initiator connection towards one node's care-of address (certificate MN)."""
    p = profile.current()
    return {
        t.conn: {
            "version": str(p.version),
            "local_addrs": [local_address],
            "remote_addrs": [t.care_of],
            "proposals": list(p.ike_proposals),
            "send_certreq": profile.yes_no(p.send_certreq),
            "send_cert": p.send_cert,
            "mobike": profile.yes_no(p.mobike),
            "unique": "replace",
            "keyingtries": "1",
            "local-1": {"auth": "pubkey", "id": ike_id, "certs": [cert_pem]},
            "remote-1": {"auth": "pubkey", "id": t.identity},
            "children": {
                p.ha_child: {
                    "local_ts": list(profile.tunnelled(any("." in h for h in t.hoas))),
                    "remote_ts": [hoa_ts(h) for h in t.hoas],
                    "esp_proposals": list(p.esp_proposals),
                    "mode": p.mode,
                }
            },
        }
    }


@dataclass(frozen=True, slots=True)
class Start:
    """Load ``target``'s connection and initiate it asynchronously."""

    target: Target


@dataclass(frozen=True, slots=True)
class GiveUp:
    """``target`` was not up after the timeout: unload its connection."""

    target: Target


@dataclass
class Pacer:
    """At most ``concurrency`` in flight; starts at ``rate`` per second on average (a token
    bucket holding at most ``concurrency``), however seldom the caller steps."""

    concurrency: int
    rate: float
    timeout: float
    pending: deque[Target] = field(default_factory=deque)
    in_flight: dict[int, tuple[Target, float]] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    tokens: float = 1.0
    """Token bucket of the rate: refilled at ``rate`` per second, at most ``concurrency``."""
    last: float | None = None
    up: int = 0
    given_up: int = 0
    max_in_flight: int = 0

    def offer(self, targets: list[Target]) -> int:
        """Queue the targets not offered before; returns how many were new."""
        new = [t for t in targets if t.sub_id not in self.seen]
        for t in new:
            self.seen.add(t.sub_id)
            self.pending.append(t)
        return len(new)

    def step(self, now: float) -> list[Start | GiveUp]:
        """What to do at ``now``: give up timed-out attempts, then start what pacing allows."""
        out: list[Start | GiveUp] = []
        for sub_id, (t, started) in list(self.in_flight.items()):
            if now - started >= self.timeout:
                del self.in_flight[sub_id]
                self.given_up += 1
                out.append(GiveUp(t))
        if self.last is not None:
            self.tokens = min(float(self.concurrency),
                              self.tokens + (now - self.last) * self.rate)
        self.last = now
        while self.pending and len(self.in_flight) < self.concurrency and self.tokens >= 1.0:
            t = self.pending.popleft()
            self.in_flight[t.sub_id] = (t, now)
            self.max_in_flight = max(self.max_in_flight, len(self.in_flight))
            self.tokens -= 1.0
            out.append(Start(t))
        return out

    def established(self, sub_id: int) -> Target | None:
        """charon reported the node's SA up: one slot is free again."""
        got = self.in_flight.pop(sub_id, None)
        if got is None:
            return None
        self.up += 1
        return got[0]

    def forget(self, sub_id: int) -> None:
        """The node may be offered again (its SA went down later)."""
        self.seen.discard(sub_id)
