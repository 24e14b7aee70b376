"""``[dns] publish = "registration"``: the MN's AAAA follows its IKE_SA.

The DNS publisher (``dns_updater.service``) runs against a real named
(the DNS tests' ``bind_named`` helper); SA up/down stands in for the MIPv6
registration, so the AAAA appears when the MN connects and goes when it
disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap import migrate
from bootstrap.config import DnsConfig
from bootstrap.context import ServiceContext
from bootstrap.services import bundle, subscribers
from bootstrap.store.engine import Store
from dns_updater import service as dns_service
from ikev2_glue import mn_bundle
from tests.support.ikev2 import (
    ACTOR,
    HaLab,
    IkeEnv,
    ike_settings,
    populate,
    running_bridge,
    wait_until,
)
from tests.support.named import FORWARD, REVERSE4, REVERSE6, Named


@pytest.fixture
def named(tmp_path: Path) -> Iterator[Named]:
    n = Named(tmp_path / "named")
    try:
        n.start()
        yield n
    finally:
        n.stop()


@pytest.fixture
def dns_env(tmp_path: Path, clean_lab: HaLab, named: Named) -> Iterator[IkeEnv]:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    migrate.upgrade(store)
    settings = ike_settings(tmp_path, store.url, clean_lab.ha.socket_path)
    dns = DnsConfig(enabled=True, server=named.server, tsig_key_file=str(named.key_file),
                    publish="registration", timeout=3.0, backoff_initial=0.2,
                    backoff_cap=1.0, poll_interval=0.05)
    settings = dataclasses.replace(settings, dns=dns)
    populate(store, settings, zones=(FORWARD, REVERSE6, REVERSE4))
    try:
        yield IkeEnv(store, settings, tmp_path)
    finally:
        store.dispose()


async def test_aaaa_appears_on_connect_and_goes_on_disconnect(
    clean_lab: HaLab, dns_env: IkeEnv, named: Named, tmp_path: Path
) -> None:
    store, settings = dns_env.store, dns_env.settings
    hoa = str(subscribers.enroll(store, settings, ACTOR, "mn@example.com").subscriber.hoas[0])
    bundle.write_bundle(tmp_path / "b", mn_bundle.renderer_for(settings)(
        bundle.mn_bundle_input(store, settings, "mn@example.com")))
    mn = clean_lab.mns[0]
    publisher = asyncio.create_task(dns_service.serve(
        ServiceContext(settings=settings, store=store, announce=lambda _line: None)))
    try:
        async with running_bridge(settings, store):
            await asyncio.sleep(0.5)
            assert named.query("mn.example.com.", "AAAA") == []  # enrolled, not registered
            await asyncio.to_thread(mn.load_bundle, tmp_path / "b")
            assert (await asyncio.to_thread(mn.initiate))[0]
            await wait_until(lambda: named.query("mn.example.com.", "AAAA") == [hoa], 15,
                             "AAAA did not appear when the MN connected")
            await asyncio.to_thread(mn.terminate_all)
            await wait_until(lambda: named.query("mn.example.com.", "AAAA") == [], 15,
                             "AAAA stayed after the MN disconnected")
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
