"""End to end against a real named: enroll/revoke/drain reach DNS through the outbox."""

from __future__ import annotations

from bootstrap.config import Settings
from bootstrap.domain import HAState
from bootstrap.services import dnsoutbox, home_agents, networks, subscribers
from bootstrap.store.engine import Store
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.dns import ACTOR
from tests.support.named import FORWARD, REVERSE4, REVERSE6, Named

SRV = "_mip6._ipv6.example.com."


def add_network(store: Store, settings: Settings) -> None:
    networks.add(
        store, ACTOR, "example.com", "2001:db8:1::/64", "192.0.2.0/24",
        zones=(FORWARD, REVERSE6, REVERSE4),
    )
    home_agents.add(store, ACTOR, "ha1.example.com", "example.com", "2001:db8:1::1",
                    "192.0.2.1", priority=10, weight=60, settings=settings)
    home_agents.add(store, ACTOR, "ha2.example.com", "example.com", "2001:db8:1::2",
                    priority=20, weight=40, settings=settings)


async def flush(store: Store, settings: Settings) -> None:
    pub = make_publisher(from_settings(settings), store)
    try:
        res = await pub.flush()
    finally:
        await pub.close()
    assert res.failed == 0, res.errors
    assert dnsoutbox.pending_count(store) == 0


async def test_enroll_then_revoke_and_drain(store: Store, dns_settings: Settings,
                                            named: Named) -> None:
    add_network(store, dns_settings)
    e = subscribers.enroll(store, dns_settings, ACTOR, "alice@example.com", ipv4=True)
    hoa = str(e.subscriber.hoas[0])
    hoa4 = str(e.subscriber.hoa4)
    await flush(store, dns_settings)

    assert named.dig(SRV, "SRV") == [
        "10 60 0 ha1.example.com.", "20 40 0 ha2.example.com."
    ]
    assert named.dig("ha1.example.com", "AAAA") == ["2001:db8:1::1"]
    assert named.dig("ha1.example.com", "A") == ["192.0.2.1"]
    assert named.query("alice.example.com.", "AAAA") == [hoa]
    assert named.query("alice.example.com.", "A") == [hoa4]
    assert named.dig(e.subscriber.hoas[0].reverse_pointer, "PTR") == ["alice.example.com."]
    assert named.dig(e.subscriber.hoa4.reverse_pointer, "PTR") == ["alice.example.com."]  # type: ignore[union-attr]

    subscribers.revoke(store, dns_settings, ACTOR, "alice@example.com")
    home_agents.drain(store, ACTOR, "ha2.example.com", settings=dns_settings)
    await flush(store, dns_settings)

    assert named.query("alice.example.com.", "AAAA") == []
    assert named.query("alice.example.com.", "A") == []
    assert named.dig(e.subscriber.hoas[0].reverse_pointer, "PTR") == []
    assert named.dig(SRV, "SRV") == ["10 60 0 ha1.example.com."]
    # a draining HA keeps its address (its subscribers still reach it); operator data stays
    assert named.dig("ha2.example.com", "AAAA") == ["2001:db8:1::2"]
    assert named.dig("www.example.com", "AAAA") == ["2001:db8::80"]

    home_agents.set_state(store, ACTOR, "ha2.example.com", HAState.DOWN, dns_settings)
    await flush(store, dns_settings)
    assert named.dig("ha2.example.com", "AAAA") == []
    assert named.dig(SRV, "SRV") == ["10 60 0 ha1.example.com."]
