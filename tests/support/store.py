"""Store helpers shared by the test areas: settings for a store URL and an example network."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bootstrap import config
from bootstrap.config import Settings
from bootstrap.services import home_agents, networks
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store

TEST_ACTOR = Actor("pytest", "cli")


def make_settings(tmp_path: Path, url: str) -> Settings:
    s = config.from_mapping({}, tmp_path, "test")
    return dataclasses.replace(s, database=dataclasses.replace(s.database, url=url))


def add_example(
    store: Store,
    settings: Settings | None = None,
    domain: str = "example.com",
    prefix: str = "2001:db8:1::/64",
    ipv4_pool: str | None = "192.0.2.0/24",
    zones: tuple[str, ...] = (),
    agents: tuple[tuple[str, str, str | None], ...] = (
        ("ha1.example.com", "2001:db8:1::1", "192.0.2.1"),
    ),
) -> None:
    """An example network with its home agents, through the service layer."""
    networks.add(store, TEST_ACTOR, domain, prefix, ipv4_pool, zones)
    for fqdn, addr, v4 in agents:
        home_agents.add(store, TEST_ACTOR, fqdn, domain, addr, v4, settings=settings)
