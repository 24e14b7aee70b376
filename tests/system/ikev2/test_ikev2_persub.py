"""Per-subscriber mode end to end: real charons in namespaces, the bridge, the store.

Enroll -> export the MN bundle -> ``swanctl --load-all`` into the MN's charon
-> initiate: the MN's virtual IP is the store's HoA, the store shows the
binding with the MN's care-of address; suspended and revoked subscribers are
refused and cut off.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
from pathlib import Path

from bootstrap.services import bindings, bundle, subscribers
from ikev2_glue import mn_bundle
from tests.support import netlab as nl
from tests.support.ikev2 import (
    ACTOR,
    HA_FQDN,
    HaLab,
    IkeEnv,
    bootstrapctl,
    running_bridge,
    wait_until,
)


def export(env: IkeEnv, identity: str, out: Path) -> Path:
    files = mn_bundle.renderer_for(env.settings)(
        bundle.mn_bundle_input(env.store, env.settings, identity))
    bundle.write_bundle(out, files)
    return out


async def connect(mn: nl.Mn, bundle_dir: Path) -> tuple[bool, str]:
    await asyncio.to_thread(mn.load_bundle, bundle_dir)
    return await asyncio.to_thread(mn.initiate)


def open_bindings(env: IkeEnv, identity: str) -> list[bindings.domain.Binding]:
    return bindings.list_for(env.store, identity, open_only=True)


async def test_eap_and_cert_subscribers_get_their_stored_hoa(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    eap = subscribers.enroll(ike_env.store, ike_env.settings, ACTOR, "mn@example.com")
    cert = subscribers.enroll(
        ike_env.store, ike_env.settings, ACTOR, "mn2@example.com", auth="cert"
    )
    mn1, mn2 = clean_lab.mns
    out = bootstrapctl(ike_env, "export", "mn@example.com", "--format", "swanctl",
                       "--out", str(tmp_path / "b1"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "b1" / "swanctl.conf").stat().st_mode & 0o777 == 0o600
    # the bundle holds the secret: a second export is refused like a second web download
    twice = bootstrapctl(ike_env, "export", "mn@example.com", "--out", str(tmp_path / "bx"))
    assert twice.returncode != 0 and "already downloaded once" in twice.stderr
    assert "Traceback" not in twice.stderr and not (tmp_path / "bx").exists()
    again = bootstrapctl(ike_env, "export", "mn@example.com", "--again", "--json",
                         "--out", str(tmp_path / "b1"))
    assert again.returncode == 0 and '"again": true' in again.stdout, again.stderr
    async with running_bridge(ike_env.settings, ike_env.store):
        ok, log = await connect(mn1, tmp_path / "b1")
        assert ok, log
        assert await asyncio.to_thread(mn1.vips) == [str(eap.subscriber.hoas[0])]
        ok, log = await connect(mn2, export(ike_env, "mn2@example.com", tmp_path / "b2"))
        assert ok, log
        assert await asyncio.to_thread(mn2.vips) == [str(cert.subscriber.hoas[0])]
        assert eap.subscriber.hoas[0] != cert.subscriber.hoas[0]

        b1 = await wait_until(lambda: open_bindings(ike_env, "mn@example.com"), 10,
                              "no binding for mn@example.com")
        assert [(b.home_agent, b.care_of, b.hoa) for b in b1] == [
            (HA_FQDN, nl.care_of(1), str(eap.subscriber.hoas[0]))
        ]
        b2 = await wait_until(lambda: open_bindings(ike_env, "mn2@example.com"), 10,
                              "no binding for mn2@example.com")
        assert b2[0].care_of == nl.care_of(2)

        await asyncio.to_thread(mn1.terminate_all)
        await wait_until(lambda: not open_bindings(ike_env, "mn@example.com"), 10,
                         "binding of mn@example.com stayed open after the MN left")
        closed = bindings.list_for(ike_env.store, "mn@example.com")
        assert len(closed) == 1 and closed[0].down_at is not None


async def test_suspended_and_revoked_subscribers_are_cut_off_and_refused(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    store, settings = ike_env.store, ike_env.settings
    subscribers.enroll(store, settings, ACTOR, "mn@example.com")
    subscribers.enroll(store, settings, ACTOR, "mn2@example.com", auth="cert")
    mn1, mn2 = clean_lab.mns
    d1 = export(ike_env, "mn@example.com", tmp_path / "b1")
    d2 = export(ike_env, "mn2@example.com", tmp_path / "b2")
    async with running_bridge(settings, store):
        assert (await connect(mn1, d1))[0]
        assert (await connect(mn2, d2))[0]
        await wait_until(lambda: open_bindings(ike_env, "mn2@example.com"), 10, "mn2 not up")

        subscribers.suspend(store, settings, ACTOR, "mn@example.com")
        subscribers.revoke(store, settings, ACTOR, "mn2@example.com")
        # the bridge terminates their SAs and closes the bindings
        await wait_until(lambda: not mn1.vips() and not mn2.vips(), 15,
                         "suspended/revoked MNs kept their SAs")
        await wait_until(
            lambda: not open_bindings(ike_env, "mn@example.com")
            and not open_bindings(ike_env, "mn2@example.com"),
            10, "bindings stayed open after suspend/revoke",
        )
        # and a new attempt is refused
        ok, _ = await asyncio.to_thread(mn1.initiate, "home", "home", 8000)
        assert not ok
        ok, _ = await asyncio.to_thread(mn2.initiate, "home", "home", 8000)
        assert not ok

        subscribers.resume(store, settings, ACTOR, "mn@example.com")
        sub = subscribers.get(store, "mn@example.com")

        def reconnect() -> bool:
            mn1.terminate_all(force=True)
            return mn1.initiate("home", "home", 8000)[0]

        await wait_until(reconnect, 20, "resumed subscriber could not reconnect")
        assert await asyncio.to_thread(mn1.vips) == [str(sub.hoas[0])]


async def test_fqdn_identities_are_accepted_too(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    """RFC 5026 ID_FQDN: with [vici] fqdn_identities the MN may use its FQDN as IDi."""
    store = ike_env.store
    settings = dataclasses.replace(
        ike_env.settings, vici=dataclasses.replace(ike_env.settings.vici, fqdn_identities=True))
    eap = subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber
    cert = subscribers.enroll(store, settings, ACTOR, "mn2@example.com", auth="cert").subscriber
    mn1, mn2 = clean_lab.mns
    for ident, out in (("mn@example.com", "b1"), ("mn2@example.com", "b2")):
        files = mn_bundle.render(bundle.mn_bundle_input(store, settings, ident), fqdn_id=True)
        assert f'id = "{ident.split("@")[0]}.example.com"' in files["swanctl.conf"][0].decode()
        bundle.write_bundle(tmp_path / out, files)
    async with running_bridge(settings, store):
        ok, log = await connect(mn1, tmp_path / "b1")
        assert ok, log
        ok, log = await connect(mn2, tmp_path / "b2")
        assert ok, log
        assert await asyncio.to_thread(mn1.vips) == [str(eap.hoas[0])]
        assert await asyncio.to_thread(mn2.vips) == [str(cert.hoas[0])]
        b = await wait_until(lambda: open_bindings(ike_env, "mn2@example.com"), 10,
                             "no binding for the FQDN-identified certificate subscriber")
        assert b[0].hoa == str(cert.hoas[0])


async def test_bootstrapd_only_vici_serves_the_bridge(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    """The bridge as the operator runs it: ``bootstrapd --only vici`` with a config file."""
    store, settings = ike_env.store, ike_env.settings
    sub = subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber
    config = tmp_path / "bootstrap.toml"
    config.write_text(
        f'[database]\nurl = "{store.url}"\n'
        f'[store]\nsnapshot_poll_interval = 0.2\n'
        f'[vici]\nenabled = true\nsocket = "{clean_lab.ha.socket_path}"\n'
        f'home_agent = "{HA_FQDN}"\n[ha]\nheartbeat_interval = 1.0\n'
    )
    exe = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "bootstrapd"
    proc = subprocess.Popen([str(exe), "--config", str(config), "--only", "vici"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(read_until, proc, "vici: bridge"), 20)
        assert f"vici: bridge for {HA_FQDN} (per-subscriber)" in line
        ok, log = await connect(clean_lab.mns[0], export(ike_env, "mn@example.com",
                                                          tmp_path / "b"))
        assert ok, log
        b = await wait_until(lambda: open_bindings(ike_env, "mn@example.com"), 10,
                             "bootstrapd recorded no binding")
        assert b[0].hoa == str(sub.hoas[0])
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = await asyncio.to_thread(proc.communicate, timeout=15)
    assert proc.returncode == 0, rest[0]


def read_until(proc: subprocess.Popen[str], needle: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if needle in line:
            return line
    raise AssertionError(f"bootstrapd ended without printing {needle!r}")
