"""Home-agent slots: the one place the ``assigned`` counter of an HA moves.

Enrollment claims a slot on the best live HA of the network, reassignment
moves a subscriber's slot to another HA, revocation releases it; all three
go through here.  A claim is one guarded statement::

    UPDATE home_agents SET assigned = assigned + :n
     WHERE id = :id AND assigned + :n <= capacity AND state = 'active'

so two writers on different hosts sharing one PostgreSQL can never both take
the last slot (the loser sees rowcount 0 and draws again from fresh counts),
and a release never drives the counter below zero.  The HA rows are read
with a Core select, so the counts are current even inside a long bulk-import
transaction whose ORM identity map holds older copies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Collection

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import domain, rules
from ..store.models import HomeAgent
from . import views

MAX_TRIES = 8
"""Draws before giving up when other writers keep taking the chosen HA's last slot."""


def claim(session: Session, ha_id: int, n: int = 1) -> bool:
    """Take ``n`` slots on HA ``ha_id`` at once; False (none taken) when they do not all fit
    or it is no longer active.  Bulk import claims a whole batch's slots of one HA so."""
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
    """Give back ``n`` slots on HA ``ha_id`` (never below zero)."""
    session.execute(
        update(HomeAgent)
        .where(HomeAgent.id == ha_id, HomeAgent.assigned >= n)
        .values(assigned=HomeAgent.assigned - n)
        .execution_options(synchronize_session=False)
    )


def agents_of(session: Session, network_id: int, network_domain: str) -> list[domain.HomeAgent]:
    """Every HA of one network with its current counters (Core read, no identity map)."""
    table = HomeAgent.__table__
    rows = session.execute(select(table).where(table.c.network_id == network_id))
    return [views.home_agent_values(r._mapping, network_domain) for r in rows]


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of :func:`claim_best`."""

    home_agent: domain.HomeAgent | None
    """The HA whose slot was taken (with its new load), or None."""
    agents: list[domain.HomeAgent]
    """The HAs of the network as last read."""
    contended: bool = False
    """True when live HAs had room but other writers took it on every draw."""


def claim_best(
    session: Session,
    network_id: int,
    network_domain: str,
    now: dt.datetime,
    timeout: dt.timedelta,
    rng: random.Random,
    exclude: Collection[int] = (),
) -> Claim:
    """Claim a slot on the best live HA of the network outside ``exclude`` (:func:`rules.best`)."""
    agents: list[domain.HomeAgent] = []
    for _ in range(MAX_TRIES):
        agents = agents_of(session, network_id, network_domain)
        best = rules.best([h for h in agents if h.id not in exclude], now, timeout, rng)
        if best is None:
            return Claim(None, agents)
        if claim(session, best.id):
            return Claim(dataclasses.replace(best, assigned=best.assigned + 1), agents)
    return Claim(None, agents, contended=True)


def move_best(
    session: Session,
    from_id: int,
    network_id: int,
    network_domain: str,
    now: dt.datetime,
    timeout: dt.timedelta,
    rng: random.Random,
) -> domain.HomeAgent | None:
    """Move one slot from HA ``from_id`` to the best other live HA; None if none can take it."""
    got = claim_best(session, network_id, network_domain, now, timeout, rng, (from_id,))
    if got.home_agent is not None:
        release(session, from_id)
    return got.home_agent
