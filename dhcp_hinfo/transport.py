"""Thin asyncio UDP plumbing: sockets, packet info, batching. No protocol logic.

We read with ``recvmsg`` from a loop reader instead of a DatagramProtocol
because the rules need the receiving interface and whether the destination
was multicast (RFC 9915 drops unicast Information-requests), which only the
IPV6_PKTINFO / IP_PKTINFO ancillary data tells.  Each readiness event drains
up to :data:`BATCH` datagrams; a full send buffer drops the reply (UDP).
Requests that waited too long in the socket buffer are shed unread
(:mod:`.intake`), so an overload costs drops, counted, not late answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Callable

from . import intake
from .intake import Intake
from .policy import Arrival
from .responder import Outgoing

log = logging.getLogger("dhcp_hinfo")

ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2"
BATCH = 64
IP_PKTINFO = 8
"""Linux value; the socket module does not export it."""
SO_TIMESTAMPNS = 35
"""Linux: the kernel's receive time of each datagram as ancillary data (a timespec)."""
SO_RXQ_OVFL = 40
"""Linux: the count of datagrams dropped because the receive buffer was full."""
RCVBUF = 4 * 1024 * 1024
_IN6_PKTINFO = struct.Struct("16sI")
_IN_PKTINFO = struct.Struct("I4s4s")
_PKTINFO = {(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO), (socket.IPPROTO_IP, IP_PKTINFO)}
_TIMESPEC = struct.Struct("@qq")
_OVFL = struct.Struct("@I")
_EXTRA = socket.CMSG_SPACE(_TIMESPEC.size) + socket.CMSG_SPACE(_OVFL.size)
_CMSG_SPACE6 = socket.CMSG_SPACE(_IN6_PKTINFO.size) + _EXTRA
_CMSG_SPACE4 = socket.CMSG_SPACE(_IN_PKTINFO.size) + _EXTRA

Handler = Callable[[bytes, str, Arrival], Outgoing | None]
Shed = Callable[[str, int], None]
"""Told (reason, how many) for each request the intake bound drops (see :mod:`.intake`)."""


def _stamp_arrivals(sock: socket.socket) -> None:
    """Ask the kernel for each datagram's receive time and for its overflow count."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)


def _ifname(index: int, cache: dict[int, str]) -> str | None:
    if index not in cache:
        try:
            cache[index] = socket.if_indextoname(index)
        except OSError:
            return None
    return cache[index]


def open6(host: str, port: int, interfaces: list[str]) -> socket.socket:
    """A non-blocking UDP socket on ``[host]:port`` that joined ff02::1:2 on ``interfaces``."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        _stamp_arrivals(sock)
        sock.bind((host, port))
        group = socket.inet_pton(socket.AF_INET6, ALL_DHCP_RELAY_AGENTS_AND_SERVERS)
        for name in interfaces:
            index = socket.if_nametoindex(name)
            sock.setsockopt(
                socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group + struct.pack("@I", index)
            )
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def open4(host: str, port: int, interface: str | None) -> socket.socket:
    """A non-blocking UDP socket on ``host:port``, bound to ``interface`` if given."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        _stamp_arrivals(sock)
        if interface:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Endpoint:
    """Reads datagrams from ``sock`` on the running loop and sends what ``handler`` returns."""

    def __init__(self, sock: socket.socket, handler: Handler, shed: Shed | None = None) -> None:
        self.sock = sock
        self.handler = handler
        self.shed = shed
        self.intake = Intake()
        self.family = sock.family
        self._names: dict[int, str] = {}
        self._arrivals: dict[bytes, tuple[int, Arrival]] = {}
        self.send_errors = 0

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self.sock.fileno(), self._readable)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
        self.sock.close()

    def _readable(self) -> None:
        space = _CMSG_SPACE6 if self.family == socket.AF_INET6 else _CMSG_SPACE4
        for _ in range(BATCH):
            try:
                data, ancdata, _flags, addr = self.sock.recvmsg(65535, space)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("DHCP socket receive failed: %s", exc)
                return
            try:
                self._one(data, ancdata, addr)
            except Exception:  # a bug must not stop the socket; it is logged with the trace
                log.exception("DHCP responder failed on one datagram")

    def _shed(self, reason: str, n: int) -> None:
        if self.shed is not None:
            self.shed(reason, n)

    def _arrival(self, pktinfo: bytes) -> tuple[int, Arrival]:
        """Interface index and :class:`Arrival` from IPV6_PKTINFO / IP_PKTINFO bytes."""
        if self.family == socket.AF_INET6:
            dst, index = _IN6_PKTINFO.unpack_from(pktinfo)
            local6 = ipaddress.IPv6Address(dst)
            return index, Arrival(_ifname(index, self._names), local6.is_multicast, local6)
        index, spec_dst, dst = _IN_PKTINFO.unpack_from(pktinfo)
        return index, Arrival(
            _ifname(index, self._names),
            ipaddress.IPv4Address(dst).is_multicast,
            ipaddress.IPv4Address(spec_dst),
        )

    def _one(
        self, data: bytes, ancdata: list[tuple[int, int, bytes]], addr: tuple[object, ...]
    ) -> None:
        index = 0
        arrival = Arrival()
        for level, kind, value in ancdata:
            if level == socket.SOL_SOCKET:
                if kind == SO_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack_from(value)
                    if self.intake.stale(sec * 1_000_000_000 + nsec, time.time_ns()):
                        self._shed(intake.STALE, 1)
                        return
                elif kind == SO_RXQ_OVFL:
                    lost = self.intake.overflowed(_OVFL.unpack_from(value)[0])
                    if lost:
                        self._shed(intake.QUEUE_FULL, lost)
            elif (level, kind) in _PKTINFO:
                cached = self._arrivals.get(value)
                if cached is None:
                    cached = self._arrival(value)
                    if len(self._arrivals) > 1024:
                        self._arrivals.clear()
                    self._arrivals[value] = cached
                index, arrival = cached
        source = str(addr[0]).partition("%")[0]
        out = self.handler(data, source, arrival)
        if out is None:
            return
        try:
            if self.family == socket.AF_INET6:
                pktinfo = _IN6_PKTINFO.pack(bytes(16), index)
                self.sock.sendmsg(
                    [out.payload],
                    [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)],
                    0,
                    (out.destination, out.port, 0, index),
                )
            else:
                self.sock.sendto(out.payload, (out.destination, out.port))
        except OSError as exc:
            self.send_errors += 1
            if self.send_errors == 1 or self.send_errors % 1000 == 0:
                log.warning("DHCP reply to %s not sent: %s", out.destination, exc)
