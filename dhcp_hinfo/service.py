"""``bootstrapd`` service "dhcp": the DHCPv6 (and optional DHCPv4) home-information responder.

Start-up converts ``Settings`` into the face's own :class:`DhcpSettings`
(:mod:`dhcp_hinfo.settings`, the one home of the range rules), makes sure
the store holds the server DUID, builds the first snapshot, opens the
sockets and announces where it listens; afterwards the snapshot follower's
polling task is what keeps running.  Packets are answered from memory only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import socket
import time
from collections.abc import Callable

from bootstrap.context import ServiceContext
from bootstrap.domain import Snapshot
from bootstrap.errors import BootstrapError, ConfigError
from bootstrap.services import dhcp_identity
from bootstrap.services.snapshot import SnapshotFollower

from .policy import Arrival
from .ratelimit import RateLimiter
from .responder import Outgoing, Responder
from .settings import DhcpSettings, from_settings
from .transport import Endpoint, open4, open6


def build_responder(cfg: DhcpSettings, snapshot: Snapshot) -> Responder:
    return Responder(
        cfg.policy,
        snapshot,
        rate6=RateLimiter(*cfg.rate6),
        rate4=RateLimiter(*cfg.rate4),
        log_interval=cfg.log_interval,
        reply_port6=cfg.reply_port6,
        relay_port6=cfg.relay_port6,
        client_port4=cfg.client_port4,
        relay_port4=cfg.relay_port4,
    )


def _check_interfaces(names: tuple[str, ...], key: str) -> None:
    for name in names:
        try:
            socket.if_nametoindex(name)
        except OSError:
            raise ConfigError(f"{key}: this host has no interface named {name!r}") from None


def _open(opener: Callable[[], socket.socket], where: str) -> socket.socket:
    try:
        return opener()
    except OSError as exc:
        raise BootstrapError(f"dhcp: cannot listen on {where}: {exc.strerror or exc}") from None


async def serve(ctx: ServiceContext) -> None:
    """Answer DHCP home-information requests until cancelled."""
    cfg = from_settings(ctx.settings)  # config errors first, before the store or sockets
    await asyncio.to_thread(dhcp_identity.ensure_server_duid, ctx.store)
    loop = asyncio.get_running_loop()
    follower = await asyncio.to_thread(SnapshotFollower, ctx.store, cfg.snapshot_poll_interval)
    responder = build_responder(cfg, follower.snapshot)

    def changed(snap: Snapshot) -> None:
        loop.call_soon_threadsafe(responder.set_snapshot, snap)

    follower.on_change = changed

    def on6(data: bytes, source: str, arrival: Arrival) -> Outgoing | None:
        return responder.handle6(data, source, arrival, dt.datetime.now(dt.UTC), time.monotonic())

    def on4(data: bytes, source: str, arrival: Arrival) -> Outgoing | None:
        return responder.handle4(data, source, arrival, dt.datetime.now(dt.UTC), time.monotonic())

    endpoints: list[Endpoint] = []
    where: list[str] = []
    try:
        if (l6 := cfg.listen6) is not None:
            _check_interfaces(l6.interfaces, "[dhcp6] interfaces")
            sock6 = _open(
                lambda: open6(l6.host, l6.port, list(l6.interfaces)), f"[{l6.host}]:{l6.port}"
            )
            endpoints.append(Endpoint(sock6, on6, functools.partial(responder.count_drop, "6")))
            joined = f", ff02::1:2 on {', '.join(l6.interfaces)}" if l6.interfaces else ""
            where.append(f"DHCPv6 on [{l6.host}]:{l6.port}{joined}")
        if (l4 := cfg.listen4) is not None:
            _check_interfaces(l4.interfaces, "[dhcp4] interfaces")
            for iface in list[str | None](l4.interfaces) or [None]:
                sock4 = _open(
                    functools.partial(open4, l4.host, l4.port, iface), f"{l4.host}:{l4.port}"
                )
                endpoints.append(Endpoint(sock4, on4, functools.partial(responder.count_drop, "4")))
            where.append(f"DHCPv4 INFORM on {l4.host}:{l4.port}")
        for ep in endpoints:
            ep.start()
        # Everything allocated so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise stall the socket for tens of milliseconds.
        gc.collect()
        gc.freeze()
        ctx.announce("dhcp: home information (RFC 6610) " + "; ".join(where or ["no socket"]))
        await follower.run()
    finally:
        for ep in endpoints:
            ep.close()
