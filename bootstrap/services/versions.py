"""Change versions: the cheap "did anything change?" that services poll.

Scopes: ``topology`` (networks and home agents: DHCP, DNS SRV, HA choice)
and ``subscribers`` (enrollment state: VICI sync, DNS).  A bump is an
``UPDATE ... SET version = version + 1`` in the writer's own transaction, so
a reader that sees the new number also sees the change.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..store.engine import Store
from ..store.models import ChangeVersion

TOPOLOGY = "topology"
SUBSCRIBERS = "subscribers"


def bump(session: Session, scope: str) -> None:
    """Move ``scope`` forward inside the caller's transaction."""
    result = session.execute(
        update(ChangeVersion)
        .where(ChangeVersion.scope == scope)
        .values(version=ChangeVersion.version + 1)
    )
    if getattr(result, "rowcount", 1) == 0:
        session.add(ChangeVersion(scope=scope, version=1))


def current_in(session: Session, scope: str) -> int:
    """``scope``'s version as seen by the caller's transaction."""
    row = session.get(ChangeVersion, scope)
    return row.version if row is not None else 0


def current(store: Store) -> dict[str, int]:
    """All scopes' versions: one indexed read, cheap enough to poll every second."""
    with store.session() as s:
        return {row.scope: row.version for row in s.scalars(select(ChangeVersion))}
