"""The web face's own settings, built once from ``[web]`` (and the store's liveness) at its edge.

The range rules of ``[web]`` live here only; ``bootstrapctl config check``
and ``bootstrapd`` both call :func:`from_settings` (through
:mod:`bootstrap.faces`), so they refuse the same file with the same
sentence.  The handlers read these values, never ``Settings.web``; the whole
``Settings`` still travels to the service-layer calls that enrol or export.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings, split_hostport
from ..errors import ConfigError


@dataclass(frozen=True)
class WebSettings:
    """Everything the web face reads from ``[web]``, already checked."""

    host: str
    port: int
    session_lifetime: float
    session_idle_timeout: float
    secure_cookies: bool
    login_attempts: int
    login_window: float
    api_page_limit: int
    heartbeat_timeout: float
    hoa_quarantine_days: float = 30.0
    """Shown on the revoke confirmation (the store applies it)."""
    dns_enabled: bool = False
    """Whether this daemon runs the DNS publisher (the dashboard warns when it does not)."""
    dns_publish: str = "enroll"


def _positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"[web] {key} must be a positive number, not {value}")


def from_settings(settings: Settings) -> WebSettings:
    """The web face's settings; a bad value raises ConfigError naming ``[web] key``."""
    w = settings.web
    host, port = split_hostport(w.listen, "[web] listen")
    for key in ("session_lifetime", "session_idle_timeout", "login_window"):
        _positive(key, getattr(w, key))
    if w.login_attempts < 1:
        raise ConfigError(f"[web] login_attempts must be at least 1, not {w.login_attempts}")
    if w.api_page_limit < 1:
        raise ConfigError(f"[web] api_page_limit must be at least 1, not {w.api_page_limit}")
    return WebSettings(
        host=host,
        port=port,
        session_lifetime=w.session_lifetime,
        session_idle_timeout=w.session_idle_timeout,
        secure_cookies=w.secure_cookies,
        login_attempts=w.login_attempts,
        login_window=w.login_window,
        api_page_limit=w.api_page_limit,
        heartbeat_timeout=settings.store.heartbeat_timeout,
        hoa_quarantine_days=settings.store.hoa_quarantine_days,
        dns_enabled=settings.dns.enabled,
        dns_publish=str(settings.dns.publish),
    )
