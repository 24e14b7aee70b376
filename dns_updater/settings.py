"""The publisher's own settings, built once from ``bootstrap.toml`` at the face's edge.

``bootstrapd`` and ``bootstrapctl config check`` / ``dns flush`` / ``dns
reconcile`` all call :func:`from_settings`, so a bad ``[dns]`` value (server,
key file, a number out of range) is refused the same way everywhere: one
:class:`~bootstrap.errors.ConfigError` sentence naming ``[dns] key``.  The
publisher, the liveness task and reconciliation carry only a
:class:`DnsSettings`, never the whole :class:`~bootstrap.config.Settings`.
The TSIG key file is read and checked here, so ``config check`` catches a
missing or malformed key before ``bootstrapd`` would.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dns.tsig

from bootstrap.config import Settings, split_hostport
from bootstrap.domain import PublishMode
from bootstrap.errors import ConfigError

from . import keyfile


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """Exactly what the publisher, liveness and reconcile need (see ``[dns]`` docs)."""

    host: str
    port: int
    key: dns.tsig.Key
    publish: PublishMode | None
    """The configured mode; None: follow the store's (``bootstrap.services.publish_mode``)."""
    ttl: int
    batch_size: int
    """Records per UPDATE message."""
    max_in_flight: int
    timeout: float
    backoff_initial: float
    backoff_cap: float
    claim_seconds: float
    poll_interval: float
    liveness_interval: float
    heartbeat_timeout: dt.timedelta
    """``[store] heartbeat_timeout``: when an HA stops counting as live (SRV records)."""

    @property
    def server(self) -> str:
        """``host:port`` as the operator reads it (IPv6 in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def claim_limit(self) -> int:
        """Rows one claim takes: enough for every message in flight."""
        return max(self.batch_size * self.max_in_flight, 1)


def _at_least(key: str, value: float, low: float, high: float | None = None) -> None:
    if value < low or (high is not None and value > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ConfigError(f"[dns] {key} must be {bound}, not {value:g}")


def from_settings(settings: Settings) -> DnsSettings:
    """``[dns]`` (and the HA heartbeat timeout) checked and converted; reads the key file."""
    cfg = settings.dns
    host, port = split_hostport(cfg.server, "[dns] server")
    try:
        publish = PublishMode(cfg.publish) if cfg.publish else None
    except ValueError:
        allowed = ", ".join(m.value for m in PublishMode)
        raise ConfigError(f"[dns] publish must be one of {allowed}, not {cfg.publish!r}") from None
    _at_least("ttl", cfg.ttl, 0, 2**31 - 1)
    _at_least("batch_size", cfg.batch_size, 1)
    _at_least("max_in_flight", cfg.max_in_flight, 1)
    for name in ("timeout", "backoff_initial", "claim_seconds", "poll_interval",
                 "liveness_interval"):
        value = getattr(cfg, name)
        if not value > 0:
            raise ConfigError(f"[dns] {name} must be more than 0 seconds, not {value:g}")
    _at_least("backoff_cap", cfg.backoff_cap, cfg.backoff_initial)
    key = keyfile.load(cfg.tsig_key_file, cfg.algorithm)
    return DnsSettings(
        host=host,
        port=port,
        key=key,
        publish=publish,
        ttl=cfg.ttl,
        batch_size=cfg.batch_size,
        max_in_flight=cfg.max_in_flight,
        timeout=cfg.timeout,
        backoff_initial=cfg.backoff_initial,
        backoff_cap=cfg.backoff_cap,
        claim_seconds=cfg.claim_seconds,
        poll_interval=cfg.poll_interval,
        liveness_interval=cfg.liveness_interval,
        heartbeat_timeout=dt.timedelta(seconds=settings.store.heartbeat_timeout),
    )
