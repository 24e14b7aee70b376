"""Bytes in, bytes out: decode, rate-limit, apply the policy, encode, count.

No sockets and no clock: the transport passes wall-clock ``now`` (for
heartbeat freshness) and monotonic ``mono`` (for rate limits and the log
gate).  Every drop is counted by reason and logged at most once per interval.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import random
import struct
from dataclasses import dataclass

from prometheus_client import Counter

from bootstrap.domain import Snapshot

from . import metrics, policy, wire4, wire6
from .errors import MalformedPacket
from .policy import Arrival, Drop, HomeView, Policy
from .ratelimit import LogGate, RateLimiter

log = logging.getLogger("dhcp_hinfo")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A datagram to send: payload, destination address and UDP port."""

    payload: bytes
    destination: str
    port: int


class Responder:
    """The per-packet path of both families, fed from the current snapshot."""

    def __init__(
        self,
        policy_: Policy,
        snapshot: Snapshot,
        rate6: RateLimiter | None = None,
        rate4: RateLimiter | None = None,
        log_interval: float = 60.0,
        rng: random.Random | None = None,
        reply_port6: int = 546,
        relay_port6: int = 547,
        client_port4: int = 68,
        relay_port4: int = 67,
    ) -> None:
        self.policy = policy_
        self.view = HomeView(snapshot)
        self.rate6 = rate6 or RateLimiter(0, 1)
        self.rate4 = rate4 or RateLimiter(0, 1)
        self.gate = LogGate(log_interval)
        self.rng = rng or random.Random()
        self._cache: dict[tuple[object, ...], tuple[float, list[bytes]]] = {}
        self._shapes: dict[tuple[object, ...], tuple[object, ...]] = {}
        self.ports = (reply_port6, relay_port6, client_port4, relay_port4)
        self._drop_counters: dict[tuple[str, str], Counter] = {}
        self._received = {f: metrics.RECEIVED.labels(f) for f in ("6", "4")}
        self._replied = {f: metrics.REPLIED.labels(f) for f in ("6", "4")}

    def set_snapshot(self, snapshot: Snapshot) -> None:
        """Answer from ``snapshot`` from now on (called when the follower rebuilds)."""
        self.view = HomeView(snapshot)
        self._cache.clear()

    def count_drop(self, family: str, reason: str, n: int = 1) -> None:
        """Count ``n`` datagrams dropped before they reached us (the transport's intake bound)."""
        self._received[family].inc(n)
        self._counter(family, reason).inc(n)

    def _counter(self, family: str, reason: str) -> Counter:
        counter = self._drop_counters.get((family, reason))
        if counter is None:
            counter = metrics.DROPPED.labels(family, reason)
            self._drop_counters[(family, reason)] = counter
        return counter

    def _drop(self, family: str, reason: str, mono: float, detail: str = "") -> None:
        self._counter(family, reason).inc()
        if self.gate.should_log(family + reason, mono):
            log.info(
                "DHCPv%s: dropping %s%s (logged once per %.0f s)",
                family,
                reason.replace("_", " "),
                f": {detail}" if detail else "",
                self.gate.interval,
            )

    def handle6(
        self, data: bytes, source: str, arrival: Arrival, now: dt.datetime, mono: float
    ) -> Outgoing | None:
        """Answer one DHCPv6 datagram from ``source``; None when it is dropped."""
        self._received["6"].inc()
        fast = self._fast_path(data, source, arrival, mono)
        if fast is not None:
            return fast if isinstance(fast, Outgoing) else None
        try:
            msg = wire6.decode_message(data)
        except MalformedPacket as exc:
            self._drop("6", exc.reason, mono, str(exc))
            return None
        if not self.rate6.allow(_client_key6(msg, source), mono):
            self._drop("6", policy.RATE_LIMITED, mono)
            return None
        key = _cache_key(msg, arrival)
        if key is not None:
            cached = self._cached(key, mono)
            if cached is not None:
                self._replied["6"].inc()
                return Outgoing(_with_client(msg, cached), source, self.ports[0])
        try:
            result = policy.answer6(msg, arrival, self.view, self.policy, now, self.rng)
        except MalformedPacket as exc:
            self._drop("6", exc.reason, mono, str(exc))
            return None
        if isinstance(result, Drop):
            self._drop("6", result.reason, mono)
            return None
        self._replied["6"].inc()
        port = self.ports[1] if result.relayed else self.ports[0]
        payload = wire6.encode_message(result.message)
        if key is not None:
            self._remember(key, msg, payload, mono)
            shape = _raw_shape(data)
            if shape is not None:
                if len(self._shapes) >= self.CACHE_KEYS:
                    self._shapes.clear()
                self._shapes[(shape[0], arrival.interface, arrival.multicast)] = key
        return Outgoing(payload, source, port)

    def _fast_path(
        self, data: bytes, source: str, arrival: Arrival, mono: float
    ) -> Outgoing | bool | None:
        """Answer without decoding when ``data`` has the exact shape of a request decoded before.

        Same bytes apart from the transaction id, the Client Identifier's DUID (checked
        here) and the Elapsed Time value means the full decode would give the same
        options, so the cached reply applies.  None: take the normal path; False: dropped.
        """
        if not data or data[0] != wire6.INFORMATION_REQUEST or not self._shapes:
            return None
        shape = _raw_shape(data)
        if shape is None:
            return None
        key = self._shapes.get((shape[0], arrival.interface, arrival.multicast))
        if key is None:
            return None
        cached = self._cached(key, mono)
        if cached is None:
            return None
        start, end = shape[1]
        client = data[start:end]
        if client:
            try:
                wire6.Duid.parse(client[4:])
            except MalformedPacket:
                return None
        if not self.rate6.allow(client[4:] or source, mono):
            self._drop("6", policy.RATE_LIMITED, mono)
            return False
        self._replied["6"].inc()
        reply = bytes([wire6.REPLY]) + data[1:4] + client + cached
        return Outgoing(reply, source, self.ports[0])

    # Reply cache: identical direct requests (same options apart from Client Identifier and
    # Elapsed Time, same link) get the same answer from one snapshot, except for the
    # weighted-random HA order.  Up to CACHE_VARIANTS answers drawn by the policy are kept per
    # request shape and one is picked at random per packet, so the RFC 2782 spread survives;
    # entries live CACHE_TTL seconds (heartbeat ages) and die with the snapshot.
    CACHE_VARIANTS = 16
    CACHE_TTL = 1.0
    CACHE_KEYS = 4096

    def _cached(self, key: tuple[object, ...], mono: float) -> bytes | None:
        entry = self._cache.get(key)
        if entry is None or mono - entry[0] > self.CACHE_TTL:
            return None
        variants = entry[1]
        if len(variants) < self.CACHE_VARIANTS:
            return None
        return variants[self.rng.randrange(len(variants))]

    def _remember(
        self, key: tuple[object, ...], msg: wire6.Message, payload: bytes, mono: float
    ) -> None:
        assert isinstance(msg, wire6.ClientServerMessage)
        skip = 4 + sum(4 + len(o.data()) for o in msg.options[:1] if o.code == wire6.CLIENTID)
        entry = self._cache.get(key)
        if entry is None or mono - entry[0] > self.CACHE_TTL:
            if len(self._cache) >= self.CACHE_KEYS:
                self._cache.clear()
            entry = (mono, [])
            self._cache[key] = entry
        entry[1].append(payload[skip:])

    def handle4(
        self, data: bytes, source: str, arrival: Arrival, now: dt.datetime, mono: float
    ) -> Outgoing | None:
        """Answer one DHCPv4 datagram; None when it is dropped."""
        self._received["4"].inc()
        try:
            frame = wire4.decode(data)
        except MalformedPacket as exc:
            self._drop("4", exc.reason, mono, str(exc))
            return None
        if not self.rate4.allow((frame.chaddr, frame.giaddr.packed), mono):
            self._drop("4", policy.RATE_LIMITED, mono)
            return None
        try:
            src: ipaddress.IPv4Address | None = ipaddress.IPv4Address(source)
        except ValueError:
            src = None
        result = policy.answer4(frame, arrival, self.view, self.policy, now, self.rng, src)
        if isinstance(result, Drop):
            self._drop("4", result.reason, mono)
            return None
        self._replied["4"].inc()
        port = self.ports[3] if result.port == 67 else self.ports[2]
        return Outgoing(wire4.encode(result.frame), str(result.destination), port)


def _cache_key(msg: wire6.Message, arrival: Arrival) -> tuple[object, ...] | None:
    """Shape of a direct request whose reply can be reused, or None (relayed, odd, draft)."""
    if not isinstance(msg, wire6.ClientServerMessage):
        return None
    if msg.msg_type != wire6.INFORMATION_REQUEST:
        return None
    opts = msg.options
    if opts and opts[0].code == wire6.CLIENTID:
        opts = opts[1:]
    rest = tuple(o for o in opts if o.code != wire6.ELAPSED_TIME)
    if any(o.code == wire6.CLIENTID or isinstance(o, wire6.DraftHomeInfo) for o in rest):
        return None
    return (rest, arrival.interface, arrival.multicast)


_HDR = struct.Struct("!HH")


def _raw_shape(data: bytes) -> tuple[tuple[bytes, ...], tuple[int, int]] | None:
    """Request bytes minus xid, Client Identifier data and Elapsed Time value; None if odd.

    Also returns where the Client Identifier option (header included) sits; it must be
    the first option, as in the decoded cache key.
    """
    parts: list[bytes] = []
    client = (4, 4)
    i, last, n = 4, 4, len(data)
    while i < n:
        if n - i < 4:
            return None
        code, length = _HDR.unpack_from(data, i)
        end = i + 4 + length
        if end > n:
            return None
        if code == wire6.CLIENTID:
            if i != 4:
                return None
            client = (4, end)
            parts.append(data[last : i + 4])
            last = end
        elif code == wire6.ELAPSED_TIME:
            parts.append(data[last : i + 4])
            last = end
        i = end
    parts.append(data[last:])
    return tuple(parts), client


def _with_client(msg: wire6.Message, body: bytes) -> bytes:
    assert isinstance(msg, wire6.ClientServerMessage)
    head = bytes([wire6.REPLY]) + msg.xid.to_bytes(3, "big")
    if msg.options and msg.options[0].code == wire6.CLIENTID:
        return head + msg.options[0].encode() + body
    return head + body


def _client_key6(msg: wire6.Message, source: str) -> bytes | str:
    """Who to rate-limit: the innermost client's DUID, else its (peer) address."""
    peer = source
    inner = msg
    depth = 0
    while isinstance(inner, wire6.RelayMessage) and depth <= wire6.MAX_DEPTH:
        peer = str(inner.peer_address)
        inner = inner.inner
        depth += 1
    for o in inner.options:
        if isinstance(o, wire6.ClientId):
            return o.duid.raw
    return peer
