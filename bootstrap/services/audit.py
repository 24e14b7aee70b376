"""The audit log: one row per operator or service action, never secrets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ..store.engine import Store
from ..store.models import AuditLog
from .actor import Actor


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: dt.datetime
    actor: str
    source: str
    action: str
    target: str
    detail: dict[str, Any]


def record(session: Session, actor: Actor, action: str, target: str, **detail: Any) -> None:
    """Append one entry in the caller's transaction."""
    session.add(
        AuditLog(actor=actor.name, source=actor.source, action=action, target=target, detail=detail)
    )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """What the audit page filters by (each optional): exact action or its prefix
    (``subscriber.`` matches every subscriber action), operator, source, target, time window."""

    action: str | None = None
    actor: str | None = None
    source: str | None = None
    target: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


SOURCES = ("ui", "api", "cli", "daemon")


def search(store: Store, q: AuditQuery, limit: int = 50, offset: int = 0) -> list[AuditEntry]:
    """Newest first, filtered by ``q``."""
    stmt = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
    if q.action:
        if q.action.endswith("."):
            stmt = stmt.where(AuditLog.action.startswith(q.action, autoescape=True))
        else:
            stmt = stmt.where(AuditLog.action == q.action)
    if q.actor:
        stmt = stmt.where(AuditLog.actor == q.actor)
    if q.source:
        stmt = stmt.where(AuditLog.source == q.source)
    if q.target:
        stmt = stmt.where(AuditLog.target == q.target)
    if q.since is not None:
        stmt = stmt.where(AuditLog.at >= q.since)
    if q.until is not None:
        stmt = stmt.where(AuditLog.at < q.until)
    with store.session() as s:
        return [
            AuditEntry(r.id, r.at, r.actor, r.source, r.action, r.target, dict(r.detail or {}))
            for r in s.scalars(stmt)
        ]


def values(
    actor: Actor, action: str, target: str, at: dt.datetime, **detail: Any
) -> dict[str, Any]:
    """The column values of one entry, for writers that insert many at once (bulk import)."""
    return {
        "at": at,
        "actor": actor.name,
        "source": actor.source,
        "action": action,
        "target": target,
        "detail": detail,
    }


def table() -> Table:
    """The audit table, for ``insert(table())`` with a list of :func:`values`."""
    return AuditLog.__table__  # type: ignore[return-value]


def recent(
    store: Store, limit: int = 100, offset: int = 0, target: str | None = None
) -> list[AuditEntry]:
    """Newest first."""
    with store.session() as s:
        q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit).offset(offset)
        if target is not None:
            q = q.where(AuditLog.target == target)
        return [
            AuditEntry(r.id, r.at, r.actor, r.source, r.action, r.target, dict(r.detail or {}))
            for r in s.scalars(q)
        ]
