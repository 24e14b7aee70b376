"""Schema migrations: Alembic driven from code, never at service start.

``bootstrapctl db upgrade`` applies pending revisions.  Services only check
(:func:`ensure_current`) and refuse to start on an out-of-date schema, so that
several HA hosts sharing one PostgreSQL never race to migrate it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from .errors import SchemaOutOfDate
from .store.engine import Store

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_REV = re.compile(r"^revision(?:: *[\w\[\], |]+)? *= *['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision(?:: *[\w\[\], |]+)? *= *(.+)$", re.M)


def alembic_config(store: Store) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return cfg


def head_revision(store: Store | None = None) -> str | None:
    """The newest revision of ``migrations/versions``.

    Read from the revision files' ``revision`` / ``down_revision`` lines
    rather than through Alembic, because importing Alembic costs a third of
    a second on every CLI call; a test checks both agree.
    """
    revs: set[str] = set()
    downs: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        src = path.read_text(encoding="utf-8")
        rev = _REV.search(src)
        if rev is None:
            continue
        revs.add(rev.group(1))
        down = _DOWN.search(src)
        if down is not None:
            downs.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = sorted(revs - downs)
    if len(heads) > 1:
        raise SchemaOutOfDate(f"the migrations have several heads ({', '.join(heads)}); merge them")
    return heads[0] if heads else None


def current_revision(store: Store) -> str | None:
    """The revision stamped in the database, or None for an empty one."""
    with store.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(store: Store, target: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``target``; returns (before, after) revisions."""
    from alembic import command

    before = current_revision(store)
    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before, current_revision(store)


def downgrade(store: Store, target: str) -> None:
    from alembic import command

    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def ensure_current(store: Store) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at head."""
    cur, head = current_revision(store), head_revision(store)
    if cur != head:
        where = "is empty" if cur is None else f"is at revision {cur}, the code needs {head}"
        raise SchemaOutOfDate(
            f"the store schema {where}; run 'bootstrapctl db upgrade' to bring it up to date"
        )
