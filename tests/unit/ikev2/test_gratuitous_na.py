"""The gratuitous Neighbor Advertisement an HA sends when it starts proxying a HoA."""

from __future__ import annotations

import ipaddress

import pytest

from ikev2_glue.proxy import gratuitous_na

HOA = ipaddress.IPv6Address("2001:db8:1::1234")
MAC = bytes.fromhex("020000000001")


def test_na_has_override_only_target_and_lladdr_option() -> None:
    na = gratuitous_na(HOA, MAC)
    assert na[0] == 136 and na[1] == 0  # Neighbor Advertisement, code 0
    flags = int.from_bytes(na[4:8], "big")
    assert flags >> 29 == 0b001  # R=0, S=0, O=1
    assert ipaddress.IPv6Address(na[8:24]) == HOA
    assert na[24:26] == bytes([2, 1]) and na[26:32] == MAC  # Target Link-Layer Address
    assert len(na) == 32


def test_na_refuses_a_link_address_that_is_not_ethernet() -> None:
    with pytest.raises(ValueError):
        gratuitous_na(HOA, b"\x01\x02")
