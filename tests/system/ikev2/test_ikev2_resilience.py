"""The bridge survives charon: kill -9, restart, resync, same HoA, no binding left open.

Also: syncing twice changes nothing, and the HA's heartbeat follows charon.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from bootstrap.services import bindings, bundle, home_agents, subscribers
from ikev2_glue import mn_bundle, plan
from tests.support import netlab as nl
from tests.support.ikev2 import ACTOR, HA_FQDN, HaLab, IkeEnv, running_bridge, wait_until


def heartbeat(env: IkeEnv) -> dt.datetime | None:
    return home_agents.get(env.store, HA_FQDN).last_heartbeat


async def test_kill_9_of_charon_resync_and_same_hoa(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    store, settings = ike_env.store, ike_env.settings
    sub = subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber
    bundle.write_bundle(tmp_path / "b", mn_bundle.renderer_for(settings)(
        bundle.mn_bundle_input(store, settings, "mn@example.com")))
    mn = clean_lab.mns[0]
    async with running_bridge(settings, store) as bridge:
        await asyncio.to_thread(mn.load_bundle, tmp_path / "b")
        assert (await asyncio.to_thread(mn.initiate))[0]
        await wait_until(lambda: bindings.list_for(store, "mn@example.com", open_only=True),
                         10, "no binding before the kill")
        await wait_until(lambda: heartbeat(ike_env), 5, "no heartbeat while charon answers")

        clean_lab.ha.kill9()
        killed_at = dt.datetime.now(dt.UTC)
        await wait_until(lambda: not bridge.connected.is_set(), 10,
                         "bridge did not notice that charon died")
        await asyncio.sleep(0.5)  # a heartbeat already under way may still land
        beat = heartbeat(ike_env)
        await asyncio.sleep(2.5)  # > 2 heartbeat intervals without charon
        assert heartbeat(ike_env) == beat, "heartbeat written while charon was down"

        await asyncio.to_thread(clean_lab.ha.start)
        await wait_until(bridge.synced.is_set, 20, "bridge did not resync after the restart")
        # charon forgot the SA: the reconcile closed the binding
        assert bindings.list_for(store, "mn@example.com", open_only=True) == []
        s = clean_lab.ha.session()
        try:
            conns = [c for item in s.list_conns() for c in nl.dec(item)]
        finally:
            s.transport.close()
        assert conns == [plan.conn_name(sub.id)]

        def reconnect() -> bool:
            mn.terminate_all(force=True)
            return mn.initiate("home", "home", 8000)[0]

        await wait_until(reconnect, 20, "MN could not reconnect after the HA restart")
        assert await asyncio.to_thread(mn.vips) == [str(sub.hoas[0])]
        opened = await wait_until(
            lambda: bindings.list_for(store, "mn@example.com", open_only=True), 10,
            "no binding after the reconnect",
        )
        assert len(opened) == 1 and opened[0].hoa == str(sub.hoas[0])
        assert len(bindings.list_for(store, "mn@example.com")) == 2
        await wait_until(lambda: (heartbeat(ike_env) or killed_at) > killed_at + dt.timedelta(
            seconds=2), 5, "heartbeat did not resume after the restart")


async def test_sync_is_idempotent_and_follows_the_store(
    clean_lab: HaLab, ike_env: IkeEnv, caplog: pytest.LogCaptureFixture
) -> None:
    store = ike_env.store
    settings = dataclasses.replace(
        ike_env.settings, vici=dataclasses.replace(ike_env.settings.vici, per_subscriber_limit=1))
    a = subscribers.enroll(store, settings, ACTOR, "a@example.com").subscriber
    b = subscribers.enroll(store, settings, ACTOR, "b@example.com", auth="cert").subscriber

    def conns() -> list[str]:
        s = clean_lab.ha.session()
        try:
            return sorted(c for item in s.list_conns() for c in nl.dec(item))
        finally:
            s.transport.close()

    async with running_bridge(settings, store) as bridge:
        assert conns() == sorted([plan.conn_name(a.id), plan.conn_name(b.id)])
        again = await bridge._sync(force=True)
        assert again is not None and again.empty
        warnings = [r for r in caplog.records if "per_subscriber_limit" in r.getMessage()]
        assert len(warnings) == 1 and "square" in warnings[0].getMessage()
        c = subscribers.enroll(store, settings, ACTOR, "c@example.com").subscriber
        subscribers.suspend(store, settings, ACTOR, "a@example.com")
        await wait_until(lambda: conns() == sorted([plan.conn_name(b.id), plan.conn_name(c.id)]),
                         10, "charon did not follow enroll + suspend")
        again = await bridge._sync(force=True)
        assert again is not None and again.empty
        assert len([r for r in caplog.records if "per_subscriber_limit" in r.getMessage()]) == 1


async def test_mobike_care_of_change_moves_the_binding(
    clean_lab: HaLab, ike_env: IkeEnv, tmp_path: Path
) -> None:
    store, settings = ike_env.store, ike_env.settings
    sub = subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber
    bundle.write_bundle(tmp_path / "b", mn_bundle.renderer_for(settings)(
        bundle.mn_bundle_input(store, settings, "mn@example.com")))
    mn, ns = clean_lab.mns[0], clean_lab.topo.mns[0]
    old, new = nl.care_of(1), "2001:db8:0:1::2:1"
    async with running_bridge(settings, store):
        await asyncio.to_thread(mn.load_bundle, tmp_path / "b")
        assert (await asyncio.to_thread(mn.initiate))[0]
        await wait_until(lambda: bindings.list_for(store, "mn@example.com", open_only=True),
                         10, "no binding")
        try:
            nl.run("ip", "-n", ns, "addr", "add", f"{new}/64", "dev", "eth0", "nodad")
            nl.run("ip", "-n", ns, "addr", "del", f"{old}/64", "dev", "eth0")
            moved = await wait_until(
                lambda: [b for b in bindings.list_for(store, "mn@example.com", open_only=True)
                         if b.care_of == new], 20, "binding did not follow the new care-of address")
            assert len(moved) == 1 and moved[0].hoa == str(sub.hoas[0])
            assert await asyncio.to_thread(mn.vips) == [str(sub.hoas[0])]
        finally:
            nl.run("ip", "-n", ns, "addr", "add", f"{old}/64", "dev", "eth0", "nodad",
                   check=False)
            nl.run("ip", "-n", ns, "addr", "del", f"{new}/64", "dev", "eth0", check=False)
            nl.run("ip", "-n", ns, "-6", "route", "replace", "default", "via", nl.HA_LINK,
                   "dev", "eth0", check=False)
