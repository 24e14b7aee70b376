"""Pure rules: HoA interface identifiers, HA ranking, DNS record content, validation."""

from __future__ import annotations

import datetime as dt
import ipaddress
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bootstrap import dnsrecords, rules
from bootstrap.domain import (
    AuthMethod,
    HAState,
    HomeAgent,
    HomeNetwork,
    Subscriber,
    SubscriberState,
)
from bootstrap.errors import ValidationError
from bootstrap.services import allocation, validate

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(seconds=90)
P64 = ipaddress.IPv6Network("2001:db8:1::/64")


def ha(
    name: str,
    prio: int = 10,
    weight: int = 100,
    cap: int = 100,
    used: int = 0,
    state: HAState = HAState.ACTIVE,
    beat: dt.datetime | None = None,
) -> HomeAgent:
    return HomeAgent(
        id=hash(name) & 0xFFFF,
        fqdn=name,
        address=ipaddress.IPv6Address("2001:db8:1::1"),
        network_id=1,
        network="example.com",
        priority=prio,
        weight=weight,
        capacity=cap,
        assigned=used,
        state=state,
        last_heartbeat=beat,
    )


@pytest.mark.parametrize(
    "iid",
    [
        0,
        0xFDFF_FFFF_FFFF_FF80,
        0xFDFF_FFFF_FFFF_FFFF,
        0x0200_5EFF_FE00_0000,
        0x0200_5EFF_FE00_5213,
        0x0200_5EFF_FEFF_FFFF,
    ],
)
def test_reserved_iids_are_refused(iid: int) -> None:
    addr = ipaddress.IPv6Address(int(P64.network_address) | iid)
    assert not allocation.iid_acceptable(addr, P64)


def test_ordinary_iid_is_accepted() -> None:
    assert allocation.iid_acceptable(ipaddress.IPv6Address("2001:db8:1::1234:5678"), P64)
    assert allocation.iid_acceptable(ipaddress.IPv6Address("2001:db8:1:0:fdff:ffff:ffff:ff7f"), P64)


@given(st.integers(min_value=0, max_value=2**32), st.sampled_from([48, 56, 64]))
def test_drawn_addresses_are_inside_and_acceptable(seed: int, plen: int) -> None:
    prefix = ipaddress.IPv6Network(f"2001:db8::/{plen}")
    addr = allocation.draw_v6(prefix, random.Random(seed))
    assert addr in prefix
    assert allocation.iid_acceptable(addr, prefix)


def test_drawn_addresses_are_not_a_sequence() -> None:
    rng = random.Random(7)
    iids = [int(allocation.draw_v6(P64, rng)) & (2**64 - 1) for _ in range(200)]
    assert len(set(iids)) == 200
    steps = {b - a for a, b in zip(iids, iids[1:], strict=False)}
    assert len(steps) > 190  # no constant stride


def test_liveness_follows_state_and_heartbeat() -> None:
    assert rules.is_live(ha("a"), NOW, TIMEOUT)  # never monitored: judged by state
    assert rules.is_live(ha("a", beat=NOW - dt.timedelta(seconds=30)), NOW, TIMEOUT)
    assert not rules.is_live(ha("a", beat=NOW - dt.timedelta(seconds=300)), NOW, TIMEOUT)
    assert not rules.is_live(ha("a", state=HAState.DRAINING), NOW, TIMEOUT)
    assert not rules.is_live(ha("a", state=HAState.DOWN), NOW, TIMEOUT)


def test_rank_puts_lower_priority_first_and_full_last() -> None:
    agents = [ha("p20", prio=20), ha("full", prio=10, used=100), ha("p10", prio=10)]
    for seed in range(20):
        order = [h.fqdn for h in rules.rank(agents, random.Random(seed))]
        assert order == ["p10", "full", "p20"]


def test_best_prefers_spare_capacity() -> None:
    agents = [ha("busy", used=95), ha("idle", used=5)]
    picks = [rules.best(agents, NOW, TIMEOUT, random.Random(i)).fqdn for i in range(400)]  # type: ignore[union-attr]
    assert picks.count("idle") > 300


def test_best_is_none_when_every_ha_is_full_or_drained() -> None:
    agents = [ha("full", used=100), ha("drained", state=HAState.DRAINING)]
    assert rules.best(agents, NOW, TIMEOUT, random.Random(1)) is None


def test_network_records_list_live_has_only() -> None:
    net = HomeNetwork(1, "example.com", P64, zones=("example.com",))
    a = ha("ha1.example.com")
    b = ha("ha2.example.com", prio=20, state=HAState.DRAINING)
    got = {
        (r.name, r.rdtype): r.rdatas for r in dnsrecords.network_rrsets(net, [a, b], NOW, TIMEOUT)
    }
    assert got[("_mip6._ipv6.example.com.", "SRV")] == ("10 100 0 ha1.example.com.",)
    assert got[("ha2.example.com.", "AAAA")] == ("2001:db8:1::1",)  # draining keeps its address


def test_subscriber_records_and_zone_choice() -> None:
    sub = Subscriber(
        1,
        "mn@example.com",
        "mn.example.com",
        "example.com",
        1,
        "ha1",
        SubscriberState.ACTIVE,
        AuthMethod.EAP,
        hoas=(ipaddress.IPv6Address("2001:db8:1::abcd"),),
    )
    rr = dnsrecords.subscriber_rrsets(sub, True)
    assert rr[0] == dnsrecords.RRset("mn.example.com.", "AAAA", ("2001:db8:1::abcd",))
    assert rr[1].rdtype == "PTR" and rr[1].rdatas == ("mn.example.com.",)
    assert all(not r.rdatas for r in dnsrecords.subscriber_rrsets(sub, False))
    zones = ["example.com", "sub.example.com", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"]
    assert dnsrecords.zone_for("a.sub.example.com", zones) == "sub.example.com."
    assert dnsrecords.zone_for(rr[1].name, zones) == "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
    assert dnsrecords.zone_for("mn.example.org", zones) is None


@pytest.mark.parametrize(
    "bad",
    [
        "mn",
        "mn@",
        "@example.com",
        "a b@example.com",
        "mn@exa_mple.com",
        "mn@localhost",
        "x@@example.com",
    ],
)
def test_bad_identities_are_named(bad: str) -> None:
    with pytest.raises(ValidationError, match="identity"):
        validate.identity(bad)


def test_identity_and_fqdn_derivation() -> None:
    assert validate.identity("MN@Example.COM") == ("MN@example.com", "example.com")
    assert validate.derived_fqdn("John.Doe@example.com") == "john.doe.example.com"
    with pytest.raises(ValidationError, match="--fqdn"):
        validate.derived_fqdn("john_doe@example.com")


@pytest.mark.parametrize(
    "bad", ["2001:db8::/96", "2001:db8::1/64", "ff02::/16", "nonsense", "10.0.0.0/8"]
)
def test_bad_prefixes_are_named(bad: str) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        validate.ipv6_prefix(bad)
