"""The bridge's store services: bindings open/move/rekey/close/reconcile, registration-mode DNS,
the RADIUS views of migration 0002, the MN bundle handed out once (migration 0003), on SQLite
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from bootstrap import migrate
from bootstrap.config import Settings
from bootstrap.errors import Conflict
from bootstrap.services import audit, bindings, bundle, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from ikev2_glue import mn_bundle
from tests.support.ikev2 import ACTOR, HA_FQDN, populate


def test_bindings_open_move_rekey_close_and_reconcile(store: Store, settings: Settings) -> None:
    populate(store, settings)
    hoa = str(subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber.hoas[0])
    subscribers.enroll(store, settings, ACTOR, "other@example.com")
    live = bindings.LiveSa("1", "mn@example.com", "2001:db8:0:1::1:1", 4500, (hoa,))
    assert bindings.sa_up(store, HA_FQDN, live) is not None
    assert bindings.sa_up(store, HA_FQDN, live) is not None  # idempotent
    assert len(bindings.list_open(store, HA_FQDN)) == 1
    # an FQDN identity (RFC 5026 ID_FQDN) names the same subscriber
    fq = bindings.LiveSa("9", "mn.example.com", "2001:db8:0:1::1:9", 4500, (hoa,))
    assert bindings.sa_up(store, HA_FQDN, fq) is not None
    assert bindings.sa_down(store, HA_FQDN, "9")
    assert bindings.sa_up(store, HA_FQDN, bindings.LiveSa("5", "nobody@example.com", "x", 1,
                                                          ("2001:db8:1::99",))) is None
    assert bindings.sa_moved(store, HA_FQDN, "1", "2001:db8:0:1::2:1", 4500)
    assert bindings.sa_rekeyed(store, HA_FQDN, "1", "2")
    (b1,) = bindings.list_open(store, HA_FQDN)
    assert (b1.care_of, b1.ike_unique_id, b1.hoa) == ("2001:db8:0:1::2:1", "2", hoa)
    # charon restarted: only SA 7 of "other" is alive
    result = bindings.reconcile(store, HA_FQDN, [bindings.LiveSa(
        "7", "other@example.com", "2001:db8:0:1::1:2", 4500, ("2001:db8:1::77",))])
    assert (result.opened, result.closed, result.kept) == (1, 1, 0)
    assert [b.identity for b in bindings.list_open(store, HA_FQDN)] == ["other@example.com"]
    assert bindings.list_for(store, "mn@example.com")[0].down_at is not None
    assert bindings.reconcile(store, HA_FQDN, [bindings.LiveSa(
        "7", "other@example.com", "2001:db8:0:1::1:2", 4500, ("2001:db8:1::77",))]).kept == 1


def test_registration_mode_publishes_on_first_up_and_withdraws_on_last_down(
    store: Store, settings: Settings
) -> None:
    populate(store, settings, zones=("example.com",))
    hoa = str(subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber.hoas[0])

    def aaaa_rows() -> list[list[str]]:
        with store.session() as s:
            q = (sa.select(DnsOutbox.rdatas)
                 .where(DnsOutbox.name == "mn.example.com.", DnsOutbox.rdtype == "AAAA")
                 .order_by(DnsOutbox.id))
            return [list(r) for r in s.scalars(q)]

    before = len(aaaa_rows())
    up = bindings.LiveSa("1", "mn@example.com", "2001:db8:0:1::1:1", 4500, (hoa,))
    bindings.sa_up(store, HA_FQDN, up, publish_dns=True)
    bindings.sa_up(store, HA_FQDN, bindings.LiveSa("2", "mn@example.com", "c", 1, (hoa,)),
                   publish_dns=True)
    bindings.sa_down(store, HA_FQDN, "1", publish_dns=True)
    rows = aaaa_rows()[before:]
    assert rows == [[hoa]]  # second SA up and first down publish nothing
    bindings.sa_down(store, HA_FQDN, "2", publish_dns=True, now=dt.datetime.now(dt.UTC))
    assert aaaa_rows()[before:] == [[hoa], []]


def test_migration_0002_upgrades_and_downgrades(tmp_path: Path, pg_url: str) -> None:
    for url in (f"sqlite:///{tmp_path / 's.db'}", pg_url):
        store = Store(url)
        try:
            migrate.upgrade(store)
            views = set(sa.inspect(store.engine).get_view_names())
            if store.is_postgresql:
                assert {"radius_check", "radius_reply"} <= views
            migrate.downgrade(store, "0001")
            assert not {"radius_check", "radius_reply"} & set(
                sa.inspect(store.engine).get_view_names())
            migrate.upgrade(store)
            assert migrate.current_revision(store) == migrate.head_revision(store)
        finally:
            store.dispose()


def test_bundle_is_issued_once_atomically_and_audited(store: Store, settings: Settings) -> None:
    populate(store, settings)
    subscribers.enroll(store, settings, ACTOR, "mn@example.com")
    render = mn_bundle.renderer_for(settings)
    assert not bundle.issued(store, "mn@example.com")
    second: list[bundle.IssuedBundle] = []

    def racing(inp: bundle.MnBundleInput) -> bundle.Files:
        # a second request for the same bundle arrives while the first one renders
        if not second:
            second.append(bundle.issue_once(store, settings, ACTOR, "mn@example.com", render))
        return render(inp)

    with pytest.raises(Conflict, match="already downloaded once"):
        bundle.issue_once(store, settings, ACTOR, "mn@example.com", racing)
    assert len(second) == 1 and "swanctl.conf" in second[0].files
    assert bundle.issued(store, "mn@example.com")
    with pytest.raises(Conflict, match="bootstrapctl export --again"):
        bundle.issue_once(store, settings, ACTOR, "mn@example.com", render)
    again = bundle.issue_once(store, settings, ACTOR, "mn@example.com", render, again=True)
    assert again.again and again.files["swanctl.conf"] == second[0].files["swanctl.conf"]
    entries = [e for e in audit.recent(store, target="mn@example.com")
               if e.action == bundle.ACTION]
    assert [e.detail["again"] for e in entries] == [True, False]  # newest first


def test_migration_0003_keeps_downloads_the_audit_log_recorded(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        migrate.upgrade(store, "0002")
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO networks (id, domain, prefix, zones, ha_info, created_at)"
                " VALUES (1, 'example.com', '2001:db8:1::/64', '[]', 'both', :t)"),
                {"t": dt.datetime(2026, 1, 1)})
            for sid, ident in ((1, "a@example.com"), (2, "b@example.com")):
                conn.execute(sa.text(
                    "INSERT INTO subscribers (id, identity, fqdn, network_id, state, auth,"
                    " created_at, updated_at) VALUES (:i, :n, :f, 1, 'active', 'eap', :t, :t)"),
                    {"i": sid, "n": ident, "f": f"{ident[0]}.example.com",
                     "t": dt.datetime(2026, 1, 1)})
            conn.execute(sa.text(
                "INSERT INTO audit_log (at, actor, source, action, target, detail)"
                " VALUES (:t, 'admin', 'ui', 'subscriber.bundle', 'a@example.com', '{}')"),
                {"t": dt.datetime(2026, 2, 2)})
        migrate.upgrade(store)
        assert bundle.issued(store, "a@example.com") and not bundle.issued(store, "b@example.com")
        migrate.downgrade(store, "0002")
        migrate.upgrade(store)
    finally:
        store.dispose()
