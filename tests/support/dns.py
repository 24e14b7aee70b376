"""Helpers shared by the DNS tests (plain functions; fixtures are in conftest.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bootstrap import config
from bootstrap.config import DnsConfig, Settings
from bootstrap.services import home_agents, networks
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from dns_updater.publisher import DrainResult
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.named import Named

ACTOR = Actor("pytest", "cli")


def base_settings(tmp_path: Path, url: str) -> Settings:
    s = config.from_mapping({}, tmp_path, "test")
    return dataclasses.replace(s, database=dataclasses.replace(s.database, url=url))


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


def setup_network(store: Store, settings: Settings, zones: tuple[str, ...]) -> None:
    networks.add(store, ACTOR, "example.com", "2001:db8:1::/64", "192.0.2.0/24", zones=zones)
    home_agents.add(store, ACTOR, "ha1.example.com", "example.com", "2001:db8:1::1",
                    settings=settings)


async def flush(store: Store, settings: Settings) -> DrainResult:
    pub = make_publisher(from_settings(settings), store)
    try:
        return await pub.flush()
    finally:
        await pub.close()
