"""Fixtures of the DNS publisher tests: a real named on loopback and [dns] settings.

Stores come from the shared ``tests/conftest.py`` (``store`` runs a test on
SQLite and on PostgreSQL); tests of paths that do not depend on the backend
use ``sq_settings`` (SQLite only) to stay within the time budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.config import Settings
from bootstrap.store.engine import Store
from tests.support.dns import base_settings, with_dns
from tests.support.named import Named


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Named]:
    """A fresh named with our zones, TSIG key and update-policy; stopped afterwards."""
    n = Named(tmp_path / "named")
    try:
        n.start()
        yield n
    finally:
        n.stop()


@pytest.fixture
def dns_settings(settings: Settings, named: Named) -> Settings:
    """[dns] pointing at ``named``, database = the parametrized ``store``."""
    return with_dns(settings, named)


@pytest.fixture
def sq_settings(sqlite_store: Store, tmp_path: Path, named: Named) -> Settings:
    """[dns] pointing at ``named``, database = ``sqlite_store``."""
    return with_dns(base_settings(tmp_path, sqlite_store.url), named)
