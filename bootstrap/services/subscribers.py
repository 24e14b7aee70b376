"""Subscribers: enrollment, suspension, resumption, revocation, listing.

Enrollment is one transaction: the subscriber row, its home agent (the live
HA of the network with the most spare capacity, SRV-weighted, chosen by
:mod:`bootstrap.rules` and taken with a guarded counter update), its HoA(s)
(:mod:`.allocation`), its credential, the DNS outbox rows, the audit entry
and the change-version bump all commit together or not at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from .. import dnsrecords, domain
from ..config import Settings
from ..errors import Conflict, Exhausted, NotFound, ValidationError
from ..store import retry
from ..store.engine import Store
from ..store.models import Binding, HomeAgent, Network, Subscriber, utcnow
from . import (
    allocation,
    audit,
    bindings,
    networks,
    outbox,
    publish_mode,
    slots,
    validate,
    versions,
    views,
)
from .actor import Actor

_rng = random.SystemRandom()


@dataclass(frozen=True, slots=True)
class Enrollment:
    """The result of enroll: what the operator must see once."""

    subscriber: domain.Subscriber
    home_agent: domain.HomeAgent
    secret: str | None = None
    cert_path: Path | None = None
    key_path: Path | None = None
    ca_path: Path | None = None


def _row(session: Session, identity: str) -> Subscriber:
    ident = identity.strip()
    row = session.scalars(
        select(Subscriber)
        .where(Subscriber.identity == ident)
        .options(selectinload(Subscriber.addresses))
    ).first()
    if row is None:
        raise NotFound(f"subscriber {ident!r} does not exist")
    return row


def _view(session: Session, row: Subscriber) -> domain.Subscriber:
    ha = row.home_agent.fqdn if row.home_agent is not None else None
    return views.subscriber(row, row.network.domain, ha, list(row.addresses))


def _choose_ha(
    session: Session, net: Network, settings: Settings
) -> tuple[domain.HomeAgent, list[domain.HomeAgent]]:
    """Claim a slot on the best live HA (:func:`slots.claim_best`); Exhausted if none can take it.

    Returns the chosen HA (with its new load) and all HAs of the network.
    """
    timeout = dt.timedelta(seconds=settings.store.heartbeat_timeout)
    got = slots.claim_best(session, net.id, net.domain, utcnow(), timeout, _rng)
    if got.home_agent is not None:
        return got.home_agent, got.agents
    if got.contended:
        raise Exhausted(f"could not claim a home agent slot in network {net.domain!r}; try again")
    raise Exhausted(
        f"network {net.domain!r} has no live home agent with spare capacity"
        " (see 'bootstrapctl ha list')"
    )


def _refuse_infrastructure_name(session: Session, name: str) -> None:
    """An MN's FQDN must not be a network domain (the HAs' shared IKE identity) or an HA's name."""
    if session.scalars(select(Network.id).where(Network.domain == name)).first() is not None:
        raise Conflict(
            f"fqdn {name!r} is a home network's domain; give the subscriber its own name"
        )
    if session.scalars(select(HomeAgent.id).where(HomeAgent.fqdn == name)).first() is not None:
        raise Conflict(f"fqdn {name!r} is a home agent's name; give the subscriber its own name")


def _publish_now(session: Session, settings: Settings) -> bool:
    """Enroll mode (the store's, :mod:`.publish_mode`): records exist from enrollment on."""
    mode = publish_mode.effective(session, settings.dns.publish)
    return mode is domain.PublishMode.ENROLL


def enroll_in(
    session: Session,
    settings: Settings,
    actor: Actor,
    identity: str,
    network: str | None = None,
    fqdn: str | None = None,
    auth: str = "eap",
    ipv4: bool = False,
) -> Enrollment:
    """Enroll inside the caller's transaction (used by bulk import)."""
    ident, realm = validate.identity(identity)
    name = validate.fqdn(fqdn) if fqdn else validate.derived_fqdn(ident)
    try:
        method = domain.AuthMethod(auth)
    except ValueError:
        raise ValidationError(f"auth must be 'eap' or 'cert', not {auth!r}") from None
    net = networks.row_by_domain(session, network or realm)
    if ipv4 and not net.ipv4_pool:
        raise Conflict(f"network {net.domain!r} has no IPv4 pool, so --ipv4 cannot be met")
    clash = session.execute(
        select(Subscriber.identity, Subscriber.fqdn, Subscriber.state).where(
            or_(Subscriber.identity == ident, Subscriber.fqdn == name)
        )
    ).first()
    if clash is not None:
        if clash.identity == ident:
            if clash.state == domain.SubscriberState.REVOKED.value:
                raise Conflict(
                    f"subscriber {ident!r} was revoked; enroll it again with re-enrollment"
                    " (it gets a new credential and home address)"
                )
            raise Conflict(f"subscriber {ident!r} is already enrolled")
        raise Conflict(f"fqdn {name!r} already belongs to another subscriber")
    _refuse_infrastructure_name(session, name)
    now = utcnow()
    row = Subscriber(
        identity=ident,
        fqdn=name,
        network_id=net.id,
        state=domain.SubscriberState.ACTIVE.value,
        auth=method.value,
        created_at=now,
        updated_at=now,
    )
    return _provision(session, settings, actor, row, net, method, ipv4, "subscriber.enroll")


def _provision(
    session: Session,
    settings: Settings,
    actor: Actor,
    row: Subscriber,
    net: Network,
    method: domain.AuthMethod,
    ipv4: bool,
    action: str,
) -> Enrollment:
    """Give ``row`` an HA slot, fresh HoA(s) and a fresh credential; publish and audit it."""
    ha, agents = _choose_ha(session, net, settings)
    session.add(row)
    # cryptography and MD4 load here, not at import: 'bootstrapctl show/list' never needs them
    from . import credentials, radius

    now = utcnow()
    ident, name = row.identity, row.fqdn
    secret = None
    cert_path = key_path = ca_path = None
    row.home_agent_id = ha.id
    row.network_id = net.id
    row.state = domain.SubscriberState.ACTIVE.value
    row.auth = method.value
    row.updated_at = now
    row.secret_enc = row.key_enc = row.nt_hash = None
    row.cert_pem = row.cert_serial = None
    row.bundle_issued_at = None  # a new credential: its bundle has not been handed out
    if method is domain.AuthMethod.EAP:
        secret = credentials.new_eap_secret()
        row.secret_enc = credentials.encrypt(settings, secret.encode())
        row.nt_hash = radius.nt_hash(secret)  # what FreeRADIUS checks EAP-MSCHAPv2 against
        row.credential_ref = "eap-secret"
    else:
        issued = credentials.issue_certificate(session, settings, ident, name)
        row.cert_pem = issued.cert_pem.decode()
        row.key_enc = credentials.encrypt(settings, issued.key_pem)
        row.cert_serial = format(issued.serial, "x")
        cert_path, key_path, ca_path = credentials.write_certificate_files(
            settings, ident, issued, credentials.ca_pem_in(session)
        )
        row.credential_ref = str(cert_path)
    session.flush()
    avoid = frozenset(str(h.address) for h in agents)
    hoa = allocation.allocate_v6(session, net.id, ipaddress.IPv6Network(net.prefix), row.id, avoid)
    hoa4 = allocation.allocate_v4(session, net.id, row.id, now) if ipv4 else None
    view = domain.Subscriber(
        id=row.id,
        identity=ident,
        fqdn=name,
        network=net.domain,
        network_id=net.id,
        home_agent=ha.fqdn,
        state=domain.SubscriberState.ACTIVE,
        auth=method,
        hoas=(hoa,),
        hoa4=hoa4,
        credential_ref=row.credential_ref,
        created_at=views.aware(row.created_at) or now,
        updated_at=now,
    )
    if _publish_now(session, settings):
        outbox.enqueue_subscriber(session, view, net.zones, True, "enroll")
    versions.bump(session, versions.SUBSCRIBERS)
    audit.record(
        session,
        actor,
        action,
        ident,
        fqdn=name,
        network=net.domain,
        ha=ha.fqdn,
        hoa=[str(hoa)],
        hoa4=str(hoa4) if hoa4 else None,
        auth=method.value,
    )
    return Enrollment(
        subscriber=view,
        home_agent=ha,
        secret=secret,
        cert_path=cert_path,
        key_path=key_path,
        ca_path=ca_path,
    )


def reenroll(
    store: Store,
    settings: Settings,
    actor: Actor,
    identity: str,
    auth: str | None = None,
    ipv4: bool = False,
) -> Enrollment:
    """Enroll a revoked subscriber again: same identity, FQDN and network, a new credential,
    a new HA slot and new home address(es).  Its old addresses stay quarantined (their rows
    keep blocking them until the quarantine ends), so the new HoA always differs."""
    with store.session() as s:
        row = _row(s, identity)
        if row.state != domain.SubscriberState.REVOKED.value:
            raise Conflict(
                f"subscriber {row.identity!r} is {row.state}; only a revoked subscriber can be"
                " enrolled again"
            )
        try:
            method = domain.AuthMethod(auth or row.auth)
        except ValueError:
            raise ValidationError(f"auth must be 'eap' or 'cert', not {auth!r}") from None
        net = s.get(Network, row.network_id)
        assert net is not None
        if ipv4 and not net.ipv4_pool:
            raise ValidationError(
                f"network {net.domain!r} has no IPv4 pool, so --ipv4 cannot be met"
            )
        return _provision(s, settings, actor, row, net, method, ipv4, "subscriber.reenroll")


def enroll(
    store: Store,
    settings: Settings,
    actor: Actor,
    identity: str,
    network: str | None = None,
    fqdn: str | None = None,
    auth: str = "eap",
    ipv4: bool = False,
) -> Enrollment:
    """Enroll one subscriber; see the module docstring for what happens in the transaction.

    A lost connection (a failover) is retried (:func:`bootstrap.store.retry.transact`); when
    it was lost while committing, the retry first looks whether that attempt's row is there
    (same identity, same row id), so the caller is told once, with the secret it will use,
    and the identity is never enrolled twice nor a second HoA drawn.
    """
    pending: list[Enrollment] = []

    def attempt(s: Session) -> Enrollment:
        pending.clear()
        pending.append(enroll_in(s, settings, actor, identity, network, fqdn, auth, ipv4))
        s.flush()
        return pending[0]

    def resolve(s: Session) -> Enrollment | None:
        if not pending:
            return None
        mine = pending[0]
        row_id = s.scalars(
            select(Subscriber.id).where(Subscriber.identity == mine.subscriber.identity)
        ).first()
        return mine if row_id == mine.subscriber.id else None

    try:
        return retry.transact(store, attempt, resolve)
    except IntegrityError:
        # a concurrent writer enrolled the same identity or FQDN between check and insert
        raise Conflict(f"subscriber {identity.strip()!r} or its fqdn is already enrolled") from None


def get(store: Store, identity: str) -> domain.Subscriber:
    with store.session() as s:
        return _view(s, _row(s, identity))


def bindings_of(store: Store, identity: str, limit: int = 50) -> list[domain.Binding]:
    """The subscriber's bindings, newest first (written by the VICI bridge)."""
    with store.session() as s:
        row = _row(s, identity)
        q = (
            select(Binding, HomeAgent.fqdn)
            .join(HomeAgent, HomeAgent.id == Binding.home_agent_id)
            .where(Binding.subscriber_id == row.id)
            .order_by(Binding.id.desc())
            .limit(limit)
        )
        return [
            domain.Binding(
                id=b.id,
                identity=row.identity,
                home_agent=ha,
                care_of=b.care_of,
                care_of_port=b.care_of_port,
                hoa=b.hoa,
                up_at=views.aware(b.up_at) or b.up_at,
                down_at=views.aware(b.down_at),
                ike_unique_id=b.ike_unique_id,
            )
            for b, ha in s.execute(q)
        ]


def list_page(
    store: Store,
    network: str | None = None,
    state: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[domain.Subscriber], int]:
    """One page of subscribers ordered by identity, plus the total that match."""
    if state is not None:
        try:
            domain.SubscriberState(state)
        except ValueError:
            allowed = ", ".join(x.value for x in domain.SubscriberState)
            raise ValidationError(f"state must be one of {allowed}, not {state!r}") from None
    with store.session() as s:
        t = Subscriber.__table__.c
        conds: list[ColumnElement[bool]] = []
        if network is not None:
            conds.append(t.network_id == networks.row_by_domain(s, network).id)
        if state is not None:
            conds.append(t.state == state)
        search = validate.text(search, "search").strip() if search else None
        if search:
            like = validate.like_pattern(search)
            conds.append(or_(t.identity.like(like, escape="\\"), t.fqdn.like(like, escape="\\")))
        keys = select(t.identity).where(*conds).order_by(t.identity).limit(limit).offset(offset)
        if search:
            # A substring cannot use an index: one scan yields the page and the total.
            got = s.execute(keys.add_columns(func.count().over())).all()
            idents = [r[0] for r in got]
            total = got[0][1] if got else None
        else:
            # The page's keys from the identity index alone (no row is read for the
            # rows skipped by the offset), the rows of the page only after.
            idents = list(s.scalars(keys))
            total = None
        if total is None:
            total = s.scalar(select(func.count()).select_from(Subscriber).where(*conds)) or 0
        rows = s.scalars(
            select(Subscriber)
            .where(Subscriber.identity.in_(idents))
            .order_by(Subscriber.identity)
            .options(
                selectinload(Subscriber.addresses),
                selectinload(Subscriber.network),
                selectinload(Subscriber.home_agent),
            )
        )
        return [_view(s, r) for r in rows], total


def _change_state(
    store: Store,
    settings: Settings,
    actor: Actor,
    identity: str,
    target: domain.SubscriberState,
    allowed_from: tuple[domain.SubscriberState, ...],
) -> domain.Subscriber:
    with store.session() as s:
        row = _row(s, identity)
        current = domain.SubscriberState(row.state)
        if current is target:
            raise Conflict(f"subscriber {row.identity!r} is already {target.value}")
        if current not in allowed_from:
            raise Conflict(
                f"subscriber {row.identity!r} is {current.value} and cannot be made {target.value}"
            )
        before = _view(s, row)
        now = utcnow()
        row.state = target.value
        row.updated_at = now
        if target is domain.SubscriberState.REVOKED:
            quarantine = dt.timedelta(days=settings.store.hoa_quarantine_days)
            live = [a for a in row.addresses if a.released_at is None]
            allocation.release(s, live, quarantine, now)
            if row.home_agent_id is not None:
                slots.release(s, row.home_agent_id)
            row.home_agent_id = None
            row.secret_enc = None
            row.key_enc = None
            row.nt_hash = None
        s.flush()
        net = row.network
        publish = target is domain.SubscriberState.ACTIVE and _publish_now(s, settings)
        # delete by the addresses it had, publish by the addresses it has
        view_for_dns = before if not publish else _view(s, row)
        if publish or before.state is domain.SubscriberState.ACTIVE:
            # a registration-mode withdrawal waiting out its grace is superseded: act now
            bindings.drop_waiting_withdrawals(s, sorted(
                {rr.name for rr in dnsrecords.subscriber_rrsets(view_for_dns, True)}))
            outbox.enqueue_subscriber(
                s,
                _with_state(view_for_dns, target),
                net.zones,
                publish,
                f"subscriber.{target.value}",
            )
        versions.bump(s, versions.SUBSCRIBERS)
        audit.record(s, actor, f"subscriber.{_VERB[target]}", row.identity, before=current.value)
        s.refresh(row, ["addresses", "home_agent"])
        return _view(s, row)


_VERB = {
    domain.SubscriberState.SUSPENDED: "suspend",
    domain.SubscriberState.ACTIVE: "resume",
    domain.SubscriberState.REVOKED: "revoke",
}


def _with_state(sub: domain.Subscriber, state: domain.SubscriberState) -> domain.Subscriber:
    return dataclasses.replace(sub, state=state)


def suspend(store: Store, settings: Settings, actor: Actor, identity: str) -> domain.Subscriber:
    """Keep the subscriber's HoA and HA but refuse it service and unpublish it."""
    return _change_state(
        store,
        settings,
        actor,
        identity,
        domain.SubscriberState.SUSPENDED,
        (domain.SubscriberState.ACTIVE,),
    )


def resume(store: Store, settings: Settings, actor: Actor, identity: str) -> domain.Subscriber:
    """Give a suspended subscriber service again."""
    return _change_state(
        store,
        settings,
        actor,
        identity,
        domain.SubscriberState.ACTIVE,
        (domain.SubscriberState.SUSPENDED,),
    )


def revoke(store: Store, settings: Settings, actor: Actor, identity: str) -> domain.Subscriber:
    """End the subscription for good: credentials destroyed, HoA quarantined, HA slot freed."""
    return _change_state(
        store,
        settings,
        actor,
        identity,
        domain.SubscriberState.REVOKED,
        (domain.SubscriberState.ACTIVE, domain.SubscriberState.SUSPENDED),
    )


def count_by_state(store: Store) -> dict[str, int]:
    with store.session() as s:
        q = select(Subscriber.state, func.count(Subscriber.id)).group_by(Subscriber.state)
        return {state: n for state, n in s.execute(q)}


def ha_of(store: Store, identity: str) -> domain.HomeAgent | None:
    with store.session() as s:
        row = _row(s, identity)
        if row.home_agent is None:
            return None
        return views.home_agent(row.home_agent, row.network.domain)


__all__ = [
    "Enrollment",
    "bindings_of",
    "count_by_state",
    "enroll",
    "enroll_in",
    "get",
    "ha_of",
    "list_page",
    "reenroll",
    "resume",
    "revoke",
    "suspend",
]
