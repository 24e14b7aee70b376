"""Whom the HA that took over a failed HA's subscribers should initiate IKEv2 to.

After :mod:`.ha_watch` marked an HA ``failed``, closed its bindings and
moved its subscribers, the new HA's bridge asks :func:`reinit_targets` for
its subscribers that have no open binding anywhere and whose newest binding
was closed on a failed HA within ``window``: the care-of address of that
binding is where the node was last seen, its HoA the traffic selector
(draft-li-mip6-ha-init-bootstrap §4).  Certificate subscribers only: an
EAP-MSCHAPv2 node cannot authenticate as an IKEv2 responder (charon refuses
non-mutual EAP-only authentication).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, select

from .. import domain
from ..domain import dns_name
from ..store.engine import Store
from ..store.models import Binding, HomeAgent, Subscriber, utcnow


@dataclass(frozen=True, slots=True)
class ReinitTarget:
    sub_id: int
    identity: str
    care_of: str
    hoas: tuple[str, ...]


def reinit_targets(
    store: Store, ha_fqdn: str, window: dt.timedelta, now: dt.datetime | None = None
) -> list[ReinitTarget]:
    """Subscribers of ``ha_fqdn`` to bring back by HA-initiated IKEv2, oldest loss first."""
    now = now or utcnow()
    me = HomeAgent.__table__.alias("me")
    old = HomeAgent.__table__.alias("old")
    live = Binding.__table__.alias("live")
    still_open = (
        select(live.c.id)
        .where(live.c.subscriber_id == Subscriber.id, live.c.down_at.is_(None))
        .correlate(Subscriber)
        .exists()
    )
    q = (
        select(Subscriber.id, Subscriber.identity, Binding.care_of, Binding.hoa, Binding.id)
        .join(me, me.c.id == Subscriber.home_agent_id)
        .join(Binding, Binding.subscriber_id == Subscriber.id)
        .join(old, and_(old.c.id == Binding.home_agent_id, old.c.id != me.c.id))
        .where(
            me.c.fqdn == dns_name(ha_fqdn),
            Subscriber.state == domain.SubscriberState.ACTIVE.value,
            Subscriber.auth == domain.AuthMethod.CERT.value,
            old.c.state == domain.HAState.FAILED.value,
            Binding.down_at >= now - window,
            ~still_open,
        )
        .order_by(Binding.id.desc())
    )
    newest: dict[int, ReinitTarget] = {}
    with store.session() as s:
        for sub_id, identity, care_of, hoa, _bid in s.execute(q):
            if sub_id not in newest:
                newest[sub_id] = ReinitTarget(sub_id, identity, care_of, (hoa,))
    return sorted(newest.values(), key=lambda t: t.sub_id)
