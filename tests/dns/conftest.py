"""Fixtures of the DNS publisher tests: a real named on loopback and [dns] settings.

Stores come from the shared ``tests/conftest.py`` (``store`` runs each test on
SQLite and on PostgreSQL).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from bind_named import Named

from bootstrap.config import DnsConfig, Settings


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Named]:
    """A fresh named with our zones, TSIG key and update-policy; stopped afterwards."""
    n = Named(tmp_path / "named")
    try:
        n.start()
        yield n
    finally:
        n.stop()


def with_dns(settings: Settings, named: Named, **dns: object) -> Settings:
    """``settings`` whose [dns] section points at ``named`` with test-sized timers."""
    base: dict[str, object] = {
        "enabled": True,
        "server": named.server,
        "tsig_key_file": str(named.key_file),
        "timeout": 3.0,
        "backoff_initial": 0.2,
        "backoff_cap": 1.0,
        "poll_interval": 0.05,
    }
    base.update(dns)
    return dataclasses.replace(settings, dns=DnsConfig(**base))  # type: ignore[arg-type]


@pytest.fixture
def dns_settings(settings: Settings, named: Named) -> Settings:
    return with_dns(settings, named)
