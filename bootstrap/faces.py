"""The one list of faces: their service names, sections, ``serve`` and ``from_settings``.

``bootstrapd`` (the composition root) starts faces from here, and
``bootstrapctl config check`` checks them from here, without importing the
daemon.  Modules are named as strings and imported only when asked for, so
this module depends on no face and no face depends on it.

Each face owns its settings type, built from :class:`Settings` at its edge by
``<face>.settings.from_settings(settings)``, which raises
:class:`ConfigError` with one sentence naming ``[section] key``.  Both the
daemon and ``config check`` call :func:`check` with the faces the file
enables (the daemon with ``--only`` adds that one), so a file refused by one
is refused by the other with the same sentence and exit code 2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from .config import Settings
from .context import ServiceContext
from .errors import ConfigError

Serve = Callable[[ServiceContext], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Face:
    """One face: the sections that configure it, where its settings and service live."""

    sections: tuple[str, ...]
    settings: str
    serve: str


FACES: dict[str, Face] = {
    "dhcp": Face(("dhcp6", "dhcp4"), "dhcp_hinfo.settings", "dhcp_hinfo.service"),
    "dns": Face(("dns",), "dns_updater.settings", "dns_updater.service"),
    "vici": Face(("vici",), "ikev2_glue.settings", "ikev2_glue.service"),
    "web": Face(("web",), "bootstrap.web.settings", "bootstrap.web.service"),
}
"""Service name -> face, in start order (the names ``bootstrapd --only`` takes)."""


def enabled(settings: Settings) -> list[str]:
    """Names of the faces the config enables (any of its sections has ``enabled = true``)."""
    return [
        name
        for name, face in FACES.items()
        if any(getattr(settings, section).enabled for section in face.sections)
    ]


def face_settings(name: str, settings: Settings) -> object:
    """Face ``name``'s own settings built from ``settings`` (raises ConfigError)."""
    module = importlib.import_module(FACES[name].settings)
    built: object = module.from_settings(settings)
    return built


def check(settings: Settings, names: list[str] | None = None) -> None:
    """Build the settings of ``names`` (default: the enabled faces); the first error wins.

    The sentence is prefixed with the file it came from, as loading errors are.
    """
    where = str(settings.path) if settings.path else "defaults"
    for name in enabled(settings) if names is None else names:
        try:
            face_settings(name, settings)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def serve_of(name: str) -> Serve:
    """The ``serve`` coroutine function of face ``name``."""
    fn: Serve = importlib.import_module(FACES[name].serve).serve
    return fn
