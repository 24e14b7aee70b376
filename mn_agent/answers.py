"""What the discovery answers say, as ordered HA candidates (pure, no I/O).

* DHCPv6 (RFC 6610): the agent sends an Information-request asking for the
  Identified Home Network Information (IDINF, option 69) of its home domain
  (HNIDF, option 49) or, without a home domain, the Unrestricted one (UDINF,
  option 70), with the project's codec (:mod:`dhcp_hinfo.wire6`).  The
  answer's Home Agent Address options (HAA, 72) are taken in the order the
  server gave them (our responder lists the best HA first); Home Agent FQDN
  options (HAF, 73) are returned too, for the caller to resolve.
* DNS (RFC 5026 §5.1.2): ``_mip6._ipv6.<home domain>`` SRV records ordered
  by RFC 2782: lowest priority first, within a priority a weighted random
  draw (the caller passes the random source, so tests are exact).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dhcp_hinfo import wire6
from dhcp_hinfo.errors import MalformedPacket


@dataclass(frozen=True, slots=True)
class DhcpAnswer:
    """The home information of one Reply."""

    addresses: tuple[str, ...] = ()
    """HA addresses (HAA) in answer order."""
    names: tuple[str, ...] = ()
    """HA FQDNs (HAF) in answer order, without the trailing dot."""
    prefix: str | None = None
    """The home network prefix (HNP), if given."""


def information_request(xid: int, duid: bytes, home_domain: str | None) -> bytes:
    """An Information-request for the home information of ``home_domain`` (IDINF) or any (UDINF).

    ``duid`` is the client's DUID (the agent uses a DUID-LL of its interface).
    """
    options: list[wire6.Option] = [wire6.ClientId(wire6.Duid(duid)), wire6.ElapsedTime(0)]
    if home_domain:
        options.append(wire6.OptionRequest((wire6.IDINF,)))
        options.append(wire6.Hnidf(home_domain.rstrip(".") + "."))
    else:
        options.append(wire6.OptionRequest((wire6.UDINF,)))
    return wire6.encode_message(wire6.ClientServerMessage(wire6.INFORMATION_REQUEST, xid,
                                                          tuple(options)))


def parse_reply(data: bytes, xid: int) -> DhcpAnswer | None:
    """The home information of a Reply to transaction ``xid``; None if it is not one.

    IDINF is preferred over UDINF (it names the network we asked for); a
    Reply without either, a malformed packet or another transaction is None.
    """
    try:
        msg = wire6.decode_message(data)
    except MalformedPacket:
        return None
    if not isinstance(msg, wire6.ClientServerMessage):
        return None
    if msg.msg_type != wire6.REPLY or msg.xid != xid:
        return None
    for code in (wire6.IDINF, wire6.UDINF):
        for container in msg.get(code):
            assert isinstance(container, wire6.Idinf | wire6.Udinf)
            addrs = tuple(str(o.address) for o in container.options if isinstance(o, wire6.Haa))
            names = tuple(o.name.rstrip(".").lower() for o in container.options
                          if isinstance(o, wire6.Haf))
            hnp = [o.prefix for o in container.options if isinstance(o, wire6.Hnp)]
            if addrs or names:
                return DhcpAnswer(addrs, names, str(hnp[0]) if hnp else None)
    return None


@dataclass(frozen=True, slots=True)
class Srv:
    """One SRV record of ``_mip6._ipv6.<domain>``."""

    priority: int
    weight: int
    target: str


def srv_order(records: Iterable[Srv], rng: random.Random) -> tuple[str, ...]:
    """Targets in RFC 2782 order: priority ascending, weighted draw within a priority.

    A target of "." (service not offered) is dropped.
    """
    by_prio: dict[int, list[Srv]] = {}
    for r in records:
        if r.target.strip(".") == "":
            continue
        by_prio.setdefault(r.priority, []).append(r)
    out: list[str] = []
    for prio in sorted(by_prio):
        # RFC 2782: zero-weight records first in the list so they have a small chance
        group = sorted(by_prio[prio], key=lambda r: (r.weight != 0, r.target))
        while group:
            total = sum(r.weight for r in group)
            pick = rng.randint(0, total) if total else 0
            running = 0
            for i, r in enumerate(group):
                running += r.weight
                if running >= pick:
                    out.append(r.target.rstrip(".").lower())
                    del group[i]
                    break
    return tuple(out)


def addresses_only(texts: Sequence[str]) -> tuple[str, ...]:
    """The IPv6 addresses among ``texts`` in order, normalised, duplicates dropped."""
    seen: list[str] = []
    for t in texts:
        try:
            a = ipaddress.IPv6Address(t)
        except ValueError:
            continue
        if str(a) not in seen:
            seen.append(str(a))
    return tuple(seen)
