"""The DHCP face's own settings, built once from ``[dhcp6]`` / ``[dhcp4]`` at its edge.

Every range rule of the two sections lives here and only here, so
``bootstrapctl config check`` and ``bootstrapd`` (which both call
:func:`from_settings` through :mod:`bootstrap.faces`) refuse the same file
with the same sentence.  Whatever needs the host (interface names, sockets)
is checked at start by :mod:`dhcp_hinfo.service`, not here.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from bootstrap.config import Settings, split_hostport
from bootstrap.errors import ConfigError

from .links import LinkBindings
from .policy import Policy


@dataclass(frozen=True)
class Listener:
    """One enabled family: where to bind and on which interfaces."""

    host: str
    port: int
    interfaces: tuple[str, ...]


@dataclass(frozen=True)
class DhcpSettings:
    """Everything the DHCP face reads from the configuration, already checked."""

    policy: Policy
    listen6: Listener | None
    listen4: Listener | None
    rate6: tuple[float, int]
    rate4: tuple[float, int]
    log_interval: float
    reply_port6: int
    relay_port6: int
    client_port4: int
    relay_port4: int
    snapshot_poll_interval: float


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


def _port(section: str, key: str, value: int) -> int:
    if not 0 < value < 65536:
        raise ConfigError(f"[{section}] {key} must be a UDP port (1-65535), not {value}")
    return value


def from_settings(settings: Settings) -> DhcpSettings:
    """The DHCP face's settings; a bad value raises ConfigError naming ``[section] key``."""
    d6, d4 = settings.dhcp6, settings.dhcp4
    policy = build_policy(settings)
    listen6 = listen4 = None
    if d6.enabled:
        host, port = split_hostport(d6.listen, "[dhcp6] listen")
        listen6 = Listener(host, port, tuple(d6.interfaces))
    if d4.enabled:
        host4, port4 = split_hostport(d4.listen, "[dhcp4] listen")
        listen4 = Listener(host4, port4, tuple(d4.interfaces))
    return DhcpSettings(
        policy=policy,
        listen6=listen6,
        listen4=listen4,
        rate6=(d6.rate_limit, d6.rate_burst),
        rate4=(d4.rate_limit, d4.rate_burst),
        log_interval=d6.log_interval,
        reply_port6=_port("dhcp6", "reply_port", d6.reply_port),
        relay_port6=_port("dhcp6", "relay_port", d6.relay_port),
        client_port4=_port("dhcp4", "client_port", d4.client_port),
        relay_port4=_port("dhcp4", "relay_port", d4.relay_port),
        snapshot_poll_interval=settings.store.snapshot_poll_interval,
    )
