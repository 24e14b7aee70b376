"""Who is acting, for the audit log."""

from __future__ import annotations

import getpass
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """An operator (``source`` = cli, ui, api) or a service (``daemon``)."""

    name: str
    source: str

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(user, "cli")


DAEMON = Actor("bootstrapd", "daemon")
