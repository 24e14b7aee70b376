"""The kernel's proxy neighbour entries on the home interface, through pyroute2 (netlink).

The thin executor of :mod:`.proxy`: it reads the proxy entries (``ip neigh
show proxy dev IF`` for both families), adds and deletes them, and switches
on ``net.ipv6.conf.IF.proxy_ndp`` and ``net.ipv4.conf.IF.proxy_arp``.  The
kernel answers Neighbor Solicitations for a proxied IPv6 address only when
forwarding is on for the interface (an HA forwards anyway); both sysctls are
plain files under ``/proc/sys`` (netlink has no sysctl call).  Needs
CAP_NET_ADMIN in the HA's network namespace (bootstrapd runs as root there).
Calls block; the bridge runs them in a thread.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
from pathlib import Path

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ndmsg import NTF_PROXY

from .proxy import Address, ProxyPlan, gratuitous_na, parse_addresses

SYSCTLS = ("net/ipv6/conf/{}/proxy_ndp", "net/ipv4/conf/{}/proxy_arp")


log = logging.getLogger(__name__)


class ProxyError(Exception):
    """The home interface is missing or the kernel refused a change (one sentence)."""


class ProxyTable:
    """Proxy entries of one interface (``[vici] home_interface``)."""

    def __init__(self, ifname: str, sysctl_root: Path = Path("/proc/sys")) -> None:
        self.ifname = ifname
        self.sysctl_root = sysctl_root

    def _index(self, ipr: IPRoute) -> int:
        found = ipr.link_lookup(ifname=self.ifname)
        if not found:
            raise ProxyError(f"home interface {self.ifname!r} does not exist")
        return int(found[0])

    def enable(self) -> list[str]:
        """Switch on proxy_ndp and proxy_arp for the interface; the sysctls that failed."""
        failed = []
        for pattern in SYSCTLS:
            path = self.sysctl_root / pattern.format(self.ifname)
            try:
                if path.read_text().strip() != "1":
                    path.write_text("1\n")
            except OSError:
                failed.append(pattern.format(self.ifname).replace("/", "."))
        return failed

    def current(self) -> frozenset[Address]:
        """The proxy entries (IPv4 and IPv6) the kernel holds on the interface."""
        with IPRoute() as ipr:
            index = self._index(ipr)
            texts: list[str] = []
            for family in (socket.AF_INET6, socket.AF_INET):
                # flags=NTF_PROXY must go into the request (pneigh dump), not into a filter
                for msg in ipr.neigh("dump", family=family, flags=NTF_PROXY,
                                     dump_filter=lambda _m: True):
                    if msg["ifindex"] == index and msg["flags"] & NTF_PROXY:
                        dst = msg.get_attr("NDA_DST")
                        if dst:
                            texts.append(str(dst))
        return parse_addresses(texts)

    def apply(self, plan: ProxyPlan) -> None:
        """Add and remove entries; an entry already there / already gone is no error."""
        if plan.empty:
            return
        with IPRoute() as ipr:
            index = self._index(ipr)
            for addr in plan.add:
                self._change(ipr, "add", addr, index, errno.EEXIST)
            announce = [a for a in plan.add if isinstance(a, ipaddress.IPv6Address)]
            if announce:
                self._announce(ipr, index, announce)
            for addr in plan.remove:
                self._change(ipr, "del", addr, index, errno.ENOENT)

    def _announce(self, ipr: IPRoute, index: int, hoas: list[ipaddress.IPv6Address]) -> None:
        """Multicast one gratuitous NA per new HoA (RFC 6275 §10.4.1), hop limit 255.

        Best effort: a link that cannot send yet (down, no link-local address) only
        delays the correspondents' switch to this HA until their next solicitation.
        """
        link = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
        if not link:
            return
        lladdr = bytes.fromhex(str(link).replace(":", ""))
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                for hoa in hoas:
                    s.sendto(gratuitous_na(hoa, lladdr), ("ff02::1", 0, 0, index))
        except OSError as exc:  # the entries hold; caches learn them at their next NS
            log.warning("could not announce the proxied HoAs on %s: %s", self.ifname, exc)

    def _change(self, ipr: IPRoute, op: str, addr: Address, index: int, benign: int) -> None:
        family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
        try:
            ipr.neigh(op, dst=str(addr), ifindex=index, family=family, flags=NTF_PROXY)
        except NetlinkError as exc:
            if exc.code != benign:
                raise ProxyError(
                    f"kernel refused to {op} the proxy entry {addr} on {self.ifname}: {exc}"
                ) from None

