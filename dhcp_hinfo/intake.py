"""The responder's intake bound: shed what waited too long instead of answering it late.

Above its ceiling a UDP responder falls behind and the socket buffer fills:
every request then waits for the whole queue (hundreds of milliseconds at
4 MiB) before it is answered, and clients have retransmitted meanwhile.  The
kernel stamps each datagram on arrival (``SO_TIMESTAMPNS``); a datagram that
waited longer than :data:`MAX_WAIT` is dropped unread, which costs a
``recvmsg`` instead of a parse and a reply, so the responder catches up and
answers the fresh requests promptly.  The socket buffer bounds the queue in
bytes; what the kernel drops when it is full is reported per datagram in
``SO_RXQ_OVFL`` and counted too.  Both are counted as drop reasons.

Pure: the caller passes the kernel's values and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_WAIT = 0.05
"""Seconds a request may have waited in the socket buffer and still be answered.

Far below DHCPv6's first retransmission (IRT 1 s, RFC 8415 §18.2.6) and the
DHCPv4 client's, far above the normal wait (microseconds)."""

STALE = "overload_stale"
"""Drop reason: the request waited longer than :data:`MAX_WAIT`."""
QUEUE_FULL = "overload_queue_full"
"""Drop reason: the kernel dropped the request, the socket buffer was full."""
REASONS = (STALE, QUEUE_FULL)


@dataclass(slots=True)
class Intake:
    """Per-socket state: the kernel's overflow counter as last seen."""

    max_wait_ns: int = int(MAX_WAIT * 1e9)
    _overflows: int | None = None

    def stale(self, received_ns: int, now_ns: int) -> bool:
        """True when a datagram stamped ``received_ns`` (CLOCK_REALTIME) is too old to answer."""
        return now_ns - received_ns > self.max_wait_ns

    def overflowed(self, counter: int) -> int:
        """Datagrams the kernel dropped since the last report (``counter`` is a uint32)."""
        before, self._overflows = self._overflows, counter
        if before is None:
            return counter
        return (counter - before) % (1 << 32)
