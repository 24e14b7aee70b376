"""What the strongSwan bridge needs from ``bootstrap.toml``, checked once at the face's edge.

:func:`from_settings` turns the whole :class:`bootstrap.config.Settings` into a
frozen :class:`ViciSettings`; the bridge carries only that inwards, so no
module below this one reads ``settings.vici.<key>`` (or another section) on
its own.  ``bootstrapctl config check`` and ``bootstrapd`` both call
:func:`from_settings`, so a value one of them refuses the other refuses too:
the error is one sentence naming the ``[vici] key``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

from bootstrap.config import Settings
from bootstrap.domain import PublishMode, dns_name
from bootstrap.errors import ConfigError


class AssignMode(StrEnum):
    """``[vici] assign``: how charon hands a subscriber its HoA."""

    PER_SUBSCRIBER = "per-subscriber"
    """One single-address pool, one connection (and EAP secret) per subscriber."""
    RADIUS = "radius"
    """One generic connection; FreeRADIUS reads the HoA from the store's views."""


@dataclass(frozen=True, slots=True)
class ViciSettings:
    """The bridge's settings: ``[vici]`` plus the two outside values it depends on."""

    socket: str
    home_agent: str
    """The HA's FQDN in the store's normal form (:func:`bootstrap.domain.dns_name`)."""
    assign: AssignMode
    per_subscriber_limit: int
    fqdn_identities: bool
    command_timeout: float
    heartbeat_interval: float
    """``[ha] heartbeat_interval``: how often the HA's heartbeat is written while charon answers."""
    failure_timeout: float
    """``[ha] failure_timeout``: a longer gap between heartbeats starts a new run of beats."""
    reinit_concurrency: int
    reinit_rate: float
    reinit_timeout: float
    reinit_window: float
    """``[ha] reinit_*``: pacing of the HA-initiated re-bootstrap after a takeover."""
    reconnect_max: float
    redirect_wait: float
    radius_address: str
    radius_port: int
    radius_secret_file: str
    radius_db_user: str
    poll_interval: float
    """``[store] snapshot_poll_interval``: how often the store's change versions are read."""
    publish: PublishMode | None
    """``[dns] publish`` if set; only a fallback, the store's mode decides
    (:mod:`bootstrap.services.publish_mode`)."""
    home_interface: str = ""
    """The HA's home-link interface where it proxies ND / ARP for its HoAs; empty: none."""
    queue_file: str = ""
    """``[vici] queue_file``: the durable queue of binding events; empty = none (tests)."""
    queue_limit: int = 100000

    @property
    def publish_on_registration(self) -> bool | None:
        """Fallback for a store that holds no publish mode; None: not configured."""
        if self.publish is None:
            return None
        return self.publish is PublishMode.REGISTRATION


def _positive(name: str, value: float) -> float:
    if not value > 0:
        raise ConfigError(f"[vici] {name} must be greater than 0, not {value!r}")
    return value


def _ha_positive(name: str, value: float) -> float:
    if not value > 0:
        raise ConfigError(f"[ha] {name} must be greater than 0, not {value!r}")
    return value


def assign_mode(settings: Settings) -> AssignMode:
    """``[vici] assign`` alone (what a bundle writer needs on a host that runs no bridge)."""
    try:
        return AssignMode(settings.vici.assign)
    except ValueError:
        allowed = ", ".join(m.value for m in AssignMode)
        raise ConfigError(
            f"[vici] assign must be one of {allowed}, not {settings.vici.assign!r}"
        ) from None


def from_settings(settings: Settings) -> ViciSettings:
    """The bridge's view of ``settings``; :class:`ConfigError` for a value it cannot run with."""
    v = settings.vici
    if not v.socket.strip():
        raise ConfigError("[vici] socket must name charon's VICI socket, not be empty")
    home_agent = dns_name(v.home_agent)
    if not home_agent or any(not label for label in home_agent.split(".")):
        raise ConfigError(f"[vici] home_agent must be the HA's FQDN, not {v.home_agent!r}")
    assign = assign_mode(settings)
    try:
        ipaddress.ip_address(v.radius_address)
    except ValueError:
        raise ConfigError(
            f"[vici] radius_address must be an IP address, not {v.radius_address!r}"
        ) from None
    if not 1 <= v.radius_port <= 65535:
        raise ConfigError(f"[vici] radius_port must be 1-65535, not {v.radius_port!r}")
    if v.per_subscriber_limit < 1:
        raise ConfigError(
            f"[vici] per_subscriber_limit must be at least 1, not {v.per_subscriber_limit!r}"
        )
    if not v.radius_secret_file.strip():
        raise ConfigError("[vici] radius_secret_file must name a file, not be empty")
    try:
        publish = PublishMode(settings.dns.publish) if settings.dns.publish else None
    except ValueError:
        allowed = ", ".join(m.value for m in PublishMode)
        raise ConfigError(
            f"[dns] publish must be one of {allowed}, not {settings.dns.publish!r}"
        ) from None
    return ViciSettings(
        socket=v.socket,
        home_agent=home_agent,
        assign=assign,
        per_subscriber_limit=v.per_subscriber_limit,
        fqdn_identities=v.fqdn_identities,
        command_timeout=_positive("command_timeout", v.command_timeout),
        heartbeat_interval=_ha_positive("heartbeat_interval", settings.ha.heartbeat_interval),
        failure_timeout=_ha_positive("failure_timeout", settings.ha.failure_timeout),
        reinit_concurrency=settings.ha.reinit_concurrency,
        reinit_rate=settings.ha.reinit_rate,
        reinit_timeout=settings.ha.reinit_timeout,
        reinit_window=settings.ha.reinit_window,
        reconnect_max=_positive("reconnect_max", v.reconnect_max),
        redirect_wait=_positive("redirect_wait", v.redirect_wait),
        radius_address=v.radius_address,
        radius_port=v.radius_port,
        radius_secret_file=v.radius_secret_file,
        radius_db_user=v.radius_db_user,
        poll_interval=settings.store.snapshot_poll_interval,
        publish=publish,
        home_interface=v.home_interface.strip(),
        queue_file=v.queue_file,
        queue_limit=_queue_limit(v.queue_limit),
    )


def _queue_limit(value: int) -> int:
    if value < 1:
        raise ConfigError(f"[vici] queue_limit must be at least 1, not {value!r}")
    return value
