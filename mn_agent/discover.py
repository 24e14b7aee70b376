"""Discovery I/O: one DHCPv6 exchange on the access link, SRV + AAAA lookups (thin).

The bytes are made and read by :mod:`.answers`; this module only sends,
waits and resolves.  DHCPv6 goes to All_DHCP_Relay_Agents_and_Servers
(ff02::1:2) on the given interface from port 546 (needs root, like charon):
a relay on the visited link (ISC dhcrelay, Kea) forwards it to the home
network's responder.  DNS uses dnspython against the given server or the
system resolver.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import select
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.resolver

from . import answers

ALL_DHCP = "ff02::1:2"
CLIENT_PORT, SERVER_PORT = 546, 547


@dataclass(frozen=True, slots=True)
class Found:
    """What one discovery round found (addresses best first per method)."""

    dhcp: tuple[str, ...] = ()
    srv: tuple[str, ...] = ()
    dhcp_seconds: float | None = None
    srv_seconds: float | None = None


def duid_of(interface: str) -> bytes:
    """A DUID-LL (type 3, Ethernet) from the interface's MAC address (stable per interface)."""
    try:
        mac = Path(f"/sys/class/net/{interface}/address").read_text().strip()
        raw = bytes.fromhex(mac.replace(":", ""))
    except (OSError, ValueError):
        raw = secrets.token_bytes(6)
    return b"\x00\x03\x00\x01" + raw


def dhcp6(interface: str, home_domain: str | None, timeout: float = 1.0, tries: int = 3,
          server: str = ALL_DHCP, server_port: int = SERVER_PORT,
          client_port: int = CLIENT_PORT) -> answers.DhcpAnswer | None:
    """One Information-request exchange (retransmitted ``tries`` times); None without answer."""
    index = socket.if_nametoindex(interface)
    xid = secrets.randbits(24)
    packet = answers.information_request(xid, duid_of(interface), home_domain)
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.bind(("::", client_port, 0, 0))
        for _ in range(tries):
            sock.sendto(packet, (server, server_port, 0, index))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([sock], [], [], left)
                if not ready:
                    break
                data, _addr = sock.recvfrom(65535)
                got = answers.parse_reply(data, xid)
                if got is not None:
                    return got
    return None


def _resolver(nameserver: str | None, timeout: float) -> dns.resolver.Resolver:
    res = dns.resolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        host, _, port = nameserver.rpartition("#")
        res.nameservers = [host or nameserver]
        if host and port:
            res.port = int(port)
    res.lifetime = timeout
    res.timeout = timeout
    return res


def aaaa(res: dns.resolver.Resolver, name: str) -> tuple[str, ...]:
    try:
        ans = res.resolve(name, "AAAA")
    except dns.exception.DNSException:
        return ()
    return tuple(sorted(r.to_text() for r in ans))


def srv(home_domain: str, nameserver: str | None, timeout: float = 2.0,
        rng: random.Random | None = None) -> tuple[str, ...]:
    """HA addresses from ``_mip6._ipv6.<home domain>`` SRV (RFC 2782 order) and their AAAA."""
    res = _resolver(nameserver, timeout)
    try:
        ans = res.resolve(f"_mip6._ipv6.{home_domain.rstrip('.')}.", "SRV")
    except dns.exception.DNSException:
        return ()
    records = [answers.Srv(r.priority, r.weight, r.target.to_text()) for r in ans]
    out: list[str] = []
    for target in answers.srv_order(records, rng or random.Random()):
        out.extend(aaaa(res, target + "."))
    return answers.addresses_only(out)


def resolve_names(names: tuple[str, ...], nameserver: str | None,
                  timeout: float = 2.0) -> tuple[str, ...]:
    """AAAA of the HA FQDNs a DHCP answer gave instead of (or besides) addresses."""
    res = _resolver(nameserver, timeout)
    out: list[str] = []
    for n in names:
        out.extend(aaaa(res, n + "."))
    return answers.addresses_only(out)


def discover(interface: str | None, home_domain: str, nameserver: str | None,
             use_dhcp: bool = True, use_srv: bool = True, timeout: float = 1.0) -> Found:
    """Both methods, one after the other; each failing alone is just an empty list."""
    dhcp_list: tuple[str, ...] = ()
    dhcp_s = srv_s = None
    if use_dhcp and interface:
        t0 = time.monotonic()
        try:
            got = dhcp6(interface, home_domain, timeout)
        except OSError:
            got = None
        if got is not None:
            dhcp_s = time.monotonic() - t0
            dhcp_list = answers.addresses_only(
                [*got.addresses, *resolve_names(got.names, nameserver, timeout)])
    srv_list: tuple[str, ...] = ()
    if use_srv:
        t0 = time.monotonic()
        srv_list = srv(home_domain, nameserver, timeout)
        if srv_list:
            srv_s = time.monotonic() - t0
    return Found(dhcp_list, srv_list, dhcp_s, srv_s)
