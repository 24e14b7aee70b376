"""Which home network the operator bound to the link a request came from.

RFC 6610's VDINF names the home agents of the *visited* domain: the network
serving the link the client sits on.  The operator binds links to networks
in ``[dhcp6] links`` / ``[dhcp4] links`` as ``"<selector>=<domain>"`` strings:

- ``if:<name>``: requests received directly on interface ``<name>``;
- ``ifid:<text>``: relayed requests whose innermost Interface-Id is ``<text>``;
- ``<prefix>`` (``2001:db8:2::/64`` or ``192.0.2.0/24``): relayed requests
  whose innermost link-address (DHCPv6) or giaddr (DHCPv4) lies inside it.

The most specific match wins: Interface-Id, then the longest prefix, then the
receiving interface.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from . import names

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class LinkBindings:
    interfaces: dict[str, str]
    interface_ids: dict[bytes, str]
    prefixes: tuple[tuple[IPNetwork, str], ...]

    @classmethod
    def parse(cls, entries: Iterable[str], key: str) -> LinkBindings:
        """Parse config strings; ``ValueError`` names ``key`` and the bad entry."""
        ifs: dict[str, str] = {}
        ifids: dict[bytes, str] = {}
        pfx: list[tuple[IPNetwork, str]] = []
        for entry in entries:
            selector, sep, domain = entry.rpartition("=")
            if not sep or not selector or not domain.strip():
                raise ValueError(f"{key} entry {entry!r} must be '<selector>=<network domain>'")
            net = names.canonical(domain)
            if selector.startswith("if:"):
                ifs[selector[3:]] = net
            elif selector.startswith("ifid:"):
                ifids[selector[5:].encode()] = net
            else:
                try:
                    pfx.append((ipaddress.ip_network(selector, strict=False), net))
                except ValueError:
                    raise ValueError(
                        f"{key} entry {entry!r}: selector must be if:<name>, ifid:<text>"
                        " or an address prefix"
                    ) from None
        pfx.sort(key=lambda p: -p[0].prefixlen)
        return cls(ifs, ifids, tuple(pfx))

    def network_for(
        self,
        interface: str | None,
        link_address: IPAddress | None = None,
        interface_id: bytes | None = None,
    ) -> str | None:
        """The bound network's canonical domain, or None when the link is not bound."""
        if interface_id is not None and interface_id in self.interface_ids:
            return self.interface_ids[interface_id]
        if link_address is not None and not link_address.is_unspecified:
            for prefix, net in self.prefixes:
                if prefix.version == link_address.version and link_address in prefix:
                    return net
        if interface is not None:
            return self.interfaces.get(interface)
        return None
