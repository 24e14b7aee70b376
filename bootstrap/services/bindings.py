"""Bindings: which subscriber is up on which home agent, from which care-of address.

The VICI bridge calls these functions when charon reports an IKE_SA up,
down, rekeyed or moved (MOBIKE), and :func:`reconcile` after every
(re)connect so that no binding is missed or left open while the bridge was
away.  A binding is keyed by (home agent, IKE_SA uniqueid): charon reuses
uniqueids after a restart, so only *open* rows are ever matched.

An SA names its peer by identity; both the subscriber's RFC 822 identity
(``mn@example.com``) and its FQDN (RFC 5026 ID_FQDN) are accepted.

In registration mode (:mod:`.publish_mode`: the store's mode) whether a
subscriber's AAAA/A/PTR records exist is decided in the transaction that
opens or closes one of its bindings, from *all* its open bindings on any HA
host: the first open binding publishes them, closing the last withdraws
them.  Both transactions first lock the subscriber's row, so two bridges
recording a move (new binding on one HA, old one closed on another, in
either order and at the same instant) are serialised and the second sees the
first's binding: an overlap never withdraws the records.  A redirect closes
the old binding just *before* the new one opens, so a withdrawal waits
:data:`WITHDRAW_GRACE` seconds in the outbox and the next open deletes it.  IKE_SA up/down
stands in for the MIPv6 registration (our charon-based HA sees no Binding
Update); the DNS change is written to the outbox in the same transaction.

:func:`home_link` gives the bridge the addresses its HA must answer for on
the home link (proxy ND / proxy ARP, ``ikev2_glue.proxy``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from .. import dnsrecords, domain
from ..domain import dns_name
from ..errors import NotFound
from ..store.engine import Store
from ..store.models import (
    Binding,
    DnsOutbox,
    HomeAddress,
    HomeAgent,
    Network,
    Subscriber,
    utcnow,
)
from . import outbox, publish_mode, views

WITHDRAW_GRACE = 3.0
"""Seconds a "binding down" withdrawal waits in the outbox before it is sent.

A move by RFC 5685 redirect closes the old binding a few milliseconds before
the new HA opens the next one; the opening transaction deletes the waiting
withdrawal, so DNS never sees the records go.  A node that really left loses
its records this much later (revocation and suspension withdraw at once)."""
FAILOVER_GRACE = 30.0
"""The same for bindings closed because their HA failed: the node is expected back through
another HA of its network (same HoA) once its DPD notices, which takes seconds."""
WITHDRAW_REASON = "binding down"


@dataclass(frozen=True, slots=True)
class LiveSa:
    """What charon says about one established IKE_SA (the bridge's input)."""

    uniqueid: str
    identity: str
    care_of: str
    care_of_port: int | None
    vips: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    opened: int
    closed: int
    kept: int


def pick_hoa(vips: Iterable[str]) -> str | None:
    """The IPv6 virtual IP (the HoA) if any, else the first address given."""
    vips = list(vips)
    for v in vips:
        try:
            if ipaddress.ip_address(v).version == 6:
                return v
        except ValueError:
            continue
    return vips[0] if vips else None


def _ha(session: Session, fqdn: str) -> HomeAgent:
    row = session.scalars(select(HomeAgent).where(HomeAgent.fqdn == fqdn)).one_or_none()
    if row is None:
        raise NotFound(f"home agent {fqdn} does not exist")
    return row


def _subscriber(session: Session, ident: str) -> Subscriber | None:
    ident = ident.strip()
    if ident.startswith("@"):  # strongSwan's way of forcing ID_FQDN
        ident = ident[1:]
    q = select(Subscriber).where(
        or_(Subscriber.identity == ident, Subscriber.fqdn == dns_name(ident))
    )
    return session.scalars(q).first()


def _open_row(session: Session, ha_id: int, uniqueid: str) -> Binding | None:
    q = select(Binding).where(
        Binding.home_agent_id == ha_id,
        Binding.ike_unique_id == uniqueid,
        Binding.down_at.is_(None),
    )
    return session.scalars(q).first()


def _open_count(session: Session, subscriber_id: int) -> int:
    q = select(Binding.id).where(Binding.subscriber_id == subscriber_id, Binding.down_at.is_(None))
    return len(session.scalars(q).all())


def _lock(session: Session, subscriber_id: int) -> None:
    """Serialise the binding transactions of one subscriber (any host): row lock on PostgreSQL.

    SQLite has one writer at a time already, so FOR UPDATE is left out there.
    """
    q = select(Subscriber.id).where(Subscriber.id == subscriber_id).with_for_update()
    session.execute(q).first()


def _registration(session: Session, publish_dns: bool | None) -> bool:
    """Registration mode? The store's mode; ``publish_dns`` only if the store holds none."""
    fallback = {True: "registration", False: "enroll", None: ""}[publish_dns]
    return publish_mode.effective(session, fallback) is domain.PublishMode.REGISTRATION


def _records(session: Session, sub: Subscriber) -> tuple[list[dnsrecords.RRset], tuple[str, ...]]:
    """The subscriber's RRsets (as published) and its network's zones."""
    net = session.get(Network, sub.network_id)
    if net is None:
        return [], ()
    ha = session.get(HomeAgent, sub.home_agent_id) if sub.home_agent_id else None
    dsub = views.subscriber(sub, net.domain, ha.fqdn if ha else None, list(sub.addresses))
    return dnsrecords.subscriber_rrsets(dsub, True), tuple(net.zones or ())


def drop_waiting_withdrawals(session: Session, names: list[str]) -> None:
    """Delete "binding down" rows of ``names`` still waiting out their grace (unclaimed)."""
    if names:
        session.execute(
            delete(DnsOutbox).where(
                DnsOutbox.name.in_(names), DnsOutbox.reason == WITHDRAW_REASON,
                DnsOutbox.done_at.is_(None), DnsOutbox.claimed_by.is_(None),
            )
        )


def _publish(session: Session, sub: Subscriber) -> None:
    """First open binding: publish, and drop a withdrawal still waiting out its grace."""
    rrsets, zones = _records(session, sub)
    drop_waiting_withdrawals(session, sorted({rr.name for rr in rrsets}))
    outbox.enqueue(session, rrsets, zones, "binding up")


def _withdraw(session: Session, sub: Subscriber, now: dt.datetime, grace: float) -> None:
    """Last binding closed: delete the records, after ``grace`` seconds."""
    rrsets, zones = _records(session, sub)
    empty = [dnsrecords.RRset(rr.name, rr.rdtype, ()) for rr in rrsets]
    due = now + dt.timedelta(seconds=grace)
    for values in outbox.outbox_rows(empty, zones, WITHDRAW_REASON, now):
        session.add(DnsOutbox(**{**values, "next_attempt_at": due}))


def _open(
    session: Session, ha: HomeAgent, sa: LiveSa, publish_dns: bool | None, now: dt.datetime
) -> Binding | None:
    sub = _subscriber(session, sa.identity)
    hoa = pick_hoa(sa.vips)
    if sub is None or hoa is None:
        return None
    _lock(session, sub.id)
    first = _open_count(session, sub.id) == 0
    row = Binding(
        subscriber_id=sub.id,
        home_agent_id=ha.id,
        care_of=sa.care_of,
        care_of_port=sa.care_of_port,
        hoa=hoa,
        ike_unique_id=sa.uniqueid,
        up_at=now,
    )
    session.add(row)
    session.flush()
    if first and _registration(session, publish_dns):
        _publish(session, sub)
    return row


def _close(
    session: Session, row: Binding, publish_dns: bool | None, now: dt.datetime,
    grace: float = 0.0,
) -> None:
    _lock(session, row.subscriber_id)
    row.down_at = now
    session.flush()
    if _open_count(session, row.subscriber_id) == 0 and _registration(session, publish_dns):
        sub = session.get(Subscriber, row.subscriber_id)
        if sub is not None:
            _withdraw(session, sub, now, grace or WITHDRAW_GRACE)


def sa_up(
    store: Store,
    ha_fqdn: str,
    sa: LiveSa,
    publish_dns: bool | None = None,
    now: dt.datetime | None = None,
) -> domain.Binding | None:
    """Record an established IKE_SA; None if its identity is no subscriber or it has no HoA.

    An open binding with the same uniqueid is updated in place (idempotent).
    """
    now = now or utcnow()
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        row = _open_row(s, ha.id, sa.uniqueid)
        if row is None:
            row = _open(s, ha, sa, publish_dns, now)
            if row is None:
                return None
        else:
            row.care_of, row.care_of_port = sa.care_of, sa.care_of_port
        return _view(s, row, ha.fqdn)


def sa_down(
    store: Store,
    ha_fqdn: str,
    uniqueid: str,
    publish_dns: bool | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Close the open binding of IKE_SA ``uniqueid``; False if there was none."""
    now = now or utcnow()
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        row = _open_row(s, ha.id, uniqueid)
        if row is None:
            return False
        _close(s, row, publish_dns, now)
        return True


def sa_rekeyed(store: Store, ha_fqdn: str, old: str, new: str) -> bool:
    """An IKE rekey gives the SA a new uniqueid; the binding follows it."""
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        row = _open_row(s, ha.id, old)
        if row is None:
            return False
        row.ike_unique_id = new
        return True


def sa_moved(store: Store, ha_fqdn: str, uniqueid: str, care_of: str, port: int | None) -> bool:
    """MOBIKE: the mobile node's care-of address changed."""
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        row = _open_row(s, ha.id, uniqueid)
        if row is None:
            return False
        row.care_of, row.care_of_port = care_of, port
        return True


def reconcile(
    store: Store,
    ha_fqdn: str,
    live: Iterable[LiveSa],
    publish_dns: bool | None = None,
    now: dt.datetime | None = None,
) -> ReconcileResult:
    """Make the open bindings of ``ha_fqdn`` equal charon's established SAs."""
    now = now or utcnow()
    live_by_id = {sa.uniqueid: sa for sa in live}
    opened = closed = kept = 0
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        q = select(Binding).where(Binding.home_agent_id == ha.id, Binding.down_at.is_(None))
        for row in s.scalars(q).all():
            sa = live_by_id.pop(row.ike_unique_id or "", None)
            if sa is None or pick_hoa(sa.vips) != row.hoa:
                _close(s, row, publish_dns, now)
                closed += 1
                if sa is not None:
                    live_by_id[sa.uniqueid] = sa
            else:
                row.care_of, row.care_of_port = sa.care_of, sa.care_of_port
                kept += 1
        for sa in live_by_id.values():
            if _open(s, ha, sa, publish_dns, now) is not None:
                opened += 1
    return ReconcileResult(opened, closed, kept)


def _view(session: Session, row: Binding, ha_fqdn: str | None = None) -> domain.Binding:
    sub = session.get(Subscriber, row.subscriber_id)
    if ha_fqdn is None:
        ha = session.get(HomeAgent, row.home_agent_id)
        ha_fqdn = ha.fqdn if ha else ""
    return domain.Binding(
        id=row.id,
        identity=sub.identity if sub else "",
        home_agent=ha_fqdn,
        care_of=row.care_of,
        care_of_port=row.care_of_port,
        hoa=row.hoa,
        up_at=views.aware(row.up_at) or row.up_at,
        down_at=views.aware(row.down_at),
        ike_unique_id=row.ike_unique_id,
    )


def list_for(store: Store, identity: str, open_only: bool = False) -> list[domain.Binding]:
    """A subscriber's bindings, newest first (``bootstrapctl show``)."""
    with store.session() as s:
        sub = _subscriber(s, identity)
        if sub is None:
            raise NotFound(f"subscriber {identity} does not exist")
        q = select(Binding).where(Binding.subscriber_id == sub.id)
        if open_only:
            q = q.where(Binding.down_at.is_(None))
        rows = s.scalars(q.order_by(Binding.id.desc())).all()
        return [_view(s, r) for r in rows]


def list_open(store: Store, ha_fqdn: str) -> list[domain.Binding]:
    """The open bindings of one home agent, oldest first."""
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        q = (
            select(Binding)
            .where(Binding.home_agent_id == ha.id, Binding.down_at.is_(None))
            .order_by(Binding.id)
        )
        return [_view(s, r, ha.fqdn) for r in s.scalars(q).all()]


def still_allowed(store: Store, ha_fqdn: str, identities: Iterable[str]) -> set[str]:
    """Those of ``identities`` (RFC 822 or FQDN form) that name an active subscriber of the HA.

    Asks only about the given identities, so a radius-mode HA with 100,000
    subscribers checks its live SAs without reading them all.
    """
    wanted = {i.strip().lstrip("@") for i in identities}
    if not wanted:
        return set()
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        q = select(Subscriber.identity, Subscriber.fqdn).where(
            Subscriber.home_agent_id == ha.id,
            Subscriber.state == "active",
            or_(Subscriber.identity.in_(wanted), Subscriber.fqdn.in_(wanted)),
        )
        found: set[str] = set()
        for ident, fqdn in s.execute(q):
            found.update({ident, fqdn})
    return wanted & found


@dataclass(frozen=True, slots=True)
class HomeLink:
    """What the HA must answer for on its home link (proxy ND / ARP)."""

    addresses: tuple[str, ...]
    """The IPv6 HoA of every open binding of the HA, and the subscriber's IPv4 HoA if any."""
    networks: tuple[str, ...]
    """The HA's network: its home prefix and IPv4 pool (where proxy entries are ours)."""


def home_link(store: Store, ha_fqdn: str) -> HomeLink:
    """The HoAs of ``ha_fqdn``'s open bindings (any family) and its home network's ranges."""
    with store.session() as s:
        ha = _ha(s, ha_fqdn)
        net = s.get(Network, ha.network_id)
        ranges = tuple(r for r in ((net.prefix, net.ipv4_pool) if net else ()) if r)
        rows = s.execute(
            select(Binding.hoa, Binding.subscriber_id)
            .where(Binding.home_agent_id == ha.id, Binding.down_at.is_(None))
        ).all()
        found = {hoa for hoa, _ in rows}
        subs = {sid for _, sid in rows}
        if subs:
            q = select(HomeAddress.address).where(
                HomeAddress.subscriber_id.in_(subs),
                HomeAddress.family == 4,
                HomeAddress.released_at.is_(None),
            )
            found.update(s.scalars(q))
        return HomeLink(tuple(sorted(found)), ranges)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where the store says a subscriber belongs now (for redirects off a draining HA)."""

    identity: str
    home_agent: str
    address: str
    since: dt.datetime


def assignments(store: Store, identities: Iterable[str]) -> dict[str, Assignment]:
    """The current HA of each given identity (RFC 822 or FQDN form) that has one."""
    wanted = {i.strip().lstrip("@") for i in identities}
    if not wanted:
        return {}
    out: dict[str, Assignment] = {}
    with store.session() as s:
        q = (
            select(
                Subscriber.identity,
                Subscriber.fqdn,
                Subscriber.updated_at,
                HomeAgent.fqdn,
                HomeAgent.address,
            )
            .join(HomeAgent, HomeAgent.id == Subscriber.home_agent_id)
            .where(or_(Subscriber.identity.in_(wanted), Subscriber.fqdn.in_(wanted)))
        )
        for ident, fqdn, updated, ha_fqdn, address in s.execute(q):
            a = Assignment(ident, ha_fqdn, address, views.aware(updated) or updated)
            for key in (ident, fqdn):
                if key in wanted:
                    out[key] = a
    return out


def close_all_of(
    session: Session, ha_id: int, publish_dns: bool | None, now: dt.datetime
) -> int:
    """Close every open binding of HA ``ha_id`` in the caller's transaction (the HA failed).

    Its charon is gone, so none of those SAs still carries traffic; the rows
    keep the last care-of address the taking-over HA initiates to.
    """
    q = select(Binding).where(Binding.home_agent_id == ha_id, Binding.down_at.is_(None))
    rows = session.scalars(q).all()
    for row in rows:
        _close(session, row, publish_dns, now, FAILOVER_GRACE)
    return len(rows)
