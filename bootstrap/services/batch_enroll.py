"""Enrollment of one import batch with set-based SQL: a handful of statements per batch.

Every rule of a single enrollment (:func:`.subscribers.enroll_in`) holds, but
each step touches the whole batch at once instead of one row:

1. the rows are validated in Python first (identity, FQDN, auth, network,
   infrastructure names, duplicates inside the file): a bad row is rejected
   with its line and reason before any SQL runs;
2. one ``SELECT`` finds identities already enrolled (counted as existing, so
   a rerun after a crash completes the import) and FQDNs taken by others;
3. home agents are chosen per row by the enrollment rule over in-memory
   counts (:func:`bootstrap.rules.best_many`), and claimed with one guarded counter update per HA
   per batch (:func:`.slots.claim` with a count): capacity holds under
   concurrent writers because the database checks ``assigned + n <= capacity``;
4. EAP secrets are generated, Fernet-encrypted and NT-hashed in Python;
5. one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per batch for the
   subscribers; rows a concurrent writer took meanwhile are re-checked one by
   one and reported (their HA slots are given back);
6. one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per round for the HoAs:
   random interface identifiers drawn in Python, the unique constraint
   decides, and only the collided rows draw again;
7. the audit rows (one per subscriber, the same ``subscriber.enroll`` entry a
   single enrollment writes, so ``bootstrapctl audit --target`` finds it) and
   the DNS outbox rows by ``executemany``; the change version bumped once.

Certificate rows issue a key pair and write files each, so they take the
single-row path inside a savepoint; imports are almost always EAP.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import String, Table, any_, bindparam, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from .. import domain, rules
from ..config import Settings
from ..errors import BootstrapError, ValidationError
from ..store import bulkload
from ..store.engine import Store
from ..store.models import (
    AuditLog,
    Base,
    DnsOutbox,
    HomeAddress,
    HomeAgent,
    Network,
    Subscriber,
    utcnow,
)
from . import (
    allocation,
    audit,
    credentials,
    outbox,
    publish_mode,
    radius,
    slots,
    subscribers,
    validate,
    versions,
    views,
)
from .actor import Actor
from .bulk import BatchResult, Row

_rng = random.SystemRandom()
MAX_HA_ROUNDS = 8
LOOKUP_SLICE = 100


@dataclass(slots=True)
class _Net:
    id: int
    name: str
    prefix: ipaddress.IPv6Network
    zones: tuple[str, ...]
    agents: list[domain.HomeAgent]


@dataclass(slots=True)
class _Candidate:
    row: Row
    ident: str
    fqdn: str
    net: _Net
    ha: domain.HomeAgent | None = None
    secret: str = ""
    values: dict[str, object] = field(default_factory=dict)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _networks(session: Session) -> dict[str, _Net]:
    """Every network with its HAs (small tables: read once per batch, current counts)."""
    nets = {
        r.id: _Net(r.id, r.domain, ipaddress.IPv6Network(r.prefix), tuple(r.zones or ()), [])
        for r in session.execute(select(Network.__table__))
    }
    for r in session.execute(select(HomeAgent.__table__)):
        net = nets[r.network_id]
        net.agents.append(views.home_agent_values(r._mapping, net.name))
    return {n.name: n for n in nets.values()}


def _infrastructure_refusal(name: str, nets: dict[str, _Net]) -> str | None:
    """The reason an MN may not take ``name`` (see ``subscribers._refuse_infrastructure_name``)."""
    if name in nets:
        return f"fqdn {name!r} is a home network's domain; give the subscriber its own name"
    for net in nets.values():
        if any(h.fqdn == name for h in net.agents):
            return f"fqdn {name!r} is a home agent's name; give the subscriber its own name"
    return None


def _validate(
    rows: Sequence[Row], nets: dict[str, _Net], out: BatchResult
) -> tuple[list[_Candidate], list[Row]]:
    """Python-side checks; returns the EAP candidates and the certificate rows."""
    cands: list[_Candidate] = []
    certs: list[Row] = []
    seen_ident: set[str] = set()
    seen_fqdn: dict[str, int] = {}
    for r in rows:
        try:
            ident, realm = validate.identity(r.identity)
            name = validate.fqdn(r.fqdn) if r.fqdn else validate.derived_fqdn(ident)
            try:
                method = domain.AuthMethod(r.auth)
            except ValueError:
                raise ValidationError(f"auth must be 'eap' or 'cert', not {r.auth!r}") from None
        except ValidationError as exc:
            out.rejected.append((r.line, r.identity, str(exc)))
            continue
        wanted = domain.dns_name(r.network) if r.network else realm
        net = nets.get(wanted)
        if net is None:
            reason = (
                f"network {r.network or realm!r} does not exist (see 'bootstrapctl network list')"
            )
            out.rejected.append((r.line, r.identity, reason))
            continue
        refusal = _infrastructure_refusal(name, nets)
        if refusal is not None:
            out.rejected.append((r.line, r.identity, refusal))
            continue
        if ident in seen_ident:
            out.existing += 1  # the file names it twice: the first row enrolls it
            continue
        if name in seen_fqdn:
            reason = f"fqdn {name!r} already belongs to another subscriber (line {seen_fqdn[name]})"
            out.rejected.append((r.line, r.identity, reason))
            continue
        seen_ident.add(ident)
        seen_fqdn[name] = r.line
        if method is domain.AuthMethod.CERT:
            certs.append(r)
        else:
            cands.append(_Candidate(r, ident, name, net))
    return cands, certs


def _drop_enrolled(session: Session, cands: list[_Candidate], out: BatchResult) -> list[_Candidate]:
    """Identities already enrolled count as existing, taken FQDNs are rejected.

    Looked up in slices of :data:`LOOKUP_SLICE` keys: given the 1,000 keys of a
    whole batch at once, PostgreSQL estimates 2,000 matches and scans the table
    instead of probing its two unique indexes, which makes every batch slower
    than the one before.
    """
    if not cands:
        return cands
    t = _table(Subscriber)
    postgresql = session.get_bind().dialect.name == "postgresql"
    found: list[tuple[str, str]] = []
    for start in range(0, len(cands), LOOKUP_SLICE):
        part = cands[start : start + LOOKUP_SLICE]
        idents = [c.ident for c in part]
        names = [c.fqdn for c in part]
        if postgresql:  # two arrays, not 2n parameters
            ident_in = t.c.identity == any_(bindparam("i", idents, type_=ARRAY(String)))
            fqdn_in = t.c.fqdn == any_(bindparam("f", names, type_=ARRAY(String)))
        else:
            ident_in, fqdn_in = t.c.identity.in_(idents), t.c.fqdn.in_(names)
        q = select(t.c.identity, t.c.fqdn).where(or_(ident_in, fqdn_in))
        found += [(r.identity, r.fqdn) for r in session.execute(q)]
    if not found:
        return cands
    have = {ident for ident, _ in found}
    owner = {fqdn: ident for ident, fqdn in found}
    keep = []
    for c in cands:
        if c.ident in have:
            out.existing += 1
            out.existing_identities.append(c.ident)
        elif c.fqdn in owner:
            reason = f"fqdn {c.fqdn!r} already belongs to another subscriber"
            out.rejected.append((c.row.line, c.row.identity, reason))
        else:
            keep.append(c)
    return keep


def _assign_home_agents(
    session: Session, settings: Settings, cands: list[_Candidate], out: BatchResult
) -> list[_Candidate]:
    """Choose each row's HA by the enrollment rule and claim the slots, n per HA at once."""
    timeout = dt.timedelta(seconds=settings.store.heartbeat_timeout)
    by_net: dict[int, list[_Candidate]] = defaultdict(list)
    for c in cands:
        by_net[c.net.id].append(c)
    placed: list[_Candidate] = []
    for group in by_net.values():
        net = group[0].net
        pending = group
        for _ in range(MAX_HA_ROUNDS):
            if not pending:
                break
            agents = slots.agents_of(session, net.id, net.name)
            choices = rules.best_many(agents, len(pending), utcnow(), timeout, _rng)
            plan: dict[int, list[_Candidate]] = defaultdict(list)
            unplaced: list[_Candidate] = []
            for c, ha in zip(pending, choices, strict=True):
                if ha is None:
                    unplaced.append(c)
                    continue
                c.ha = ha
                plan[ha.id].append(c)
            retry: list[_Candidate] = []
            for ha_id, members in plan.items():
                if slots.claim(session, ha_id, len(members)):
                    placed.extend(members)
                else:  # another writer took slots meanwhile: re-plan these rows
                    retry.extend(members)
            for c in unplaced:
                reason = (
                    f"network {net.name!r} has no live home agent with spare capacity"
                    " (see 'bootstrapctl ha list')"
                )
                out.rejected.append((c.row.line, c.row.identity, reason))
            pending = retry
        for c in pending:
            reason = f"could not claim a home agent slot in network {net.name!r}; try again"
            out.rejected.append((c.row.line, c.row.identity, reason))
    return placed


def _insert_subscribers(
    session: Session, settings: Settings, cands: list[_Candidate], now: dt.datetime
) -> tuple[dict[str, int], list[_Candidate]]:
    """One statement; returns identity -> id of the inserted rows and the rows that lost."""
    f = credentials.fernet(settings)
    for c in cands:
        assert c.ha is not None
        c.secret = credentials.new_eap_secret()
        c.values = {
            "identity": c.ident,
            "fqdn": c.fqdn,
            "network_id": c.net.id,
            "home_agent_id": c.ha.id,
            "state": domain.SubscriberState.ACTIVE.value,
            "auth": domain.AuthMethod.EAP.value,
            "credential_ref": "eap-secret",
            "secret_enc": f.encrypt(c.secret.encode()),
            "nt_hash": radius.nt_hash(c.secret),
            "created_at": now,
            "updated_at": now,
        }
    new = bulkload.insert_new(
        session, _table(Subscriber), [c.values for c in cands], ("id", "identity"), "identity"
    )
    ids = {ident: sid for sid, ident in new}
    lost = [c for c in cands if c.ident not in ids]
    return ids, lost


def _allocate_hoas(
    session: Session, cands: list[_Candidate], ids: dict[str, int], now: dt.datetime
) -> dict[int, ipaddress.IPv6Address]:
    """Random IIDs for the whole batch; only rows whose draw collided draw again."""
    hoas: dict[int, ipaddress.IPv6Address] = {}
    pending = cands
    for _ in range(allocation.MAX_DRAWS):
        if not pending:
            return hoas
        drawn: dict[int, ipaddress.IPv6Address] = {}
        params = []
        for c in pending:
            avoid = {h.address for h in c.net.agents}
            addr = allocation.draw_v6(c.net.prefix)
            while addr in avoid:
                addr = allocation.draw_v6(c.net.prefix)
            sid = ids[c.ident]
            drawn[sid] = addr
            params.append(
                {
                    "network_id": c.net.id,
                    "subscriber_id": sid,
                    "family": 6,
                    "address": str(addr),
                    "assigned_at": now,
                }
            )
        won = {
            r[0]
            for r in bulkload.insert_new(
                session, _table(HomeAddress), params, ("subscriber_id",), "subscriber_id"
            )
        }
        for sid in won:
            hoas[sid] = drawn[sid]
        pending = [c for c in pending if ids[c.ident] not in won]
    from ..errors import Exhausted

    raise Exhausted(f"no free IPv6 home address found after {allocation.MAX_DRAWS} draws")


def enroll_batch(
    session: Session, settings: Settings, actor: Actor, rows: Sequence[Row]
) -> BatchResult:
    """Enroll ``rows`` inside the caller's transaction; see the module docstring."""
    out = BatchResult()
    nets = _networks(session)
    cands, certs = _validate(rows, nets, out)
    cands = _drop_enrolled(session, cands, out)
    cands = _assign_home_agents(session, settings, cands, out)
    now = utcnow()
    if cands:
        ids, lost = _insert_subscribers(session, settings, cands, now)
        if lost:
            _recheck_lost(session, lost, out)
            cands = [c for c in cands if c.ident in ids]
        hoas = _allocate_hoas(session, cands, ids, now)
        _write_side_effects(session, settings, actor, cands, ids, hoas, now)
        out.enrolled += len(cands)
        out.secrets.extend((c.ident, c.secret) for c in cands)
    for r in certs:
        try:
            with session.begin_nested():
                e = subscribers.enroll_in(
                    session, settings, actor, r.identity, r.network, r.fqdn, "cert"
                )
        except BootstrapError as exc:
            out.rejected.append((r.line, r.identity, str(exc)))
            continue
        out.enrolled += 1
        if e.cert_path is not None:
            out.certificates.append((e.subscriber.identity, str(e.cert_path)))
    out.rejected.sort()
    return out


def _recheck_lost(session: Session, lost: list[_Candidate], out: BatchResult) -> None:
    """Rows a concurrent writer inserted between our check and insert: one by one."""
    per_ha: dict[int, int] = defaultdict(int)
    t = Subscriber.__table__
    for c in lost:
        assert c.ha is not None
        per_ha[c.ha.id] += 1
        same = session.execute(select(t.c.id).where(t.c.identity == c.ident)).first()
        if same is not None:
            out.existing += 1
        else:
            reason = f"fqdn {c.fqdn!r} already belongs to another subscriber"
            out.rejected.append((c.row.line, c.row.identity, reason))
    for ha_id, n in per_ha.items():
        slots.release(session, ha_id, n)


def _write_side_effects(
    session: Session,
    settings: Settings,
    actor: Actor,
    cands: list[_Candidate],
    ids: dict[str, int],
    hoas: dict[int, ipaddress.IPv6Address],
    now: dt.datetime,
) -> None:
    """Audit rows and DNS outbox rows by executemany, one change-version bump."""
    mode = publish_mode.effective(session, settings.dns.publish)  # the store's mode
    publish = mode is domain.PublishMode.ENROLL
    dns_rows: list[dict[str, object]] = []
    audit_rows: list[dict[str, object]] = []
    for c in cands:
        assert c.ha is not None
        sid = ids[c.ident]
        hoa = hoas[sid]
        if publish and c.net.zones:
            view = domain.Subscriber(
                id=sid,
                identity=c.ident,
                fqdn=c.fqdn,
                network=c.net.name,
                network_id=c.net.id,
                home_agent=c.ha.fqdn,
                state=domain.SubscriberState.ACTIVE,
                auth=domain.AuthMethod.EAP,
                hoas=(hoa,),
            )
            dns_rows.extend(outbox.subscriber_rows(view, c.net.zones, True, "enroll", now))
        audit_rows.append(
            audit.values(
                actor,
                "subscriber.enroll",
                c.ident,
                now,
                fqdn=c.fqdn,
                network=c.net.name,
                ha=c.ha.fqdn,
                hoa=[str(hoa)],
                hoa4=None,
                auth=domain.AuthMethod.EAP.value,
            )
        )
    if dns_rows:
        bulkload.insert_rows(session, _table(DnsOutbox), dns_rows)
    bulkload.insert_rows(session, audit.table(), audit_rows)
    versions.bump(session, versions.SUBSCRIBERS)


def analyze_after_import(store: Store) -> None:
    """New planner statistics for the tables an import grew (see :func:`bulkload.analyze`)."""
    tables = (Subscriber, HomeAddress, AuditLog, DnsOutbox)
    bulkload.analyze(store, [_table(m) for m in tables])


def refresh_statistics(store: Store) -> None:
    """Mid-import: PostgreSQL's row estimates of the growing tables (no-op on SQLite)."""
    if store.is_postgresql:
        with store.session() as s:
            bulkload.refresh_statistics(s, [_table(Subscriber), _table(HomeAddress)])


__all__ = [
    "BatchResult",
    "Row",
    "analyze_after_import",
    "enroll_batch",
    "refresh_statistics",
]
