"""What ``bootstrapd`` hands each service: a neutral home shared by the daemon and the faces.

The faces (``dhcp_hinfo``, ``dns_updater``, ``ikev2_glue``, ``bootstrap.web``)
import this module, never the daemon: the daemon is the composition root that
loads them by name, so a face importing it would make the dependency circular.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import Settings
from .services.bundle import Renderer
from .store.engine import Store

# Store is re-exported: a face names the store handle as a type from here, never from
# bootstrap.store (it reaches the store only through bootstrap.services).
__all__ = ["ServiceContext", "Store"]


def _print(line: str) -> None:
    print(line, flush=True)


@dataclass
class ServiceContext:
    """What a service gets: the settings, the store, and a way to say what it serves.

    Each face converts ``settings`` at its edge into its own settings type
    (``<face>.settings.from_settings``) and carries only that inwards.
    """

    settings: Settings
    store: Store
    announce: Callable[[str], None] = field(default=_print)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    bundle_renderer: Renderer | None = None
    """Writes an MN bundle (the strongSwan face's, wired by the daemon) for faces that
    hand bundles out but must not import that face (the web UI)."""
