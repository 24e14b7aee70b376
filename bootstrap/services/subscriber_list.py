"""The subscriber list query: filters, sorting and pages, for the UI, the API and the CLI.

One :class:`Query` describes what an operator asked for (network, home
agent, state, authentication, a search text, a sort column and direction,
a page and its size); :func:`page` answers it with one page and the total
that match, :func:`identities` with every matching identity (bulk actions)
and :func:`rows` streams the matches in batches (CSV export).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from .. import domain
from ..errors import ValidationError
from ..store.engine import Store
from ..store.models import HomeAgent, Network, Subscriber
from . import lookups, networks, views

SORTS = ("identity", "fqdn", "network", "home_agent", "state", "auth", "created")
PAGE_SIZES = (25, 50, 100, 200)
MAX_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Query:
    network: str | None = None
    home_agent: str | None = None
    state: str | None = None
    auth: str | None = None
    search: str | None = None
    sort: str = "identity"
    descending: bool = False
    page: int = 1
    size: int = 50
    start: int | None = None
    """Rows to skip, when the caller counts in rows (the API's ``offset``) not pages."""

    def checked(self) -> Query:
        """This query with its values checked (one sentence naming the field otherwise)."""
        if self.state is not None:
            _choice("state", self.state, [s.value for s in domain.SubscriberState])
        if self.auth is not None:
            _choice("auth", self.auth, [a.value for a in domain.AuthMethod])
        _choice("sort", self.sort, SORTS)
        if self.page < 1:
            raise ValidationError(f"page must be at least 1, not {self.page}")
        if self.start is not None and self.start < 0:
            raise ValidationError(f"offset must be at least 0, not {self.start}")
        if not 1 <= self.size <= MAX_SIZE:
            raise ValidationError(f"size must be between 1 and {MAX_SIZE}, not {self.size}")
        search = self.search.strip() if self.search else None
        return replace(self, search=search or None,
                       network=_name(self.network), home_agent=_name(self.home_agent))

    @property
    def offset(self) -> int:
        return self.start if self.start is not None else (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page:
    items: list[domain.Subscriber]
    total: int
    query: Query

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.size))


def _choice(name: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise ValidationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _name(value: str | None) -> str | None:
    return value.strip().lower().rstrip(".") or None if value else None


def _like(text: str) -> str:
    """A LIKE pattern matching ``text`` literally anywhere ('%' and '_' are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(q: Query) -> Select[Any]:
    stmt = select(Subscriber)
    if q.network is not None:
        stmt = stmt.where(
            Subscriber.network_id == select(Network.id).where(Network.domain == q.network)
            .scalar_subquery()
        )
    if q.home_agent is not None:
        stmt = stmt.where(
            Subscriber.home_agent_id == select(HomeAgent.id).where(HomeAgent.fqdn == q.home_agent)
            .scalar_subquery()
        )
    if q.state is not None:
        stmt = stmt.where(Subscriber.state == q.state)
    if q.auth is not None:
        stmt = stmt.where(Subscriber.auth == q.auth)
    if q.search:
        like = _like(q.search)
        stmt = stmt.where(or_(Subscriber.identity.like(like, escape="\\"),
                              Subscriber.fqdn.like(like, escape="\\")))
    return stmt


def _ordered(stmt: Select[Any], q: Query) -> Select[Any]:
    column = {
        "identity": Subscriber.identity,
        "fqdn": Subscriber.fqdn,
        "state": Subscriber.state,
        "auth": Subscriber.auth,
        "created": Subscriber.id,
        "network": Network.domain,
        "home_agent": HomeAgent.fqdn,
    }[q.sort]
    if q.sort == "network":
        stmt = stmt.join(Network, Network.id == Subscriber.network_id)
    elif q.sort == "home_agent":
        stmt = stmt.outerjoin(HomeAgent, HomeAgent.id == Subscriber.home_agent_id)
    first = column.desc() if q.descending else column.asc()
    if q.sort in ("identity", "fqdn", "created"):
        return stmt.order_by(first)
    tie = Subscriber.identity.desc() if q.descending else Subscriber.identity.asc()
    return stmt.order_by(first, tie)


def _networks_exist(store: Store, q: Query) -> None:
    with store.session() as s:
        if q.network is not None:
            networks.row_by_domain(s, q.network)
        if q.home_agent is not None:
            lookups.home_agent(s, q.home_agent)


def page(store: Store, query: Query) -> Page:
    """One page of the subscribers that match ``query`` and how many match in all.

    The page's keys come first (from the sort column's index where there is one: no row
    is read for the rows the offset skips), the rows of the page only after; a search,
    which no index serves, yields its page and its total in one scan.
    """
    q = query.checked()
    _networks_exist(store, q)
    base = _filtered(q)
    # identities, not ids: the default order (identity) is then an index-only scan
    keys = _ordered(base, q).with_only_columns(Subscriber.identity).limit(q.size).offset(q.offset)
    with store.session() as s:
        total: int | None = None
        if q.search:
            got = s.execute(keys.add_columns(func.count().over())).all()
            ids = [r[0] for r in got]
            total = int(got[0][1]) if got else None
        else:
            ids = list(s.scalars(keys))
        if total is None:
            total = int(s.scalar(
                base.with_only_columns(func.count(), maintain_column_froms=True)
            ) or 0)
        rows = {
            r.identity: r
            for r in s.scalars(
                select(Subscriber).where(Subscriber.identity.in_(ids)).options(
                    selectinload(Subscriber.addresses),
                    selectinload(Subscriber.network),
                    selectinload(Subscriber.home_agent),
                )
            )
        }
        items = [
            views.subscriber(
                r, r.network.domain, r.home_agent.fqdn if r.home_agent else None,
                list(r.addresses),
            )
            for r in (rows[i] for i in ids if i in rows)
        ]
    return Page(items, total, q)


def identities(store: Store, query: Query, limit: int) -> list[str]:
    """Up to ``limit`` identities matching ``query`` (in its order, ignoring its page)."""
    q = query.checked()
    _networks_exist(store, q)
    stmt = _ordered(_filtered(q), q).with_only_columns(Subscriber.identity).limit(limit)
    with store.session() as s:
        return list(s.scalars(stmt))


def rows(store: Store, query: Query, batch: int = 2000) -> Iterator[list[domain.Subscriber]]:
    """Every match in ``query``'s order, ``batch`` at a time (keyset by id: stable, O(n))."""
    q = query.checked()
    _networks_exist(store, q)
    last = 0
    while True:
        stmt = (
            _filtered(q).where(Subscriber.id > last).order_by(Subscriber.id).limit(batch)
            .options(selectinload(Subscriber.network))
        )
        with store.session() as s:
            found = [
                views.subscriber(r, r.network.domain, None, []) for r in s.scalars(stmt)
            ]
        if not found:
            return
        last = found[-1].id
        yield found
