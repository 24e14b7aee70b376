"""``[dns] publish`` as one store-wide setting: every host decides with the same mode.

Whether an MN's FQDN -> HoA records exist is decided in the transactions
that enroll, suspend, revoke, open or close bindings, on whichever host runs
them; a mode read from each host's own config let two hosts disagree (the
bridge of a host without ``[dns] publish`` judged in enroll mode).  The mode
therefore lives in the store's ``settings`` table (key ``dns.publish``):

* :func:`effective` is what every decision uses: the stored mode, else the
  caller's configured one (a store nobody switched yet), else enroll;
* :func:`adopt` is called by ``bootstrapd`` at start: a configured mode is
  stored when the store holds none, and a configured mode that differs from
  the stored one is refused with one sentence (so hosts never disagree);
* :func:`switch` (``bootstrapctl dns publish MODE``) changes it and, in the
  same transaction, writes the DNS outbox rows that make DNS follow: switching
  to registration withdraws the records of subscribers without an open
  binding, switching to enroll publishes every active subscriber's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import domain
from ..errors import ConfigError, ValidationError
from ..store.engine import Store
from ..store.models import Binding, Network, Setting, Subscriber
from . import audit, outbox, views
from .actor import Actor

KEY = "dns.publish"


def parse(text: str) -> domain.PublishMode:
    try:
        return domain.PublishMode(text.strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in domain.PublishMode)
        raise ValidationError(f"publish mode must be one of {allowed}, not {text!r}") from None


def stored(session: Session) -> domain.PublishMode | None:
    row = session.get(Setting, KEY)
    if row is None or not row.value:
        return None
    try:
        return domain.PublishMode(row.value)
    except ValueError:
        return None


def effective(session: Session, configured: str | None = "") -> domain.PublishMode:
    """The mode decisions use: stored, else ``configured`` (if set), else enroll."""
    mode = stored(session)
    if mode is not None:
        return mode
    if configured:
        return parse(configured)
    return domain.PublishMode.ENROLL


def current(store: Store, configured: str | None = "") -> domain.PublishMode:
    with store.session() as s:
        return effective(s, configured)


def adopt(store: Store, configured: str) -> domain.PublishMode:
    """At start: store ``configured`` if the store holds no mode; refuse a different one."""
    with store.session() as s:
        mode = stored(s)
        if not configured:
            return mode or domain.PublishMode.ENROLL
        want = parse(configured)
        if mode is None:
            s.merge(Setting(key=KEY, value=want.value))
            return want
        if mode is not want:
            raise ConfigError(
                f"[dns] publish = {want.value!r} but the store's publish mode is {mode.value!r};"
                f" remove the key, or switch every host with 'bootstrapctl dns publish"
                f" {want.value}'"
            )
        return mode


@dataclass(frozen=True, slots=True)
class Switch:
    before: domain.PublishMode
    after: domain.PublishMode
    changed: int
    """Subscribers whose records the switch publishes or withdraws."""


def switch(store: Store, actor: Actor, mode: str, configured: str = "") -> Switch:
    """Set the store's publish mode and queue the DNS changes it implies, in one transaction."""
    want = parse(mode)
    with store.session() as s:
        before = effective(s, configured)
        s.merge(Setting(key=KEY, value=want.value))
        changed = 0
        if want is not before:
            changed = _follow(s, want)
        audit.record(s, actor, "dns.publish", want.value, before=before.value, changed=changed)
        return Switch(before, want, changed)


def _follow(session: Session, mode: domain.PublishMode) -> int:
    """Outbox rows for every active subscriber without an open binding (their records flip)."""
    bound = select(Binding.subscriber_id).where(Binding.down_at.is_(None))
    q = (
        select(Subscriber)
        .where(Subscriber.state == domain.SubscriberState.ACTIVE.value,
               Subscriber.id.not_in(bound))
        .options(selectinload(Subscriber.addresses))
        .order_by(Subscriber.id)
    )
    nets = {n.id: n for n in session.scalars(select(Network))}
    shown = mode is domain.PublishMode.ENROLL
    n = 0
    for sub in session.scalars(q):
        net = nets.get(sub.network_id)
        if net is None:
            continue
        dsub = views.subscriber(sub, net.domain, None, list(sub.addresses))
        outbox.enqueue_subscriber(session, dsub, net.zones or (), shown, f"dns.publish {mode}")
        n += 1
    return n
