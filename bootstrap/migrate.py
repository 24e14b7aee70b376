"""Schema migrations: Alembic driven from code, never at service start.

``bootstrapctl db upgrade`` applies pending revisions.  Services only check
(:func:`ensure_current`) and refuse to start on an out-of-date schema, so that
several HA hosts sharing one PostgreSQL never race to migrate it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .errors import SchemaOutOfDate
from .store.engine import Store

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(store: Store) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return cfg


def head_revision(store: Store) -> str | None:
    return ScriptDirectory.from_config(alembic_config(store)).get_current_head()


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, target: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to ``target``; returns (before, after) revisions."""
    before = current_revision(store)
    cfg = alembic_config(store)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)
    return before, current_revision(store)


def downgrade(store: Store, target: str) -> None:
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
