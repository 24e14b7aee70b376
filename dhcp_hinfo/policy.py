"""RFC 6610 server rules: (request, snapshot, now, rng) -> reply or drop. Pure.

The client names the containers it wants in its Option Request Option:

- VDINF (50): home agents of the network the operator bound to the client's
  link (innermost relay's Interface-Id or link-address, else the receiving
  interface; see :mod:`dhcp_hinfo.links`);
- IDINF (69): one per HNIDF the client sent whose network the store knows,
  with a copy of that HNIDF; unknown networks get nothing;
- UDINF (70): the server's choice, the best live home agent of any network.

Each container carries HNP, HAA and/or HAF: HAA/HAF as the network's
``ha_info`` says, restricted to 71/72/73 when the client listed any of them.
Liveness and order come from :mod:`bootstrap.rules` only.  Relay-supplied
containers (RSOO, RFC 6422) fill a container the server has no own answer
for, if their code is allowed.  Option 49 in the old draft layout maps
id-type 0/1/2 to VDINF/IDINF/UDINF.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from bootstrap import rules
from bootstrap.domain import HAInfo, HomeAgent, HomeNetwork, Snapshot

from . import intake, names, wire4, wire6
from .links import LinkBindings
from .wire6 import (
    HAA,
    HAF,
    HNP,
    IDINF,
    UDINF,
    VDINF,
    ClientServerMessage,
    Message,
    Option,
    RelayMessage,
)

_BROADCAST4 = ipaddress.IPv4Address("255.255.255.255")

# Drop reasons (counter labels; one fixed set).
UNICAST = "unicast_destination"
STATEFUL = "stateful_message"
SERVER_MESSAGE = "server_message"
UNKNOWN_TYPE = "unknown_message_type"
IA_IN_INFOREQ = "ia_in_information_request"
OTHER_SERVER = "other_server_id"
HOP_LIMIT = "hop_limit"
NO_IDENTITY = "no_server_identity"
NOT_REQUEST = "not_a_request"
NO_CIADDR = "inform_without_ciaddr"
SPOOFED = "inform_address_mismatch"
RATE_LIMITED = "rate_limited"
DROP_REASONS = (
    UNICAST,
    STATEFUL,
    SERVER_MESSAGE,
    UNKNOWN_TYPE,
    IA_IN_INFOREQ,
    OTHER_SERVER,
    HOP_LIMIT,
    NO_IDENTITY,
    NOT_REQUEST,
    NO_CIADDR,
    SPOOFED,
    RATE_LIMITED,
    *intake.REASONS,
)

_STATEFUL6 = {wire6.SOLICIT, wire6.REQUEST, wire6.CONFIRM, wire6.RENEW, wire6.REBIND}
_STATEFUL6 |= {wire6.RELEASE, wire6.DECLINE}
_SERVER6 = {wire6.ADVERTISE, wire6.REPLY, wire6.RECONFIGURE, wire6.RELAY_REPL}
_IA_CODES = {wire6.IA_NA, wire6.IA_TA, wire6.IA_PD}


@dataclass(frozen=True, slots=True)
class Drop:
    reason: str


@dataclass(frozen=True, slots=True)
class Reply6:
    message: Message
    relayed: bool


@dataclass(frozen=True, slots=True)
class Reply4:
    frame: wire4.Frame
    destination: ipaddress.IPv4Address
    port: int


@dataclass(frozen=True, slots=True)
class Arrival:
    """Where a datagram came in (filled by the transport)."""

    interface: str | None = None
    multicast: bool = True
    local_address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None


@dataclass(frozen=True)
class Policy:
    """Operator settings the rules need (built from ``[dhcp6]`` / ``[dhcp4]``)."""

    links6: LinkBindings = field(default_factory=lambda: LinkBindings({}, {}, ()))
    links4: LinkBindings = field(default_factory=lambda: LinkBindings({}, {}, ()))
    rsoo_codes: frozenset[int] = frozenset()
    hop_limit: int = 8
    allow_unicast: bool = False
    heartbeat_timeout: dt.timedelta = rules.DEFAULT_HEARTBEAT_TIMEOUT
    refresh_time: int = 0
    ds_code: int = 0
    server_id4: ipaddress.IPv4Address | None = None


class HomeView:
    """Snapshot indexes the rules need, built once per snapshot."""

    def __init__(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self.networks: dict[str, HomeNetwork] = {
            names.canonical(n.domain): n for n in snap.networks
        }
        self.by_id: dict[int, HomeNetwork] = {n.id: n for n in snap.networks}
        self.agents: dict[int, tuple[HomeAgent, ...]] = {}
        for ha in snap.home_agents:
            self.agents[ha.network_id] = self.agents.get(ha.network_id, ()) + (ha,)


def _ranked(
    agents: Iterable[HomeAgent], now: dt.datetime, policy: Policy, rng: random.Random
) -> list[HomeAgent]:
    return rules.rank(rules.live_agents(agents, now, policy.heartbeat_timeout), rng)


def _container_body(
    net: HomeNetwork, agents: list[HomeAgent], asked: frozenset[int]
) -> list[Option]:
    """HNP + HAA/HAF per the network's ha_info; empty when no HA can be named."""
    if not agents:
        return []
    out: list[Option] = []
    if HNP in asked:
        out.append(wire6.Hnp(net.prefix))
    if net.ha_info in (HAInfo.ADDRESS, HAInfo.BOTH) and HAA in asked:
        out += [wire6.Haa(h.address) for h in agents]
    if net.ha_info in (HAInfo.FQDN, HAInfo.BOTH) and HAF in asked:
        out += [wire6.Haf(names.canonical(h.fqdn)) for h in agents]
    if not any(o.code in (HAA, HAF) for o in out):
        return []
    return out


def _relay_chain(msg: Message, policy: Policy) -> tuple[list[RelayMessage], Message] | Drop:
    chain: list[RelayMessage] = []
    inner: Message = msg
    while isinstance(inner, RelayMessage):
        if inner.msg_type != wire6.RELAY_FORW:
            return Drop(SERVER_MESSAGE)
        if inner.hop_count > policy.hop_limit or len(chain) >= policy.hop_limit + 1:
            return Drop(HOP_LIMIT)
        chain.append(inner)
        inner = inner.inner
    return chain, inner


def _type_check(msg: ClientServerMessage) -> Drop | None:
    if msg.msg_type == wire6.INFORMATION_REQUEST:
        return None
    if msg.msg_type in _STATEFUL6:
        return Drop(STATEFUL)
    if msg.msg_type in _SERVER6:
        return Drop(SERVER_MESSAGE)
    return Drop(UNKNOWN_TYPE)


def answer6(
    msg: Message,
    arrival: Arrival,
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
) -> Reply6 | Drop:
    """The Reply (or Relay-reply) to one decoded DHCPv6 message, or why it is dropped."""
    got = _relay_chain(msg, policy)
    if isinstance(got, Drop):
        return got
    chain, inner = got
    assert isinstance(inner, ClientServerMessage)
    bad = _type_check(inner)
    if bad is not None:
        return bad
    if not chain and not arrival.multicast and not policy.allow_unicast:
        return Drop(UNICAST)
    duid = view.snapshot.server_duid
    if not duid:
        return Drop(NO_IDENTITY)
    oro: list[int] = []
    hnidfs: list[str] = []
    client_id: Option | None = None
    for o in inner.options:
        if o.code in _IA_CODES:
            return Drop(IA_IN_INFOREQ)
        if isinstance(o, wire6.ServerId) and o.duid.raw != duid:
            return Drop(OTHER_SERVER)
        if isinstance(o, wire6.ClientId):
            client_id = o
        elif isinstance(o, wire6.OptionRequest):
            oro += o.codes
        elif isinstance(o, wire6.Hnidf):
            hnidfs.append(names.canonical(o.name))
        elif isinstance(o, wire6.DraftHomeInfo):
            wanted = {0: VDINF, 1: IDINF, 2: UDINF}[o.id_type]
            oro.append(wanted)
            if o.id_type == 1 and o.home_network:
                hnidfs.append(o.home_network)
    sub_asked = frozenset(oro) & {HNP, HAA, HAF} or frozenset({HNP, HAA, HAF})
    innermost = chain[-1] if chain else None
    supplied = _relay_supplied(innermost, policy)
    reply: list[Option] = []
    if client_id is not None:
        reply.append(client_id)
    reply.append(wire6.ServerId(wire6.Duid(duid)))
    done: set[int] = set()
    for code in oro:
        if code in done:
            continue
        done.add(code)
        if code == VDINF:
            reply += _vdinf(innermost, arrival, view, policy, now, rng, sub_asked, supplied)
        elif code == IDINF:
            reply += _idinfs(hnidfs, view, policy, now, rng, sub_asked, supplied)
        elif code == UDINF:
            reply += _udinf(view, policy, now, rng, sub_asked, supplied)
        elif code == wire6.INFORMATION_REFRESH_TIME and policy.refresh_time:
            reply.append(wire6.InformationRefreshTime(policy.refresh_time))
    out: Message = ClientServerMessage(wire6.REPLY, inner.xid, tuple(reply))
    for level in reversed(chain):
        keep = tuple(o for o in level.options if o.code == wire6.INTERFACE_ID)
        out = RelayMessage(
            wire6.RELAY_REPL,
            level.hop_count,
            level.link_address,
            level.peer_address,
            keep + (wire6.RelayMsg(out),),
        )
    return Reply6(out, relayed=bool(chain))


def _relay_supplied(relay: RelayMessage | None, policy: Policy) -> list[Option]:
    """Allowed options from the innermost relay's RSOO (RFC 6422 §6)."""
    if relay is None or not policy.rsoo_codes:
        return []
    out: list[Option] = []
    for o in relay.options:
        if isinstance(o, wire6.Rsoo):
            out += [x for x in o.options if x.code in policy.rsoo_codes]
    return out


def _vdinf(
    relay: RelayMessage | None,
    arrival: Arrival,
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
    asked: frozenset[int],
    supplied: list[Option],
) -> list[Option]:
    if relay is not None:
        ifid = next((o.value for o in relay.options if isinstance(o, wire6.InterfaceId)), None)
        bound = policy.links6.network_for(None, relay.link_address, ifid)
    else:
        bound = policy.links6.network_for(arrival.interface)
    net = view.networks.get(bound) if bound else None
    if net is not None:
        body = _container_body(net, _ranked(view.agents.get(net.id, ()), now, policy, rng), asked)
        if body:
            return [wire6.Vdinf(tuple(body))]
    return [o for o in supplied if o.code == VDINF][:1]


def _idinfs(
    hnidfs: list[str],
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
    asked: frozenset[int],
    supplied: list[Option],
) -> list[Option]:
    out: list[Option] = []
    for name in dict.fromkeys(hnidfs):
        net = view.networks.get(name)
        body: list[Option] = []
        if net is not None:
            agents = _ranked(view.agents.get(net.id, ()), now, policy, rng)
            body = _container_body(net, agents, asked)
        if body:
            out.append(wire6.Idinf((wire6.Hnidf(name), *body)))
            continue
        for o in supplied:
            if isinstance(o, wire6.Idinf) and any(
                isinstance(x, wire6.Hnidf) and names.canonical(x.name) == name for x in o.options
            ):
                out.append(o)
                break
    return out


def _udinf(
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
    asked: frozenset[int],
    supplied: list[Option],
) -> list[Option]:
    best = rules.best(view.snapshot.home_agents, now, policy.heartbeat_timeout, rng)
    net = view.by_id.get(best.network_id) if best is not None else None
    if best is not None and net is not None:
        body = _container_body(net, [best], asked)
        if body:
            return [wire6.Udinf(tuple(body))]
    return [o for o in supplied if o.code == UDINF][:1]


# --- DHCPv4 ------------------------------------------------------------------------------


def answer4(
    frame: wire4.Frame,
    arrival: Arrival,
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
    source: ipaddress.IPv4Address | None = None,
) -> Reply4 | Drop:
    """The DHCPACK to a DHCPINFORM (RFC 2131 §3.4, §4.3.5), or why it is dropped.

    The ACK goes to ``ciaddr`` (direct) or ``giaddr`` (relayed), addresses the
    datagram itself names, so a forged one would make us send to anyone (seen:
    34.0.2.100, 0.0.0.169); never to broadcast or multicast.  With the
    datagram's ``source`` known, a direct INFORM is answered only when
    ``ciaddr`` is that source, a relayed one only when ``giaddr`` is the source
    or lies in a prefix bound in ``[dhcp4] links`` (a relay may send from
    another of its addresses).
    """
    if frame.op != wire4.BOOTREQUEST:
        return Drop(SERVER_MESSAGE)
    mtype = frame.message_type
    if mtype is None:
        return Drop(NOT_REQUEST)
    if mtype != wire4.INFORM:
        known = mtype in (wire4.DISCOVER, wire4.REQUEST, wire4.DECLINE, wire4.RELEASE)
        return Drop(STATEFUL if known else UNKNOWN_TYPE)
    relayed = not frame.giaddr.is_unspecified
    if frame.ciaddr.is_unspecified:
        return Drop(NO_CIADDR)
    target = frame.giaddr if relayed else frame.ciaddr
    if target.is_multicast or target == _BROADCAST4:
        return Drop(SPOOFED)
    if source is not None:
        if not relayed and frame.ciaddr != source:
            return Drop(SPOOFED)
        if relayed and frame.giaddr != source and not any(
            frame.giaddr in prefix for prefix, _ in policy.links4.prefixes if prefix.version == 4
        ):
            return Drop(SPOOFED)
    server_id = policy.server_id4
    if server_id is None and isinstance(arrival.local_address, ipaddress.IPv4Address):
        server_id = arrival.local_address
    if server_id is None or server_id.is_unspecified:
        return Drop(NO_IDENTITY)
    bound = policy.links4.network_for(
        None if relayed else arrival.interface, frame.giaddr if relayed else None
    )
    net = view.networks.get(bound) if bound else None
    pool = view.agents.get(net.id, ()) if net is not None else view.snapshot.home_agents
    ranked = _ranked(pool, now, policy, rng)
    options: list[wire4.Option4] = [
        wire4.MessageType(wire4.ACK),
        wire4.ServerIdentifier(server_id),
    ]
    client_id = frame.get(wire4.CLIENT_ID)
    if client_id is not None:
        options.append(client_id)
    requested = frame.requested
    for code in dict.fromkeys(requested):
        if code == wire4.MOBILE_IP_HOME_AGENT:
            addrs = tuple(h.ipv4 for h in ranked if h.ipv4 is not None)
            options.append(wire4.MobileIpHomeAgent(addrs))
        elif policy.ds_code and code == policy.ds_code:
            ds = _dual_stack(frame, net, view, policy, now, rng)
            if ds.containers:
                options.append(ds)
    relay_info = frame.get(wire4.RELAY_AGENT_INFO)
    if relay_info is not None:
        options.append(relay_info)
    ack = wire4.Frame(
        op=wire4.BOOTREPLY,
        xid=frame.xid,
        htype=frame.htype,
        hlen=frame.hlen,
        flags=frame.flags,
        ciaddr=frame.ciaddr,
        giaddr=frame.giaddr,
        chaddr=frame.chaddr,
        options=tuple(options),
    )
    if relayed:
        return Reply4(ack, frame.giaddr, 67)
    return Reply4(ack, frame.ciaddr, 68)


def _ds_container(
    kind: int, net: HomeNetwork, agents: list[HomeAgent], hnidf: str | None = None
) -> wire4.DsContainer | None:
    if not agents:
        return None
    addr = net.ha_info in (HAInfo.ADDRESS, HAInfo.BOTH)
    fqdn = net.ha_info in (HAInfo.FQDN, HAInfo.BOTH)
    return wire4.DsContainer(
        kind,
        hnidf,
        net.prefix,
        tuple(h.address for h in agents) if addr else (),
        tuple(h.ipv4 for h in agents if h.ipv4 is not None) if addr else (),
        tuple(names.canonical(h.fqdn) for h in agents) if fqdn else (),
    )


def _dual_stack(
    frame: wire4.Frame,
    visited: HomeNetwork | None,
    view: HomeView,
    policy: Policy,
    now: dt.datetime,
    rng: random.Random,
) -> wire4.DualStackHomeInfo:
    """Containers for the dual-stack option: UD (+VD when the link is bound, +ID on request)."""
    out: list[wire4.DsContainer | None] = []
    asked = frame.get(policy.ds_code)
    wanted: list[wire4.DsContainer] = []
    if isinstance(asked, wire4.Unknown4):
        try:
            wanted = list(wire4.DualStackHomeInfo.decode(policy.ds_code, asked.raw).containers)
        except ValueError:
            wanted = []
    for c in wanted:
        if c.kind == wire4.DS_IDENTIFIED and c.hnidf:
            net = view.networks.get(names.canonical(c.hnidf))
            if net is not None:
                agents = _ranked(view.agents.get(net.id, ()), now, policy, rng)
                out.append(
                    _ds_container(wire4.DS_IDENTIFIED, net, agents, names.canonical(c.hnidf))
                )
    if visited is not None:
        agents = _ranked(view.agents.get(visited.id, ()), now, policy, rng)
        out.append(_ds_container(wire4.DS_VISITED, visited, agents))
    best = rules.best(view.snapshot.home_agents, now, policy.heartbeat_timeout, rng)
    if best is not None and best.network_id in view.by_id:
        out.append(_ds_container(wire4.DS_UNRESTRICTED, view.by_id[best.network_id], [best]))
    return wire4.DualStackHomeInfo(policy.ds_code, tuple(c for c in out if c is not None))
