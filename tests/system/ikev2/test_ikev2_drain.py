"""HA maintenance: drain ha1, reassign its subscribers in the store, IKEv2-redirect live MNs.

Two HA hosts (own namespace, charon and bridge each) share one PostgreSQL store. The
MN connected to ha1 ends up on ha2 with the same HoA, the binding moves
with it, and ha1 accepts no new subscriber; an MN that does not support
redirects is terminated and comes back through ha2 after re-bootstrapping.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap.config import Settings
from bootstrap.services import bindings, bundle, home_agents, reassign, subscribers
from bootstrap.store.engine import Store
from ikev2_glue import mn_bundle
from tests.support import netlab as nl
from tests.support.ikev2 import (
    ACTOR,
    HaLab,
    IkeEnv,
    bootstrapctl,
    ike_settings,
    populate,
    reset_ha,
    running_bridge,
    start_lab,
    stop_lab,
    wait_until,
)

HA2_LINK, HA2_ADDR = "2001:db8:0:1::2", "2001:db8:1::2"


@dataclasses.dataclass
class TwoHas:
    lab: HaLab
    ha2: nl.Charon


@pytest.fixture(scope="module")
def two_has(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHas]:
    root = tmp_path_factory.mktemp("drain")
    lab = start_lab(root, n_mn=2)
    ha2: nl.Charon | None = None
    try:
        # the second MN does not announce redirect support (no N(REDIR_SUP))
        lab.mn_charons[1].stop()
        lab.mn_charons[1].conf["extra_charon"] = "follow_redirects = no"
        lab.mn_charons[1].start()
        ns = lab.topo.add_ha(HA2_LINK, [HA2_ADDR])
        for mn in lab.topo.mns:
            nl.run("ip", "-n", mn, "-6", "route", "add", f"{HA2_ADDR}/128", "via", HA2_LINK)
        ha2 = nl.Charon(ns, root / "ha2", "ha")
        ha2.start()
        yield TwoHas(lab, ha2)
    finally:
        if ha2 is not None:
            ha2.stop()
        stop_lab(lab)


@pytest.fixture
def env(tmp_path: Path, two_has: TwoHas, pg_store: Store) -> Iterator[IkeEnv]:
    """Both HA hosts' bridges share one PostgreSQL store (the lead's ``pg_store``)."""
    for c in [two_has.lab.ha, two_has.ha2, *two_has.lab.mn_charons]:
        reset_ha(c)
    settings = ike_settings(tmp_path, pg_store.url, two_has.lab.ha.socket_path,
                            redirect_wait=5.0)
    populate(pg_store, settings)
    try:
        yield IkeEnv(pg_store, settings, tmp_path)
    finally:
        for c in [two_has.lab.ha, two_has.ha2, *two_has.lab.mn_charons]:
            with contextlib.suppress(Exception):
                reset_ha(c)


def for_ha2(settings: Settings, two_has: TwoHas) -> Settings:
    vici = dataclasses.replace(settings.vici, home_agent="ha2.example.com",
                               socket=two_has.ha2.socket_path)
    return dataclasses.replace(settings, vici=vici)


async def test_drain_redirects_live_mn_to_the_other_ha_with_the_same_hoa(
    two_has: TwoHas, env: IkeEnv, tmp_path: Path
) -> None:
    store, settings = env.store, env.settings
    sub = subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber
    assert sub.home_agent == "ha1.example.com"
    home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2_ADDR, settings=settings)
    bundle.write_bundle(tmp_path / "b", mn_bundle.renderer_for(settings)(
        bundle.mn_bundle_input(store, settings, "mn@example.com")))
    mn = two_has.lab.mns[0]
    hoa = str(sub.hoas[0])
    async with running_bridge(settings, store), running_bridge(for_ha2(settings, two_has), store):
        await asyncio.to_thread(mn.load_bundle, tmp_path / "b")
        ok, log = await asyncio.to_thread(mn.initiate)
        assert ok, log
        await wait_until(lambda: bindings.list_open(store, "ha1.example.com"), 10,
                         "no binding on ha1")

        # drain reassigns the HA's subscribers in the store (bootstrapctl ha drain does the same)
        home_agents.drain(store, ACTOR, "ha1.example.com", settings)
        assert subscribers.get(store, "mn@example.com").home_agent == "ha2.example.com"
        again = reassign.reassign_from(store, settings, ACTOR, "ha1.example.com")
        assert again.moved == {} and again.stranded == ()  # repeating it changes nothing

        def on_ha2() -> bool:
            sas = [sa for sa in mn.sas() if sa.get("state") == "ESTABLISHED"]
            return [(sa["remote-host"], sa.get("local-vips")) for sa in sas] == [
                (HA2_ADDR, [hoa])]

        await wait_until(on_ha2, 20, "MN was not redirected to ha2 with its HoA")
        b2 = await wait_until(lambda: bindings.list_open(store, "ha2.example.com"), 10,
                              "no binding on ha2 after the redirect")
        assert [(b.identity, b.care_of, b.hoa) for b in b2] == [
            ("mn@example.com", nl.care_of(1), hoa)]
        await wait_until(lambda: not bindings.list_open(store, "ha1.example.com"), 10,
                         "binding on ha1 stayed open")
        s = two_has.lab.ha.session()
        try:
            assert [c for item in s.list_conns() for c in nl.dec(item)] == []
        finally:
            s.transport.close()
        assert subscribers.get(store, "mn@example.com").home_agent == "ha2.example.com"


async def test_drain_terminates_an_mn_without_redirect_support(
    two_has: TwoHas, env: IkeEnv, tmp_path: Path
) -> None:
    store, settings = env.store, env.settings
    sub = subscribers.enroll(store, settings, ACTOR, "old@example.com").subscriber
    home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2_ADDR, settings=settings)
    bundle.write_bundle(tmp_path / "b", mn_bundle.renderer_for(settings)(
        bundle.mn_bundle_input(store, settings, "old@example.com")))
    mn = two_has.lab.mns[1]
    async with running_bridge(settings, store), running_bridge(for_ha2(settings, two_has), store):
        await asyncio.to_thread(mn.load_bundle, tmp_path / "b")
        assert (await asyncio.to_thread(mn.initiate))[0]
        home_agents.drain(store, ACTOR, "ha1.example.com", settings)  # also reassigns
        # redirect is ignored by this MN; ha1 terminates it after [vici] redirect_wait
        await wait_until(lambda: not mn.vips(), 20, "ha1 did not terminate the stuck MN")
        await wait_until(lambda: not bindings.list_open(store, "ha1.example.com"), 10,
                         "binding on ha1 stayed open")
        # the MN re-bootstraps: its new bundle names ha2, same HoA
        bundle.write_bundle(tmp_path / "b2", mn_bundle.renderer_for(settings)(
            bundle.mn_bundle_input(store, settings, "old@example.com")))
        await asyncio.to_thread(mn.load_bundle, tmp_path / "b2")
        ok, log = await asyncio.to_thread(mn.initiate)
        assert ok, log
        assert await asyncio.to_thread(mn.vips) == [str(sub.hoas[0])]
        b2 = await wait_until(lambda: bindings.list_open(store, "ha2.example.com"), 10,
                              "no binding on ha2")
        assert b2[0].care_of == nl.care_of(2)


async def test_bootstrapctl_drain_wait_follows_every_node_off_the_ha(
    two_has: TwoHas, env: IkeEnv, tmp_path: Path
) -> None:
    """``bootstrapctl ha drain --wait --json``: one redirected MN, one terminated, counts."""
    store, settings = env.store, env.settings
    for ident in ("mn@example.com", "old@example.com"):
        subscribers.enroll(store, settings, ACTOR, ident)
    home_agents.add(store, ACTOR, "ha2.example.com", "example.com", HA2_ADDR, settings=settings)
    mns = two_has.lab.mns
    async with running_bridge(settings, store), running_bridge(for_ha2(settings, two_has), store):
        for k, ident in enumerate(("mn@example.com", "old@example.com")):
            d = tmp_path / f"b{k}"
            bundle.write_bundle(d, mn_bundle.renderer_for(settings)(
                bundle.mn_bundle_input(store, settings, ident)))
            await asyncio.to_thread(mns[k].load_bundle, d)
            ok, log = await asyncio.to_thread(mns[k].initiate)
            assert ok, log
        await wait_until(lambda: len(bindings.list_open(store, "ha1.example.com")) == 2, 10,
                         "two bindings on ha1")
        r = await asyncio.to_thread(
            bootstrapctl, env, "ha", "drain", "ha1.example.com", "--wait", "--timeout", "40",
            "--json")
        assert r.returncode == 0, (r.stdout, r.stderr)
        out = json.loads(r.stdout)
        assert (out["moved"], out["stranded"], out["open_at_start"], out["open"]) == (2, 0, 2, 0)
        assert (out["fqdn"], out["state"]) == ("ha1.example.com", "draining")
        assert 0 < out["seconds"] < 40
        assert bindings.list_open(store, "ha1.example.com") == []
        # the redirect-capable MN is on ha2 already; the other was terminated
        b2 = await wait_until(lambda: bindings.list_open(store, "ha2.example.com"), 10,
                              "no binding on ha2 after the redirect")
        assert [b.identity for b in b2] == ["mn@example.com"]
        # a second drain --wait has nothing to wait for; an unknown HA is one sentence, exit 1
        again = await asyncio.to_thread(bootstrapctl, env, "ha", "drain", "ha1.example.com",
                                        "--wait", "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["open_at_start"] == 0
        bad = await asyncio.to_thread(bootstrapctl, env, "ha", "drain", "nope.example.com",
                                      "--wait")
        assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
