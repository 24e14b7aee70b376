"""Above its ceiling the responder sheds stale requests, counted, instead of answering late.

A real UDP socket on loopback: the event loop is kept busy while requests
queue in the socket buffer, as an overload does; when it reads them again,
those that waited longer than the intake bound are dropped unread and
counted by reason, and a fresh request is still answered at once.
"""

from __future__ import annotations

import asyncio
import socket
import time

from dhcp_hinfo import intake
from dhcp_hinfo.policy import Arrival
from dhcp_hinfo.responder import Outgoing
from dhcp_hinfo.transport import Endpoint, open6


async def test_stale_requests_are_shed_and_fresh_ones_answered() -> None:
    server = open6("::1", 0, [])
    port = server.getsockname()[1]
    client = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    client.bind(("::1", 0))
    client.settimeout(5)
    answered: list[bytes] = []
    shed: dict[str, int] = {}

    def handle(data: bytes, source: str, arrival: Arrival) -> Outgoing | None:
        answered.append(data)
        return Outgoing(b"reply:" + data, source, client.getsockname()[1])

    def count(reason: str, n: int) -> None:
        shed[reason] = shed.get(reason, 0) + n

    ep = Endpoint(server, handle, count)
    ep.intake = intake.Intake(max_wait_ns=300_000_000)  # wide: this machine may be loaded
    ep.start()
    try:
        for i in range(100):
            client.sendto(b"old%03d" % i, ("::1", port))
        time.sleep(0.6)  # the loop is busy: the queue ages past the bound
        client.sendto(b"fresh", ("::1", port))
        deadline = time.monotonic() + 5
        while not answered and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert client.recvfrom(100)[0] == b"reply:fresh"
        assert answered == [b"fresh"]
        assert shed == {intake.STALE: 100}
    finally:
        ep.close()
        client.close()
