"""First publications are guarded: records we did not create are never overwritten."""

from __future__ import annotations

import dns.query
import dns.update
from sqlalchemy import select

from bootstrap.config import Settings
from bootstrap.services import dnsoutbox, home_agents, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from dns_updater import keyfile
from dns_updater.reconcile import reconcile
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.dns import ACTOR, flush, setup_network
from tests.support.named import FORWARD, REVERSE6, Named


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

    pub = make_publisher(from_settings(sq_settings), sqlite_store)
    try:
        rep = await reconcile(pub)
    finally:
        await pub.close()
    assert [(d.name, d.rdtype) for d in rep.differences] == [("www.example.com.", "AAAA")]
    assert rep.remaining == 0 and dnsoutbox.pending_count(sqlite_store) == 0
    assert named.query("www.example.com.", "AAAA") == [str(www.hoas[0])]
    assert named.query("www.example.com.", "TXT") == ['"operator data"']


async def test_never_published_rrset_is_not_deleted_or_reconciled_away(
    sqlite_store: Store, sq_settings: Settings, named: Named
) -> None:
    setup_network(sqlite_store, sq_settings, (FORWARD, REVERSE6))
    edit = dns.update.UpdateMessage(FORWARD)  # the operator's own host, added by hand
    edit.replace("mail.example.com.", 300, "AAAA", "2001:db8::25")
    edit.use_tsig(keyfile.load(str(named.key_file)))
    assert dns.query.tcp(edit, named.host, port=named.port, timeout=5).rcode() == 0

    mail = subscribers.enroll(sqlite_store, sq_settings, ACTOR, "mail@example.com").subscriber
    assert (await flush(sqlite_store, sq_settings)).errors == {"YXRRSET": 1}
    assert named.dig(mail.hoas[0].reverse_pointer, "PTR") == ["mail.example.com."]
    subscribers.revoke(sqlite_store, sq_settings, ACTOR, "mail@example.com")
    res = await flush(sqlite_store, sq_settings)
    assert res.failed == 0 and dnsoutbox.pending_count(sqlite_store) == 0
    assert named.query("mail.example.com.", "AAAA") == ["2001:db8::25"]
    assert named.dig(mail.hoas[0].reverse_pointer, "PTR") == []

    pub = make_publisher(from_settings(sq_settings), sqlite_store)
    try:
        rep = await reconcile(pub)
    finally:
        await pub.close()
    assert rep.differences == []
    assert named.query("mail.example.com.", "AAAA") == ["2001:db8::25"]
