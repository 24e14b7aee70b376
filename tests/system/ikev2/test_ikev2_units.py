"""Pure parts of the bridge and its store services, without charon.

Event messages are the HA-side messages recorded in the strongSwan lab
(labs/strongswan/results/events-full.json), trimmed and as VICI delivers
them (bytes).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from bootstrap import migrate
from bootstrap.config import Settings
from bootstrap.services import bindings, bundle, radius, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from ikev2_glue import model, plan
from tests.support.ikev2 import ACTOR, HA_FQDN, populate


def b(obj: object) -> object:
    """Encode like VICI: every str value becomes bytes."""
    if isinstance(obj, str):
        return obj.encode()
    if isinstance(obj, dict):
        return {k: b(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [b(v) for v in obj]
    return obj


SA = {"uniqueid": "1", "state": "ESTABLISHED", "local-host": "2001:db8:0:1::1",
      "remote-host": "2001:db8:0:1::1:1", "remote-port": "4500",
      "remote-id": "mn@example.com", "remote-vips": ["2001:db8:1::42"]}


def test_updown_rekey_and_mobike_events_become_binding_events() -> None:
    up = model.parse_event(b"ike-updown", b({"up": "yes", "sub-66": SA}))
    assert up == [model.SaUp(model.IkeSa("sub-66", "1", "ESTABLISHED", "2001:db8:0:1::1",
                                          "2001:db8:0:1::1:1", 4500, "mn@example.com", None,
                                          ("2001:db8:1::42",)))]
    # a down event may still say ESTABLISHED (INITIAL_CONTACT): only "up" decides
    down = model.parse_event(b"ike-updown", b({"sub-66": SA}))
    assert [type(e) for e in down] == [model.SaDown]
    rekey = model.parse_event(b"ike-rekey", b({"sub-66": {
        "old": {"uniqueid": "1", "state": "ESTABLISHED"},
        "new": {**SA, "uniqueid": "2"}}}))
    assert len(rekey) == 1 and isinstance(rekey[0], model.SaRekeyed)
    assert (rekey[0].old_uniqueid, rekey[0].new.uniqueid) == ("1", "2")
    moved = model.parse_event(b"ike-update", b({
        "local-host": "2001:db8:0:1::1", "local-port": "4500",
        "remote-host": "2001:db8:0:1::2:1", "remote-port": "4500",
        "sub-66": {**SA, "uniqueid": "2"}}))
    assert moved == [model.SaMoved("2", "2001:db8:0:1::2:1", 4500)]
    # the NAT-T float during setup is an ike-update of a CONNECTING SA: ignored
    assert model.parse_event(b"ike-update", b({
        "remote-host": "2001:db8:0:1::1:1", "remote-port": "4500",
        "(unnamed)": {"uniqueid": "1", "state": "CONNECTING", "remote-id": "%any"}})) == []


def test_eap_identity_wins_over_ike_idi() -> None:
    (ev,) = model.parse_event(b"ike-updown", b({"up": "yes", "mip6-radius": {
        **SA, "remote-id": "mallory@example.com", "remote-eap-id": "alice@example.com"}}))
    assert isinstance(ev, model.SaUp) and ev.sa.identity == "alice@example.com"


@pytest.mark.parametrize("name,msg", [
    (b"ike-updown", b"garbage"), (b"ike-updown", {b"up": b"yes", b"x": b"notadict"}),
    (b"ike-rekey", {b"c": {b"old": b"x"}}), (b"ike-update", {}), (b"child-updown", {}),
    (b"something-new", {b"a": b"b"}), (None, None), (b"ike-updown", {b"c": {b"state": b"UP"}}),
])
def test_unexpected_messages_yield_nothing(name: object, msg: object) -> None:
    assert model.parse_event(name, msg) == []


HA = plan.HaSide("ha1.example.com", "2001:db8:1::1", "CERT", "CA")


def creds(sid: int, **kw: object) -> plan.SubscriberCreds:
    base: dict[str, object] = dict(id=sid, identity=f"mn{sid}@example.com",
                                   fqdn=f"mn{sid}.example.com", auth="eap", active=True,
                                   hoa6=f"2001:db8:1::{sid:x}", eap_secret="s3cret")
    base.update(kw)
    return plan.SubscriberCreds(**base)  # type: ignore[arg-type]


def test_loadout_pins_one_hoa_per_identity() -> None:
    lo = plan.subscriber_loadout(HA, creds(66, hoa4="192.0.2.66"))
    assert lo is not None
    assert lo.pools == {"hoa-66": {"addrs": "2001:db8:1::42/128"},
                        "hoa4-66": {"addrs": "192.0.2.66/32"}}
    conn = lo.conn["sub-66"]
    assert conn["pools"] == ["hoa-66", "hoa4-66"]
    assert conn["remote-1"] == {"auth": "eap-mschapv2", "id": "mn66@example.com"}
    assert conn["children"]["mip6"]["local_ts"] == ["::/0", "0.0.0.0/0"]
    assert lo.shared == {"id": "eap-66", "type": "EAP", "data": "s3cret",
                         "owners": ["mn66@example.com"]}
    cert = plan.subscriber_loadout(HA, creds(7, auth="cert", eap_secret=None))
    assert cert is not None and cert.shared is None
    assert cert.conn["sub-7"]["remote-1"] == {"auth": "pubkey", "id": "mn7@example.com"}
    assert plan.subscriber_loadout(HA, creds(8, active=False)) is None
    assert plan.subscriber_loadout(HA, creds(9, eap_secret=None)) is None


def test_plan_sync_loads_changes_only_and_removes_the_rest() -> None:
    desired = plan.desired_loadouts(HA, [creds(1), creds(2), creds(3)])
    first = plan.plan_sync({}, desired)
    assert [lo.sub_id for lo in first.load] == [1, 2, 3] and first.remove == ()
    loaded = {sid: lo.fingerprint for sid, lo in desired.items()}
    assert plan.plan_sync(loaded, desired).empty
    changed = plan.desired_loadouts(HA, [creds(1, eap_secret="new"), creds(3)])
    todo = plan.plan_sync(loaded, changed)
    assert [lo.sub_id for lo in todo.load] == [1]
    assert [r.sub_id for r in todo.remove] == [2] and todo.remove[0].conn == "sub-2"


def test_nt_hash_and_conninfo() -> None:
    assert radius.nt_hash("password") == "8846f7eaee8fb117ad06bdd830b7586c"
    assert radius.conninfo("postgresql+psycopg://radius@/store?host=/var/run/postgresql") == (
        "host=/var/run/postgresql dbname=store user=radius"
    )
    assert radius.conninfo("postgresql://u:pw@127.0.0.1:5433/db", "rad") == (
        "host=127.0.0.1 port=5433 dbname=db user=rad"
    )


def test_mn_bundle_is_a_swanctl_dir_with_private_secrets() -> None:
    sub = bundle.SubscriberCredentials(1, "mn@example.com", "mn.example.com", "eap", "active",
                                       "2001:db8:1::5", "192.0.2.5", eap_secret="pw")
    files = bundle.mn_bundle(bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA"))
    assert files["swanctl.conf"][1] == 0o600 and files["x509ca/ca.pem"] == (b"CA", 0o644)
    conf = files["swanctl.conf"][0].decode()
    for line in ("remote_addrs = 2001:db8:1::1", "vips = ::, 0.0.0.0",
                 "remote_ts = ::/0, 0.0.0.0/0", 'eap_id = "mn@example.com"',
                 'secret = "pw"', 'id = "ha1.example.com"'):
        assert line in conf
    cert = bundle.SubscriberCredentials(2, "c@example.com", "c.example.com", "cert", "active",
                                        "2001:db8:1::6", None, cert_pem="C", key_pem=b"K")
    per_sub = bundle.mn_bundle(bundle.MnBundleInput(cert, "ha", "2001:db8:1::1", "CA"))
    assert per_sub["private/mn.key.pem"] == (b"K", 0o600)
    assert "auth = pubkey\n      id = \"c@example.com\"" in per_sub["swanctl.conf"][0].decode()
    rad = bundle.mn_bundle(bundle.MnBundleInput(cert, "ha", "2001:db8:1::1", "CA", "radius"))
    assert "auth = eap-tls" in rad["swanctl.conf"][0].decode()
    assert "vips = ::\n" in rad["swanctl.conf"][0].decode()


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
