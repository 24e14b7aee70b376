"""Proxy neighbour plan: which HoAs this HA answers for on its home link (pure).

RFC 6275 §10.4.1: while a binding is up, the home agent defends the mobile
node's home address on the home link, so a correspondent on that link (or
the home router, for traffic from anywhere else) reaches the HA and the HA
tunnels it to the MN.  The kernel does the answering: an IPv6 proxy
neighbour entry (``ip -6 neigh add proxy HOA dev IF``, with ``proxy_ndp``)
makes it send Neighbor Advertisements for the HoA, and an IPv4 one (proxy
ARP) answers ARP for a dual-stack node's IPv4 HoA.  strongSwan's ``farp``
plugin is not used: it answers ARP only (IPv4) and only for addresses of
charon's own pools, which per-subscriber and radius mode do not use.

:func:`plan_proxies` compares what the store's open bindings of this HA ask
for with the proxy entries the kernel holds on the home interface.  Entries
outside the home network's prefix and IPv4 pool are the operator's and are
never touched; inside them, anything not desired is ours and stale (left by
a crash, or by a binding that moved to another HA) and goes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class ProxyPlan:
    """Entries to add and to remove, each sorted (IPv4 first) for stable logs and tests."""

    add: tuple[Address, ...] = ()
    remove: tuple[Address, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.add and not self.remove


def parse_addresses(texts: Iterable[str]) -> frozenset[Address]:
    """The addresses among ``texts``; anything unparsable is not an address to proxy."""
    out: set[Address] = set()
    for t in texts:
        try:
            out.add(ipaddress.ip_address(t.strip()))
        except ValueError:
            continue
    return frozenset(out)


def _key(a: Address) -> tuple[int, int]:
    return a.version, int(a)


def owned(address: Address, networks: Iterable[Network]) -> bool:
    """True if ``address`` lies in one of the home networks (so its proxy entry is ours)."""
    return any(address.version == n.version and address in n for n in networks)


def plan_proxies(
    desired: Iterable[Address], current: Iterable[Address], networks: Iterable[Network]
) -> ProxyPlan:
    """Add what is desired and missing; remove what is ours and no longer desired.

    ``desired``: the HoAs (IPv6 and IPv4) of this HA's open bindings;
    ``current``: the kernel's proxy entries on the home interface;
    ``networks``: the home prefix and IPv4 pool of this HA's network.
    """
    want = frozenset(desired)
    have = frozenset(current)
    nets = tuple(networks)
    add = sorted(want - have, key=_key)
    remove = sorted((a for a in have - want if owned(a, nets)), key=_key)
    return ProxyPlan(tuple(add), tuple(remove))


NA_OVERRIDE = 0x20000000
"""The Override flag of a Neighbor Advertisement (RFC 4861 §4.4)."""


def gratuitous_na(hoa: ipaddress.IPv6Address, lladdr: bytes) -> bytes:
    """The ICMPv6 Neighbor Advertisement an HA multicasts when it starts defending ``hoa``.

    RFC 6275 §10.4.1: to all-nodes, Override set (so caches that still point at the
    MN, or at an HA that served it before, take this HA's link-layer address), Router
    and Solicited clear, with the Target Link-Layer Address option.  The checksum is
    left 0: the kernel fills it in for a raw ICMPv6 socket.
    """
    if len(lladdr) != 6:
        raise ValueError("the link-layer address must be 6 octets (Ethernet)")
    return (bytes([136, 0, 0, 0]) + NA_OVERRIDE.to_bytes(4, "big") + hoa.packed
            + bytes([2, 1]) + lladdr)
