"""Pure parts of the bridge and of the MN bundle, without charon or a store
(the store services of the bridge: tests/system/ikev2/test_ikev2_bindings.py).

Event messages are HA-side messages as charon 5.9.8 sent them (recorded
once with ``swanctl``-driven MNs), trimmed, and as VICI delivers them (bytes).
"""

from __future__ import annotations

import pytest

from bootstrap.domain import AuthMethod, SubscriberState
from bootstrap.services import bundle, radius
from ikev2_glue import mn_bundle, model, plan, radius_config
from ikev2_glue.settings import AssignMode


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
                                   fqdn=f"mn{sid}.example.com", auth=AuthMethod.EAP, active=True,
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
    cert = plan.subscriber_loadout(HA, creds(7, auth=AuthMethod.CERT, eap_secret=None))
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
    url = "postgresql+psycopg://radius@/store?host=/var/run/postgresql"
    assert radius_config.conninfo(url) == "host=/var/run/postgresql dbname=store user=radius"
    assert radius_config.conninfo("postgresql://u:pw@127.0.0.1:5433/db", "rad") == (
        "host=127.0.0.1 port=5433 dbname=db user=rad"
    )
    multi = ("postgresql+psycopg://u@/db?host=db1:5432&host=db2:5433"
             "&target_session_attrs=read-write")
    assert radius_config.conninfo(multi, "rad") == (
        "host=db1,db2 port=5432,5433 dbname=db user=rad target_session_attrs=read-write"
    )


def test_mn_bundle_is_a_swanctl_dir_with_private_secrets() -> None:
    sub = bundle.SubscriberCredentials(1, "mn@example.com", "mn.example.com", AuthMethod.EAP,
                                       SubscriberState.ACTIVE, "2001:db8:1::5", "192.0.2.5",
                                       eap_secret="pw")
    files = mn_bundle.render(bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA"))
    assert files["swanctl.conf"][1] == 0o600 and files["x509ca/ca.pem"] == (b"CA", 0o644)
    conf = files["swanctl.conf"][0].decode()
    for line in ("remote_addrs = 2001:db8:1::1", "vips = ::, 0.0.0.0",
                 "remote_ts = ::/0, 0.0.0.0/0", 'eap_id = "mn@example.com"',
                 'secret = "pw"', 'id = "ha1.example.com"'):
        assert line in conf
    cert = bundle.SubscriberCredentials(2, "c@example.com", "c.example.com", AuthMethod.CERT,
                                        SubscriberState.ACTIVE, "2001:db8:1::6", None,
                                        cert_pem="C", key_pem=b"K")
    per_sub = mn_bundle.render(bundle.MnBundleInput(cert, "ha", "2001:db8:1::1", "CA"))
    assert per_sub["private/mn.key.pem"] == (b"K", 0o600)
    assert "auth = pubkey\n      id = \"c@example.com\"" in per_sub["swanctl.conf"][0].decode()
    rad = mn_bundle.render(bundle.MnBundleInput(cert, "ha", "2001:db8:1::1", "CA"),
                           AssignMode.RADIUS)
    assert "auth = eap-tls" in rad["swanctl.conf"][0].decode()
    assert "vips = ::\n" in rad["swanctl.conf"][0].decode()
