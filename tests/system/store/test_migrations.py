"""Migrations build the whole schema on both backends and come back down cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bootstrap import migrate
from bootstrap.errors import SchemaOutOfDate
from bootstrap.store.engine import Store
from bootstrap.store.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'm.db'}")
    url = request.getfixturevalue("pg_url")
    return Store(url)


def test_upgrade_downgrade_upgrade(empty_store: Store) -> None:
    store = empty_store
    with pytest.raises(SchemaOutOfDate, match="bootstrapctl db upgrade"):
        migrate.ensure_current(store)
    before, after = migrate.upgrade(store)
    assert before is None and after == migrate.head_revision(store)
    migrate.ensure_current(store)
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    migrate.downgrade(store, "base")
    left = set(inspect(store.engine).get_table_names()) - {"alembic_version"}
    assert left == set()
    assert migrate.current_revision(store) is None
    migrate.upgrade(store)
    assert migrate.current_revision(store) == migrate.head_revision(store)
    store.dispose()


def test_models_match_migrations(empty_store: Store) -> None:
    """The ORM schema and the migrated schema do not drift apart."""
    store = empty_store
    migrate.upgrade(store)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    store.dispose()


def test_fast_head_lookup_agrees_with_alembic(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    script = ScriptDirectory.from_config(migrate.alembic_config(store))
    assert migrate.head_revision(store) == script.get_current_head()
