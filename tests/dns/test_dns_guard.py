"""First publications are guarded: records we did not create are never overwritten."""

from __future__ import annotations

from bind_named import FORWARD, REVERSE6, Named
from dnshelp import ACTOR, flush, setup_network
from sqlalchemy import select

from bootstrap.config import Settings
from bootstrap.services import dnsoutbox, home_agents, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from dns_updater.reconcile import reconcile
from dns_updater.service import make_publisher


async def test_foreign_name_is_left_alone_until_reconcile_takes_it_over(
    sqlite_store: Store, sq_settings: Settings, named: Named
) -> None:
    setup_network(sqlite_store, sq_settings, (FORWARD, REVERSE6))
    # the zone file already has ns1 AAAA 2001:db8::53: same value, so it is adopted
    home_agents.add(sqlite_store, ACTOR, "ns1.example.com", "example.com", "2001:db8::53",
                    settings=sq_settings, allow_outside_prefix=True)
    # www@example.com derives www.example.com, which the operator uses (2001:db8::80)
    www = subscribers.enroll(sqlite_store, sq_settings, ACTOR, "www@example.com").subscriber
    amy = subscribers.enroll(sqlite_store, sq_settings, ACTOR, "amy@example.com").subscriber

    res = await flush(sqlite_store, sq_settings)
    assert res.errors == {"YXRRSET": 1}
    assert named.query("www.example.com.", "AAAA") == ["2001:db8::80"]
    assert named.query("amy.example.com.", "AAAA") == [str(amy.hoas[0])]
    assert named.query("ns1.example.com.", "AAAA") == ["2001:db8::53"]
    with sqlite_store.session() as s:
        (row,) = s.scalars(select(DnsOutbox).where(DnsOutbox.done_at.is_(None)))
        assert (row.name, row.rdtype) == ("www.example.com.", "AAAA")
        assert "already holds 2001:db8::80, which we did not publish" in (row.last_error or "")

    pub = make_publisher(sq_settings, sqlite_store)
    try:
        rep = await reconcile(sqlite_store, sq_settings, pub)
    finally:
        await pub.close()
    assert [(d.name, d.rdtype) for d in rep.differences] == [("www.example.com.", "AAAA")]
    assert rep.remaining == 0 and dnsoutbox.pending_count(sqlite_store) == 0
    assert named.query("www.example.com.", "AAAA") == [str(www.hoas[0])]
    assert named.query("www.example.com.", "TXT") == ['"operator data"']
