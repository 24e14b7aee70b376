"""Home-agent slot counters: ``assigned`` moved by guarded updates, n at a time.

The database enforces capacity: a claim is ``UPDATE ... SET assigned =
assigned + n WHERE assigned + n <= capacity AND state = 'active'``, so two
writers can never overfill an HA whatever they read before.  Bulk import
claims all of a batch's slots on one HA with one statement.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import domain
from ..store.models import HomeAgent
from . import views


def current_of(session: Session, network_id: int, network_domain: str) -> list[domain.HomeAgent]:
    """The network's HAs with their counts as the caller's transaction sees them now.

    A Core select, so the counts are current even inside a long transaction
    (no ORM identity map handing back stale rows).
    """
    t = HomeAgent.__table__
    rows = session.execute(select(t).where(t.c.network_id == network_id))
    return [views.home_agent_values(r._mapping, network_domain) for r in rows]


def claim(session: Session, ha_id: int, n: int = 1) -> bool:
    """Take ``n`` slots on an active HA; False (nothing taken) if they do not fit."""
    result = session.execute(
        update(HomeAgent)
        .where(
            HomeAgent.id == ha_id,
            HomeAgent.assigned + n <= HomeAgent.capacity,
            HomeAgent.state == domain.HAState.ACTIVE.value,
        )
        .values(assigned=HomeAgent.assigned + n)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 1) == 1


def release(session: Session, ha_id: int, n: int = 1) -> None:
    """Give back ``n`` slots (never below zero)."""
    session.execute(
        update(HomeAgent)
        .where(HomeAgent.id == ha_id, HomeAgent.assigned >= n)
        .values(assigned=HomeAgent.assigned - n)
        .execution_options(synchronize_session=False)
    )
