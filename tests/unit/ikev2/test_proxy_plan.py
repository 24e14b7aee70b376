"""Proxy neighbour plan: desired HoAs vs the kernel's entries -> add/remove (pure)."""

from __future__ import annotations

import ipaddress as ip

from ikev2_glue import proxy

NETS = (ip.ip_network("2001:db8:1::/64"), ip.ip_network("192.0.2.0/24"))


def a(*texts: str) -> frozenset[proxy.Address]:
    return proxy.parse_addresses(texts)


def test_missing_entries_are_added_stale_ones_removed() -> None:
    plan = proxy.plan_proxies(a("2001:db8:1::42", "192.0.2.66"), a("2001:db8:1::7"), NETS)
    assert plan.add == (ip.ip_address("192.0.2.66"), ip.ip_address("2001:db8:1::42"))
    assert plan.remove == (ip.ip_address("2001:db8:1::7"),)


def test_entries_outside_the_home_network_are_the_operators() -> None:
    plan = proxy.plan_proxies(a(), a("2001:db8:99::1", "198.51.100.1", "2001:db8:1::5"), NETS)
    assert plan.add == () and plan.remove == (ip.ip_address("2001:db8:1::5"),)


def test_equal_sets_need_nothing() -> None:
    assert proxy.plan_proxies(a("2001:db8:1::42"), a("2001:db8:1::42"), NETS).empty


def test_charon_gone_means_every_entry_of_ours_goes() -> None:
    plan = proxy.plan_proxies(frozenset(), a("2001:db8:1::42", "192.0.2.66"), NETS)
    assert set(plan.remove) == set(a("2001:db8:1::42", "192.0.2.66")) and plan.add == ()


def test_unparsable_texts_are_ignored() -> None:
    assert a("2001:db8:1::42", "", "nonsense", " 192.0.2.1 ") == a("2001:db8:1::42", "192.0.2.1")
