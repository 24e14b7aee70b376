"""Enrollment, state changes and HA choice through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import random

import pytest
from cryptography import x509
from sqlalchemy import func, select

from bootstrap.config import Settings
from bootstrap.errors import Conflict, Exhausted, NotFound, ValidationError
from bootstrap.services import (
    allocation,
    audit,
    credentials,
    home_agents,
    networks,
    snapshot,
    subscribers,
    versions,
)
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox, HomeAddress, Subscriber
from tests.support.store import TEST_ACTOR, add_example

PREFIX = ipaddress.IPv6Network("2001:db8:1::/64")


def test_enroll_gives_hoa_ha_and_secret(example_store: Store, settings: Settings) -> None:
    e = subscribers.enroll(example_store, settings, TEST_ACTOR, "mn@example.com")
    sub = e.subscriber
    assert sub.fqdn == "mn.example.com" and sub.network == "example.com"
    assert e.home_agent.fqdn == "ha1.example.com" and sub.home_agent == "ha1.example.com"
    assert len(sub.hoas) == 1 and sub.hoas[0] in PREFIX
    assert sub.hoas[0] != ipaddress.IPv6Address("2001:db8:1::1")
    assert e.secret and len(e.secret) >= 20
    with example_store.session() as s:
        row = s.scalars(select(Subscriber)).one()
        assert row.secret_enc and e.secret.encode() not in row.secret_enc
        assert credentials.decrypt_secret(settings, row.secret_enc) == e.secret
    assert oct(os.stat(settings.store.secret_key_file).st_mode & 0o777) == "0o600"
    again = subscribers.get(example_store, "mn@example.com")
    assert again.hoas == sub.hoas
    assert home_agents.get(example_store, "ha1.example.com").assigned == 1
    entries = audit.recent(example_store, target="mn@example.com")
    assert entries[0].action == "subscriber.enroll" and entries[0].actor == "pytest"
    assert e.secret not in repr(entries[0].detail)


def test_duplicate_unknown_and_bad_input(example_store: Store, settings: Settings) -> None:
    subscribers.enroll(example_store, settings, TEST_ACTOR, "mn@example.com")
    with pytest.raises(Conflict, match="already enrolled"):
        subscribers.enroll(example_store, settings, TEST_ACTOR, "mn@example.com")
    with pytest.raises(Conflict, match="fqdn"):
        subscribers.enroll(
            example_store, settings, TEST_ACTOR, "other@example.com", fqdn="mn.example.com"
        )
    with pytest.raises(NotFound, match="network 'example.org'"):
        subscribers.enroll(example_store, settings, TEST_ACTOR, "mn@example.org")
    with pytest.raises(NotFound, match="does not exist"):
        subscribers.get(example_store, "ghost@example.com")
    with pytest.raises(ValidationError, match="identity"):
        subscribers.enroll(example_store, settings, TEST_ACTOR, "not-an-identity")
    with example_store.session() as s:
        assert s.scalar(select(func.count(Subscriber.id))) == 1


def test_ipv4_hoas_are_unique_and_pool_runs_out(store: Store, settings: Settings) -> None:
    add_example(
        store,
        settings,
        ipv4_pool="192.0.2.0/29",
        agents=(("ha1.example.com", "2001:db8:1::1", "192.0.2.1"),),
    )
    got = set()
    for i in range(5):  # /29 has 6 hosts, one is the HA's
        e = subscribers.enroll(store, settings, TEST_ACTOR, f"mn{i}@example.com", ipv4=True)
        assert e.subscriber.hoa4 is not None
        assert e.subscriber.hoa4 in ipaddress.IPv4Network("192.0.2.0/29")
        got.add(e.subscriber.hoa4)
    assert len(got) == 5 and ipaddress.IPv4Address("192.0.2.1") not in got
    with pytest.raises(Exhausted, match="IPv4"):
        subscribers.enroll(store, settings, TEST_ACTOR, "mn9@example.com", ipv4=True)
    # the failed enrollment left nothing behind
    with store.session() as s:
        assert s.scalar(select(func.count(Subscriber.id))) == 5


def test_ha_choice_skips_drained_and_full_and_follows_priority(
    store: Store, settings: Settings
) -> None:
    networks.add(store, TEST_ACTOR, "example.com", "2001:db8:1::/64")
    home_agents.add(
        store,
        TEST_ACTOR,
        "ha1.example.com",
        "example.com",
        "2001:db8:1::1",
        priority=10,
        capacity=2,
    )
    home_agents.add(
        store, TEST_ACTOR, "ha2.example.com", "example.com", "2001:db8:1::2", priority=20
    )
    home_agents.add(
        store, TEST_ACTOR, "ha3.example.com", "example.com", "2001:db8:1::3", priority=5
    )
    home_agents.drain(store, TEST_ACTOR, "ha3.example.com")
    chosen = [
        subscribers.enroll(store, settings, TEST_ACTOR, f"mn{i}@example.com").home_agent.fqdn
        for i in range(4)
    ]
    assert chosen == ["ha1.example.com", "ha1.example.com", "ha2.example.com", "ha2.example.com"]
    home_agents.drain(store, TEST_ACTOR, "ha2.example.com")
    with pytest.raises(Exhausted, match="no live home agent"):
        subscribers.enroll(store, settings, TEST_ACTOR, "late@example.com")
    home_agents.activate(store, TEST_ACTOR, "ha3.example.com")
    assert (
        subscribers.enroll(store, settings, TEST_ACTOR, "late@example.com").home_agent.fqdn
        == "ha3.example.com"
    )


def test_stale_heartbeat_makes_ha_not_live(store: Store, settings: Settings) -> None:
    add_example(
        store,
        settings,
        agents=(
            ("ha1.example.com", "2001:db8:1::1", None),
            ("ha2.example.com", "2001:db8:1::2", None),
        ),
    )
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    home_agents.heartbeat(store, "ha1.example.com", old)
    home_agents.heartbeat(store, "ha2.example.com")
    for i in range(5):
        e = subscribers.enroll(store, settings, TEST_ACTOR, f"mn{i}@example.com")
        assert e.home_agent.fqdn == "ha2.example.com"


def test_suspend_resume_revoke_and_outbox(store: Store, settings: Settings) -> None:
    add_example(store, settings, zones=("example.com", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"))
    e = subscribers.enroll(store, settings, TEST_ACTOR, "mn@example.com", ipv4=True)
    hoa = str(e.subscriber.hoas[0])

    def rows(name: str) -> list[tuple[str | None, str, list[str]]]:
        with store.session() as s:
            q = select(DnsOutbox).where(DnsOutbox.name == name).order_by(DnsOutbox.id)
            return [(r.zone, r.rdtype, list(r.rdatas)) for r in s.scalars(q)]

    assert rows("mn.example.com.") == [
        ("example.com.", "AAAA", [hoa]),
        ("example.com.", "A", [str(e.subscriber.hoa4)]),
    ]
    v = versions.current(store)["subscribers"]
    assert (
        subscribers.suspend(store, settings, TEST_ACTOR, "mn@example.com").state.value
        == "suspended"
    )
    assert versions.current(store)["subscribers"] == v + 1
    assert rows("mn.example.com.")[-2:] == [("example.com.", "AAAA", []), ("example.com.", "A", [])]
    with pytest.raises(Conflict, match="already suspended"):
        subscribers.suspend(store, settings, TEST_ACTOR, "mn@example.com")
    subscribers.resume(store, settings, TEST_ACTOR, "mn@example.com")
    assert rows("mn.example.com.")[-2][2] == [hoa]
    revoked = subscribers.revoke(store, settings, TEST_ACTOR, "mn@example.com")
    assert revoked.hoas == () and revoked.home_agent is None and revoked.hoa4 is None
    assert rows("mn.example.com.")[-2:] == [("example.com.", "AAAA", []), ("example.com.", "A", [])]
    assert home_agents.get(store, "ha1.example.com").assigned == 0
    with pytest.raises(Conflict, match="cannot be made active"):
        subscribers.resume(store, settings, TEST_ACTOR, "mn@example.com")
    with store.session() as s:
        row = s.scalars(select(Subscriber)).one()
        assert row.secret_enc is None  # credentials destroyed


def test_revoked_hoa_is_quarantined(store: Store, settings: Settings) -> None:
    add_example(store, settings)
    e = subscribers.enroll(store, settings, TEST_ACTOR, "mn@example.com")
    old = e.subscriber.hoas[0]
    subscribers.revoke(store, settings, TEST_ACTOR, "mn@example.com")

    class Replay(random.Random):
        """Offers the revoked address first, then random ones."""

        def __init__(self) -> None:
            super().__init__(3)
            self.first = True

        def getrandbits(self, k: int) -> int:
            if self.first:
                self.first = False
                return int(old) & ((1 << k) - 1)
            return super().getrandbits(k)

    net = networks.get(store, "example.com")
    with store.session() as s:
        got = allocation.allocate_v6(s, net.id, net.prefix, e.subscriber.id, rng=Replay())
        s.rollback()
    assert got != old
    # once the quarantine is over the address is free again
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=settings.store.hoa_quarantine_days + 1)
    assert allocation.release_quarantined(store, later) == 1
    with store.session() as s:
        assert s.scalars(select(HomeAddress).where(HomeAddress.address == str(old))).first() is None


def test_cert_enrollment_issues_a_certificate_for_the_identity(
    store: Store, settings: Settings
) -> None:
    add_example(store, settings)
    with pytest.raises(NotFound, match="ca init"):
        subscribers.enroll(store, settings, TEST_ACTOR, "mn@example.com", auth="cert")
    credentials.ca_init(store, settings)
    with pytest.raises(Conflict):
        credentials.ca_init(store, settings)
    e = subscribers.enroll(store, settings, TEST_ACTOR, "mn@example.com", auth="cert")
    assert e.secret is None and e.cert_path and e.key_path and e.ca_path
    assert oct(os.stat(e.key_path).st_mode & 0o777) == "0o600"
    cert = x509.load_pem_x509_certificate(e.cert_path.read_bytes())
    ca = x509.load_pem_x509_certificate(e.ca_path.read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["mn@example.com"]
    assert san.get_values_for_type(x509.DNSName) == ["mn.example.com"]


def test_snapshot_follows_topology_version(example_store: Store, settings: Settings) -> None:
    follower = snapshot.SnapshotFollower(example_store, interval=0.01, max_age=3600)
    assert [h.fqdn for h in follower.snapshot.home_agents] == ["ha1.example.com"]
    assert follower.refresh() is False  # nothing changed: no rebuild
    home_agents.drain(example_store, TEST_ACTOR, "ha1.example.com")
    assert follower.refresh() is True
    assert follower.snapshot.home_agents[0].state.value == "draining"
    subscribers_before = follower.snapshot.version
    networks.add(example_store, TEST_ACTOR, "example.net", "2001:db8:2::/64")
    follower.refresh()
    assert follower.snapshot.version > subscribers_before
    assert "example.net" in follower.snapshot.by_domain


def test_overlapping_networks_and_bad_ha_address(store: Store, settings: Settings) -> None:
    add_example(store, settings)
    with pytest.raises(Conflict, match="overlaps"):
        networks.add(store, TEST_ACTOR, "example.net", "2001:db8:1::/48")
    with pytest.raises(Conflict, match="overlaps"):
        networks.add(store, TEST_ACTOR, "example.net", "2001:db8:2::/64", "192.0.2.128/25")
    with pytest.raises(ValidationError, match="not inside"):
        home_agents.add(store, TEST_ACTOR, "ha9.example.com", "example.com", "2001:db8:9::1")
    with pytest.raises(ValidationError, match="reserved anycast"):
        home_agents.add(store, TEST_ACTOR, "ha9.example.com", "example.com", "2001:db8:1::")
    h = home_agents.add(
        store,
        TEST_ACTOR,
        "ha9.example.com",
        "example.com",
        "2001:db8:9::1",
        allow_outside_prefix=True,
    )
    assert h.address == ipaddress.IPv6Address("2001:db8:9::1")
    with pytest.raises(Conflict, match="already exists"):
        home_agents.add(store, TEST_ACTOR, "ha9.example.com", "example.com", "2001:db8:1::99")


def test_drain_moves_subscribers_to_the_other_live_ha(store: Store, settings: Settings) -> None:
    add_example(
        store,
        settings,
        agents=(
            ("ha1.example.com", "2001:db8:1::1", None),
            ("ha2.example.com", "2001:db8:1::2", None),
        ),
    )
    home_agents.drain(store, TEST_ACTOR, "ha2.example.com", settings)
    hoas = {}
    for i in range(4):
        e = subscribers.enroll(store, settings, TEST_ACTOR, f"mn{i}@example.com")
        assert e.home_agent.fqdn == "ha1.example.com"
        hoas[e.subscriber.identity] = e.subscriber.hoas
    home_agents.activate(store, TEST_ACTOR, "ha2.example.com", settings)
    drained = home_agents.drain(store, TEST_ACTOR, "ha1.example.com", settings)
    assert drained.assigned == 0
    assert home_agents.get(store, "ha2.example.com").assigned == 4
    for ident, before in hoas.items():
        sub = subscribers.get(store, ident)
        assert sub.home_agent == "ha2.example.com" and sub.hoas == before  # HoA stays
