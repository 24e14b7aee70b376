"""Row lookups by name that several service modules share (each raises NotFound once, here).

Kept apart from the modules that change those rows so that, for example,
:mod:`.home_agents` (state changes) and :mod:`.reassign` (moving subscribers)
can both find an HA without importing each other.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain import dns_name
from ..errors import NotFound
from ..store.models import HomeAgent


def home_agent(session: Session, fqdn: str) -> HomeAgent:
    """The HA row named ``fqdn`` (any case, trailing dot or not)."""
    row = session.scalars(select(HomeAgent).where(HomeAgent.fqdn == dns_name(fqdn))).first()
    if row is None:
        raise NotFound(f"home agent {fqdn!r} does not exist (see 'bootstrapctl ha list')")
    return row
