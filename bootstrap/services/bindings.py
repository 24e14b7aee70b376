"""Bindings: which subscriber is up on which home agent, from which care-of address.

The VICI bridge calls these functions when charon reports an IKE_SA up,
down, rekeyed or moved (MOBIKE), and :func:`reconcile` after every
(re)connect so that no binding is missed or left open while the bridge was
away.  A binding is keyed by (home agent, IKE_SA uniqueid): charon reuses
uniqueids after a restart, so only *open* rows are ever matched.

An SA names its peer by identity; both the subscriber's RFC 822 identity
(``mn@example.com``) and its FQDN (RFC 5026 ID_FQDN) are accepted.

With ``[dns] publish = "registration"`` the first open binding of a
subscriber publishes its AAAA/A/PTR records and closing the last one
withdraws them: IKE_SA up/down stands in for the MIPv6 registration (our
charon-based HA sees no Binding Update), written to the DNS outbox in the
same transaction.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import domain
from ..domain import dns_name
from ..errors import NotFound
from ..store.engine import Store
from ..store.models import Binding, HomeAgent, Network, Subscriber, utcnow
from . import outbox, views


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


def _publish(session: Session, sub: Subscriber, shown: bool, reason: str) -> None:
    """DNS outbox rows for the subscriber's records (registration mode)."""
    net = session.get(Network, sub.network_id)
    if net is None:
        return
    ha = session.get(HomeAgent, sub.home_agent_id) if sub.home_agent_id else None
    dsub = views.subscriber(sub, net.domain, ha.fqdn if ha else None, list(sub.addresses))
    outbox.enqueue_subscriber(session, dsub, net.zones or (), shown, reason)


def _open(
    session: Session, ha: HomeAgent, sa: LiveSa, publish_dns: bool, now: dt.datetime
) -> Binding | None:
    sub = _subscriber(session, sa.identity)
    hoa = pick_hoa(sa.vips)
    if sub is None or hoa is None:
        return None
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
    if publish_dns and first:
        _publish(session, sub, True, "binding up")
    return row


def _close(session: Session, row: Binding, publish_dns: bool, now: dt.datetime) -> None:
    row.down_at = now
    session.flush()
    if publish_dns and _open_count(session, row.subscriber_id) == 0:
        sub = session.get(Subscriber, row.subscriber_id)
        if sub is not None:
            _publish(session, sub, False, "binding down")


def sa_up(
    store: Store,
    ha_fqdn: str,
    sa: LiveSa,
    publish_dns: bool = False,
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
    publish_dns: bool = False,
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
    publish_dns: bool = False,
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
