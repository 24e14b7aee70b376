"""Pure decisions of the strongSwan face, without charon, a store or root.

* the one IKE profile builds both ends: a changed proposal reaches the HA's
  VICI connection and the MN's swanctl.conf alike;
* the drain and resync plans (which SA to redirect or terminate, what to do
  with what a reconnected charon still holds);
* the face's settings, checked at its edge;
* the FreeRADIUS files the templates write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest

from bootstrap import config
from bootstrap.domain import AuthMethod, PublishMode, SubscriberState
from bootstrap.errors import ConfigError
from bootstrap.services import bundle
from ikev2_glue import drain, mn_bundle, model, plan, profile, radius_config
from ikev2_glue.settings import AssignMode, from_settings

HA = plan.HaSide("ha1.example.com", "2001:db8:1::1", "CERT", "CA", ike_id="example.com")


def sub_creds(auth: AuthMethod = AuthMethod.EAP, hoa4: str | None = "192.0.2.5"
              ) -> bundle.SubscriberCredentials:
    return bundle.SubscriberCredentials(
        5, "mn@example.com", "mn.example.com", auth, SubscriberState.ACTIVE,
        "2001:db8:1::5", hoa4, eap_secret="pw" if auth is AuthMethod.EAP else None,
        cert_pem="C" if auth is AuthMethod.CERT else None,
        key_pem=b"K" if auth is AuthMethod.CERT else None,
    )


def ha_conn(sub: bundle.SubscriberCredentials) -> dict[str, object]:
    lo = plan.subscriber_loadout(HA, plan.SubscriberCreds(
        sub.id, sub.identity, sub.fqdn, sub.auth, True, sub.hoa6, sub.hoa4, sub.eap_secret))
    assert lo is not None
    conn: dict[str, object] = lo.conn[plan.conn_name(sub.id)]
    return conn


def mn_conf(sub: bundle.SubscriberCredentials, assign: AssignMode = AssignMode.PER_SUBSCRIBER
            ) -> str:
    inp = bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA", "example.com")
    return mn_bundle.render(inp, assign)["swanctl.conf"][0].decode()


def swanctl_list(conf: str, key: str) -> list[list[str]]:
    """Every ``key = a, b`` of a swanctl.conf, as lists."""
    return [[v.strip() for v in m.split(",")]
            for m in re.findall(rf"^\s*{re.escape(key)} = (.*)$", conf, re.M)]


# ---------------------------------------------------------------- one profile, both ends
def test_the_ha_connection_and_the_mn_bundle_agree() -> None:
    sub = sub_creds()
    conn, conf = ha_conn(sub), mn_conf(sub)
    child = conn["children"]["mip6"]  # type: ignore[index]
    assert swanctl_list(conf, "proposals") == [conn["proposals"]]
    assert swanctl_list(conf, "esp_proposals") == [child["esp_proposals"]]
    # what the HA offers as its side of the tunnel is what the MN asks to reach
    assert swanctl_list(conf, "remote_ts") == [child["local_ts"]] == [["::/0", "0.0.0.0/0"]]
    assert swanctl_list(conf, "vips") == [["::", "0.0.0.0"]]
    # the MN checks the identity the HA shows, and the HA the one the MN sends
    assert conn["local-1"]["id"] == "example.com"  # type: ignore[index]
    assert 'id = "example.com"' in conf.split("remote-1")[1]
    assert conn["remote-1"] == {"auth": "eap-mschapv2", "id": "mn@example.com"}
    assert "auth = eap-mschapv2" in conf and 'eap_id = "mn@example.com"' in conf
    assert conn["mobike"] == "yes" and "mobike = yes" in conf


def test_a_changed_proposal_in_the_profile_changes_both_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sub = sub_creds()
    before_conn, before_conf = ha_conn(sub), mn_conf(sub)
    before_radius = plan.radius_conn(HA)[plan.RADIUS_CONN]
    changed = dataclasses.replace(
        profile.PROFILE,
        ike_proposals=("aes256gcm16-prfsha384-ecp521",),
        esp_proposals=("chacha20poly1305-x448",),
    )
    monkeypatch.setattr(profile, "PROFILE", changed)
    conn, conf = ha_conn(sub), mn_conf(sub)
    assert conn["proposals"] == ["aes256gcm16-prfsha384-ecp521"] != before_conn["proposals"]
    assert plan.radius_conn(HA)[plan.RADIUS_CONN]["proposals"] == [
        "aes256gcm16-prfsha384-ecp521"] != before_radius["proposals"]
    assert conn["children"]["mip6"]["esp_proposals"] == ["chacha20poly1305-x448"]  # type: ignore[index]
    assert swanctl_list(conf, "proposals") == [["aes256gcm16-prfsha384-ecp521"]]
    assert swanctl_list(conf, "esp_proposals") == [["chacha20poly1305-x448"]]
    assert "aes128-sha256-x25519" in before_conf and "aes128-sha256-x25519" not in conf
    # the bridge pushes the change: the loadout's fingerprint moved
    lo = plan.subscriber_loadout(HA, plan.SubscriberCreds(
        sub.id, sub.identity, sub.fqdn, sub.auth, True, sub.hoa6, sub.hoa4, sub.eap_secret))
    monkeypatch.setattr(profile, "PROFILE", profile.IkeProfile())
    lo_default = plan.subscriber_loadout(HA, plan.SubscriberCreds(
        sub.id, sub.identity, sub.fqdn, sub.auth, True, sub.hoa6, sub.hoa4, sub.eap_secret))
    assert lo is not None and lo_default is not None
    assert lo.fingerprint != lo_default.fingerprint


def test_certificate_mns_use_pubkey_or_eap_tls_by_the_has_mode() -> None:
    sub = sub_creds(AuthMethod.CERT, hoa4=None)
    per_sub = mn_conf(sub)
    assert "auth = pubkey" in per_sub and "eap_id" not in per_sub
    assert "certs = mn.cert.pem" in per_sub and "file = mn.key.pem" in per_sub
    assert ha_conn(sub)["remote-1"] == {"auth": "pubkey", "id": "mn@example.com"}
    rad = mn_conf(sub, AssignMode.RADIUS)
    assert "auth = eap-tls" in rad and 'eap_id = "mn@example.com"' in rad
    assert swanctl_list(rad, "vips") == [["::"]]
    # the home child and the responder child of HA-initiated re-bootstrap tunnel everything
    assert swanctl_list(rad, "remote_ts") == [["::/0"], ["::/0"]]


def test_a_certificate_mn_answers_any_ha_of_its_network_for_its_hoa_only() -> None:
    sub = sub_creds(AuthMethod.CERT, hoa4=None)
    inp = bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA", "example.com")
    files = mn_bundle.render(inp)
    conf = files["swanctl.conf"][0].decode()
    home, responder = conf.split(f"  {profile.current().mn_responder_conn} {{")
    assert "remote_addrs = 2001:db8:1::1" in home  # the initiator names only its own HA
    assert "remote_addrs = %any" in responder and "cacerts = ca.pem" in responder
    assert 'id = "example.com"' in responder.split("remote-1")[1]
    assert swanctl_list(responder, "local_ts") == [[f"{sub.hoa6}/128"]]
    assert "auth = pubkey" in responder and "certs = mn.cert.pem" in responder
    script, mode = files["mip6-hoa-on-lo.sh"]
    assert mode == 0o755 and f"ip -6 addr replace {sub.hoa6}/128 dev lo" in script.decode()
    dpd = files["strongswan.d/mip6-mn.conf"][0].decode()
    assert "retransmit_tries = 2" in dpd and "fwmark = !0x42" in dpd and "fwmark = 0x42" in dpd
    assert "dpd_delay = 5s" in home


def test_an_eap_mn_gets_no_responder_connection() -> None:
    sub = sub_creds()
    inp = bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA", "example.com")
    files = mn_bundle.render(inp)
    assert profile.current().mn_responder_conn not in files["swanctl.conf"][0].decode()
    assert "mip6-hoa-on-lo.sh" not in files


def test_swanctl_strings_are_quoted_and_fqdn_ids_own_the_secret() -> None:
    sub = dataclasses.replace(sub_creds(), eap_secret='p"w\\x')
    inp = bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA")
    conf = mn_bundle.render(inp, fqdn_id=True)["swanctl.conf"][0].decode()
    assert 'secret = "p\\"w\\\\x"' in conf
    assert 'id = "mn.example.com"' in conf.split("remote-1")[0]  # IDi = the FQDN
    assert 'id-1 = "mn@example.com"' in conf and 'id-2 = "mn.example.com"' in conf
    # no network domain known: the MN expects the HA's FQDN
    assert 'id = "ha1.example.com"' in conf.split("remote-1")[1]


def test_a_bundle_without_its_secret_is_refused() -> None:
    sub = dataclasses.replace(sub_creds(), eap_secret=None)
    inp = bundle.MnBundleInput(sub, "ha1.example.com", "2001:db8:1::1", "CA")
    with pytest.raises(Exception, match="no stored EAP secret"):
        mn_bundle.render(inp)


# ---------------------------------------------------------------- drain plan
T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
TIMERS = drain.DrainTimers(redirect_wait=5.0, grace=3.0)


def sa(uid: str, ident: str, state: str = "ESTABLISHED") -> model.IkeSa:
    return model.IkeSa("sub-1", uid, state, "2001:db8:1::1", "2001:db8:0:1::1:1", 4500,
                       ident, None, ("2001:db8:1::5",))


def moved(since: dt.datetime, ha: str = "ha2.example.com") -> drain.Assignment:
    return drain.Assignment(ha, "2001:db8:1::2", since)


def test_drain_redirects_once_the_reassignment_is_old_enough() -> None:
    sas = [sa("1", "mn@example.com")]
    where = {"mn@example.com": moved(T0)}
    st, acts = drain.drain_step(drain.DrainState(), sas, where, "ha1.example.com", 100.0,
                                T0 + dt.timedelta(seconds=1), TIMERS)
    assert acts == ()  # the new HA's bridge may not have loaded it yet
    st, acts = drain.drain_step(st, sas, where, "ha1.example.com", 102.0,
                                T0 + dt.timedelta(seconds=3), TIMERS)
    assert acts == (drain.Redirect("1", "mn@example.com", "ha2.example.com", "2001:db8:1::2"),)
    st, acts = drain.drain_step(st, sas, where, "ha1.example.com", 106.9,
                                T0 + dt.timedelta(seconds=8), TIMERS)
    assert acts == ()  # redirected once, waiting for it to leave
    st, acts = drain.drain_step(st, sas, where, "ha1.example.com", 107.0,
                                T0 + dt.timedelta(seconds=8), TIMERS)
    assert acts == (drain.Terminate("1", "mn@example.com", drain.Why.NOT_REDIRECTED),)


def test_drain_terminates_an_sa_no_other_ha_takes_after_wait_plus_grace() -> None:
    sas = [sa("7", "@stay@example.com")]
    for where in ({}, {"stay@example.com": moved(T0, ha="ha1.example.com")}):
        st, acts = drain.drain_step(drain.DrainState(), sas, where, "ha1.example.com", 10.0,
                                    T0 + dt.timedelta(hours=1), TIMERS)
        assert acts == ()
        st, acts = drain.drain_step(st, sas, where, "ha1.example.com", 17.9,
                                    T0 + dt.timedelta(hours=1), TIMERS)
        assert acts == ()
        _, acts = drain.drain_step(st, sas, where, "ha1.example.com", 18.0,
                                   T0 + dt.timedelta(hours=1), TIMERS)
        assert acts == (drain.Terminate("7", "@stay@example.com", drain.Why.NOT_REDIRECTED),)


def test_drain_forgets_sas_that_left_and_ignores_unestablished_ones() -> None:
    where = {"mn@example.com": moved(T0)}
    st, acts = drain.drain_step(drain.DrainState(), [sa("1", "mn@example.com")], where,
                                "ha1.example.com", 50.0, T0 + dt.timedelta(minutes=1), TIMERS)
    assert [type(a) for a in acts] == [drain.Redirect] and set(st.redirected) == {"1"}
    st, acts = drain.drain_step(st, [sa("2", "mn@example.com", "CONNECTING")], where,
                                "ha1.example.com", 60.0, T0 + dt.timedelta(minutes=1), TIMERS)
    assert acts == () and dict(st.seen) == {} and dict(st.redirected) == {}
    # an ike-updown down removes the SA's memory too
    st, _ = drain.drain_step(drain.DrainState(), [sa("3", "mn@example.com")], where,
                             "ha1.example.com", 1.0, T0 + dt.timedelta(minutes=1), TIMERS)
    assert "3" in st.redirected and "3" not in st.forget("3").redirected
    assert st.forget("unknown") is st


def test_active_ha_terminates_identities_no_longer_allowed() -> None:
    sas = [sa("1", "mn@example.com"), sa("2", "@gone@example.com"),
           sa("3", "gone2@example.com", "CONNECTING")]
    assert drain.unassigned(sas, {"mn@example.com"}) == (
        drain.Terminate("2", "@gone@example.com", drain.Why.NOT_ALLOWED),)
    assert drain.unassigned(sas, {"mn@example.com", "gone@example.com"}) == ()


# ---------------------------------------------------------------- resync plan
def test_resync_repushes_found_subscribers_and_drops_the_other_mode() -> None:
    existing = ["sub-1", "subf-1", "sub-2", plan.RADIUS_CONN, "someone-else"]
    per_sub = plan.plan_resync(existing, radius_mode=False, fqdn_ids=False)
    assert per_sub.loaded == {1: plan.UNKNOWN, 2: plan.UNKNOWN}
    assert per_sub.unload == ("subf-1", plan.RADIUS_CONN) and per_sub.remove == ()
    # the unknown fingerprints make the next sync re-push what is still wanted
    desired = plan.desired_loadouts(HA, [plan.SubscriberCreds(
        2, "b@example.com", "b.example.com", AuthMethod.CERT, True, "2001:db8:1::2")])
    todo = plan.plan_sync(per_sub.loaded, desired)
    assert [lo.sub_id for lo in todo.load] == [2] and [r.sub_id for r in todo.remove] == [1]
    keep_fqdn = plan.plan_resync(existing, radius_mode=False, fqdn_ids=True)
    assert keep_fqdn.unload == (plan.RADIUS_CONN,)
    rad = plan.plan_resync(existing, radius_mode=True, fqdn_ids=False)
    assert rad.loaded == {} and rad.unload == ("subf-1",)
    assert [r.sub_id for r in rad.remove] == [1, 2]


# ---------------------------------------------------------------- settings at the edge
def settings_with(tmp_path: Path, **vici: object) -> config.Settings:
    return config.from_mapping({"vici": dict(vici)}, tmp_path, "test")


def test_vici_settings_are_built_and_checked_at_the_edge(tmp_path: Path) -> None:
    s = config.from_mapping({"vici": {"home_agent": "HA1.Example.COM."},
                             "dns": {"publish": "registration"},
                             "store": {"snapshot_poll_interval": 0.5}}, tmp_path, "test")
    v = from_settings(s)
    assert v.home_agent == "ha1.example.com" and v.assign is AssignMode.PER_SUBSCRIBER
    assert v.publish is PublishMode.REGISTRATION and v.publish_on_registration
    assert v.poll_interval == 0.5
    for key, value in [("radius_address", "nowhere"), ("radius_port", 0),
                       ("redirect_wait", 0.0), ("home_agent", "a..b"), ("socket", " "),
                       ("per_subscriber_limit", 0)]:
        with pytest.raises(ConfigError, match=rf"^\[vici\] {key} "):
            from_settings(settings_with(tmp_path, **{key: value}))


# ---------------------------------------------------------------- FreeRADIUS files
def test_raddb_files_carry_the_measured_rules() -> None:
    opts = radius_config.RadiusOptions("ha1.example.com", 4, "host=/run/pg dbname=s",
                                       'se"cret', "::1", 1812)
    files = radius_config.raddb_files(opts, "CA", "CERT", b"KEY")
    text = {k: v[0].decode() for k, v in files.items() if not k.startswith("raddb/certs")}
    site = text["raddb/sites-enabled/mip6"]
    assert "Auth-Type MS-CHAP {\n            mschap" in site
    assert site.index("sql_hoa.authorize") > site.index("post-auth")  # HoA only in the Accept
    assert "ipv6addr = ::1" in site and "ipaddr = 127.0.0.1" in site
    sql = text["raddb/mods-enabled/sql"]
    assert "max = 32" in sql and "max_servers = 32" in text["raddb/radiusd.conf"]
    assert "AND home_agent_id = 4 ORDER BY id" in sql and "pool = sql" in sql
    assert 'radius_db = "host=/run/pg dbname=s"' in sql
    assert "check_cert_cn = %{User-Name}" in text["raddb/mods-enabled/eap"]
    assert "prefix = /usr" in text["raddb/radiusd.conf"]
    assert 'secret = "se\\"cret"' in text["raddb/clients.conf"]
    assert files["raddb/certs/server.key.pem"] == (b"KEY", 0o600)
    assert files["raddb/clients.conf"][1] == 0o600
    include = radius_config.eap_radius_conf(opts)
    assert "address = ::1" in include and "auth_port = 1812" in include
