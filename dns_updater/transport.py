"""The thin asyncio side: UPDATE messages over TCP to one server.

A small pool of persistent TCP connections (RFC 7766 framing: two-byte length
prefix), at most ``max_in_flight`` messages awaiting a reply at once, because
named silently drops UPDATEs beyond its ``update-quota`` (README.md, "Bounded").
Signing happens just before a message is written, so a message that waited
for a free slot still carries a fresh TSIG time.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
import time

import dns.asyncquery
import dns.message
import dns.rdatatype
import dns.tsig

from . import wire
from .errors import Failure, Kind, UpdateFailure, doing, from_exception, from_rcode

_LEN = struct.Struct("!H")


class UpdateClient:
    """Sends signed UPDATEs to ``host``:``port`` and checks the signed replies."""

    def __init__(
        self, host: str, port: int, key: dns.tsig.Key, timeout: float, max_in_flight: int
    ) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.timeout = timeout
        self.server = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._slots = asyncio.Semaphore(max(1, max_in_flight))
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        # asyncio.timeout rather than wait_for, which on Python 3.11 can swallow a cancel
        # that lands as the inner await completes (bootstrapd then ignores SIGTERM)
        async with asyncio.timeout(self.timeout):
            return await asyncio.open_connection(self.host, self.port)

    async def _exchange(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], message: bytes
    ) -> bytes:
        reader, writer = conn
        writer.write(_LEN.pack(len(message)) + message)
        await writer.drain()
        (size,) = _LEN.unpack(await reader.readexactly(2))
        return await reader.readexactly(size)

    async def _roundtrip(
        self, message: bytes
    ) -> tuple[bytes, tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
        """Exchange on an idle connection, or a new one if the idle one was closed.

        named closes idle TCP connections after its tcp-idle-timeout; resending
        on a fresh connection is safe because every update is idempotent.
        """
        while self._idle:
            conn = self._idle.pop()
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._exchange(conn, message), conn
            except (asyncio.IncompleteReadError, ConnectionError):
                conn[1].close()
        conn = await self._open()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(conn, message), conn
        except BaseException:
            conn[1].close()
            raise

    async def send(self, zone: str, unsigned: bytes) -> None:
        """Send one UPDATE of ``zone``; returns when applied, else raises UpdateFailure."""
        async with self._slots:
            try:
                msg_id = secrets.randbits(16)
                signed, mac = wire.sign(unsigned, self.key, msg_id, int(time.time()))
                raw, conn = await self._roundtrip(signed)
                try:
                    reply = dns.message.from_wire(raw, keyring=self.key, request_mac=mac)
                except BaseException:
                    conn[1].close()
                    raise
                if reply.id != msg_id:
                    conn[1].close()
                    raise UpdateFailure(
                        Failure(Kind.BADREPLY, "reply id mismatch", doing(zone, self.server))
                    )
            except BaseException as exc:
                if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                    raise
                if isinstance(exc, wire.RecordError):
                    failure = Failure(Kind.BADRECORD, str(exc), doing(zone, self.server))
                    raise UpdateFailure(failure) from exc
                raise UpdateFailure(from_exception(exc, zone, self.server)) from exc
            self._idle.append(conn)
        refused = from_rcode(reply.rcode(), zone, self.server)
        if refused is not None:
            raise UpdateFailure(refused)

    async def lookup(self, zone: str, name: str, rdtype: str) -> tuple[str, ...]:
        """The server's current rdatas of (name, rdtype), by a TSIG-signed TCP query."""
        q = dns.message.make_query(name, rdtype)
        q.use_tsig(self.key)
        try:
            reply = await dns.asyncquery.tcp(q, self.host, port=self.port, timeout=self.timeout)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
            raise UpdateFailure(from_exception(exc, zone, self.server, "look-up")) from exc
        want = dns.rdatatype.from_text(rdtype)
        return tuple(
            sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == want for rd in rrset)
        )

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
