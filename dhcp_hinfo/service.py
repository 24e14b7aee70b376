"""``bootstrapd`` service "dhcp": the DHCPv6 (and optional DHCPv4) home-information responder.

Start-up makes sure the store holds the server DUID, builds the first
snapshot, opens the sockets and announces where it listens; afterwards the
snapshot follower's polling task is what keeps running.  Packets are
answered from memory only.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import ipaddress
import socket
import time
from collections.abc import Callable

from bootstrap.config import Settings, split_hostport
from bootstrap.context import ServiceContext
from bootstrap.domain import Snapshot
from bootstrap.errors import BootstrapError, ConfigError
from bootstrap.services import dhcp_identity
from bootstrap.services.snapshot import SnapshotFollower

from .links import LinkBindings
from .policy import Arrival, Policy
from .ratelimit import RateLimiter
from .responder import Outgoing, Responder
from .transport import Endpoint, open4, open6


def build_policy(settings: Settings) -> Policy:
    """The policy settings from ``[dhcp6]`` / ``[dhcp4]``; bad values raise ConfigError."""
    d6, d4 = settings.dhcp6, settings.dhcp4
    try:
        links6 = LinkBindings.parse(d6.links, "[dhcp6] links")
        links4 = LinkBindings.parse(d4.links, "[dhcp4] links")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if d4.dualstack_code and not 224 <= d4.dualstack_code <= 254:
        raise ConfigError("[dhcp4] dualstack_code must be 0 or a site-specific code 224-254")
    if d6.refresh_time and d6.refresh_time < 600:
        raise ConfigError("[dhcp6] refresh_time must be 0 or at least 600 (RFC 8415 IRT_MINIMUM)")
    if not 0 <= d6.hop_limit <= 32:
        raise ConfigError("[dhcp6] hop_limit must be between 0 and 32")
    if any(not 0 < c < 65536 for c in d6.rsoo_codes):
        raise ConfigError("[dhcp6] rsoo_codes must be DHCPv6 option codes (1-65535)")
    try:
        server_id4 = ipaddress.IPv4Address(d4.server_id) if d4.server_id else None
    except ValueError:
        raise ConfigError(
            f"[dhcp4] server_id must be an IPv4 address, not {d4.server_id!r}"
        ) from None
    return Policy(
        links6=links6,
        links4=links4,
        rsoo_codes=frozenset(d6.rsoo_codes),
        hop_limit=d6.hop_limit,
        allow_unicast=d6.allow_unicast,
        heartbeat_timeout=dt.timedelta(seconds=settings.store.heartbeat_timeout),
        refresh_time=d6.refresh_time,
        ds_code=d4.dualstack_code,
        server_id4=server_id4,
    )


def build_responder(settings: Settings, snapshot: Snapshot) -> Responder:
    d6, d4 = settings.dhcp6, settings.dhcp4
    return Responder(
        build_policy(settings),
        snapshot,
        rate6=RateLimiter(d6.rate_limit, d6.rate_burst),
        rate4=RateLimiter(d4.rate_limit, d4.rate_burst),
        log_interval=d6.log_interval,
        reply_port6=d6.reply_port,
        relay_port6=d6.relay_port,
        client_port4=d4.client_port,
        relay_port4=d4.relay_port,
    )


def _check_interfaces(names: list[str], key: str) -> None:
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
    settings = ctx.settings
    d6, d4 = settings.dhcp6, settings.dhcp4
    build_policy(settings)  # config errors first, before touching the store or sockets
    await asyncio.to_thread(dhcp_identity.ensure_server_duid, ctx.store)
    loop = asyncio.get_running_loop()
    follower = await asyncio.to_thread(
        SnapshotFollower, ctx.store, settings.store.snapshot_poll_interval
    )
    responder = build_responder(settings, follower.snapshot)

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
        if d6.enabled:
            host, port = split_hostport(d6.listen, "[dhcp6] listen")
            _check_interfaces(d6.interfaces, "[dhcp6] interfaces")
            sock6 = _open(lambda: open6(host, port, list(d6.interfaces)), f"[{host}]:{port}")
            endpoints.append(Endpoint(sock6, on6))
            joined = f", ff02::1:2 on {', '.join(d6.interfaces)}" if d6.interfaces else ""
            where.append(f"DHCPv6 on [{host}]:{port}{joined}")
        if d4.enabled:
            host4, port4 = split_hostport(d4.listen, "[dhcp4] listen")
            _check_interfaces(d4.interfaces, "[dhcp4] interfaces")
            for iface in list[str | None](d4.interfaces) or [None]:
                sock4 = _open(functools.partial(open4, host4, port4, iface), f"{host4}:{port4}")
                endpoints.append(Endpoint(sock4, on4))
            where.append(f"DHCPv4 INFORM on {host4}:{port4}")
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
