"""``[dns] publish = "registration"``: an MN is in DNS only while it has a live binding."""

from __future__ import annotations

import asyncio
import dataclasses

from bootstrap.config import Settings
from bootstrap.services import bindings, subscribers
from bootstrap.store.engine import Store
from dns_updater.reconcile import reconcile
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.dns import ACTOR, flush, setup_network
from tests.support.named import FORWARD, REVERSE6, Named


async def check(store: Store, settings: Settings) -> list[tuple[str, str]]:
    pub = make_publisher(from_settings(settings), store)
    try:
        rep = await reconcile(pub, dry_run=True)
    finally:
        await pub.close()
    return [(d.name, d.rdtype) for d in rep.differences]


async def test_binding_up_and_down_drive_the_records(
    sqlite_store: Store, sq_settings: Settings, named: Named
) -> None:
    cfg = dataclasses.replace(
        sq_settings, dns=dataclasses.replace(sq_settings.dns, publish="registration")
    )
    setup_network(sqlite_store, cfg, (FORWARD, REVERSE6))
    sub = subscribers.enroll(sqlite_store, cfg, ACTOR, "bob@example.com").subscriber
    hoa = str(sub.hoas[0])
    assert (await flush(sqlite_store, cfg)).failed == 0
    assert named.query("bob.example.com.", "AAAA") == []
    assert await check(sqlite_store, cfg) == []  # not registered: nothing is wanted

    sa = bindings.LiveSa("7", "bob@example.com", "198.51.100.7", 4500, (hoa,))
    await asyncio.to_thread(bindings.sa_up, sqlite_store, "ha1.example.com", sa, True)
    assert (await flush(sqlite_store, cfg)).failed == 0
    assert named.query("bob.example.com.", "AAAA") == [hoa]
    assert named.dig(sub.hoas[0].reverse_pointer, "PTR") == ["bob.example.com."]
    assert await check(sqlite_store, cfg) == []  # registered and published: in sync

    await asyncio.to_thread(bindings.sa_down, sqlite_store, "ha1.example.com", "7", True)
    assert (await flush(sqlite_store, cfg)).failed == 0
    assert named.query("bob.example.com.", "AAAA") == []
    assert await check(sqlite_store, cfg) == []
