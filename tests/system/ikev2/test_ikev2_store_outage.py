"""PostgreSQL away for 60 s while charon reports 20 SA ups and downs: no binding lost or left open.

The test runs its own PostgreSQL (:mod:`tests.support.pgcluster`) and stops it; the bridge
stays connected to charon, keeps the events in ``[vici] queue_file`` and applies them when the
server is back.  Afterwards the open bindings equal charon's ``list-sas`` and every SA that
came and went during the outage is in the store as a closed binding with the times charon
reported (the reconcile alone would know nothing of them).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

from bootstrap import migrate
from bootstrap.freshness import FRESHNESS
from bootstrap.services import bindings, bundle, subscribers
from bootstrap.store.engine import Store
from ikev2_glue import mn_bundle
from tests.support import netlab as nl
from tests.support.ikev2 import (
    ACTOR,
    HaLab,
    ike_settings,
    populate,
    running_bridge,
    wait_until,
)
from tests.support.pgcluster import private_server

OUTAGE = 60.0


def ha_sas(lab: HaLab) -> set[str]:
    s = lab.ha.session()
    try:
        return {v["uniqueid"] for item in s.list_sas() for v in nl.dec(item).values()
                if v.get("state") == "ESTABLISHED"}
    finally:
        s.transport.close()


async def test_sixty_seconds_without_postgresql(clean_lab: HaLab, tmp_path: Path) -> None:
    with private_server(tmp_path / "pg") as server:
        store = Store(server.create_database("outage"))
        try:
            migrate.upgrade(store)
            queue = tmp_path / "vici-queue.jsonl"
            settings = ike_settings(tmp_path, store.url, clean_lab.ha.socket_path,
                                    queue_file=str(queue))
            populate(store, settings)
            names = ["mn1@example.com", "mn2@example.com"]
            mns = clean_lab.mns
            for k, name in enumerate(names):
                subscribers.enroll(store, settings, ACTOR, name)
                bundle.write_bundle(tmp_path / f"b{k}", mn_bundle.renderer_for(settings)(
                    bundle.mn_bundle_input(store, settings, name)))
                await asyncio.to_thread(mns[k].load_bundle, tmp_path / f"b{k}")
            async with running_bridge(settings, store) as bridge:
                stopped_at = dt.datetime.now(dt.UTC)
                await asyncio.to_thread(server.stop)
                t0 = time.monotonic()
                # 20 events: mn1 up/down x5, mn2 up/down x4, then both up
                plan = [0] * 5 + [1] * 4
                for k in plan:
                    ok, log = await asyncio.to_thread(mns[k].initiate)
                    assert ok, log
                    await asyncio.to_thread(mns[k].terminate_all)
                for k in (1, 0):
                    ok, log = await asyncio.to_thread(mns[k].initiate)
                    assert ok, log
                await wait_until(lambda: len(queue.read_text().splitlines()) >= 20
                                 if queue.exists() else False, 15,
                                 "the bridge did not queue the 20 events")
                assert bridge.connected.is_set(), "the bridge left charon during the outage"
                vici = {f.service: f for f in FRESHNESS.report()}["vici"]
                assert vici.stale_since is not None and vici.stale_since >= stopped_at
                await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - t0)))
                await asyncio.to_thread(server.start)
                back_at = dt.datetime.now(dt.UTC)
                await wait_until(lambda: not queue.exists(), 30,
                                 "the queued events were not applied")
                await wait_until(lambda: {b.ike_unique_id for n in names for b in
                                          bindings.list_for(store, n, open_only=True)}
                                 == ha_sas(clean_lab), 15,
                                 "open bindings differ from charon's list-sas")
                assert bridge.connected.is_set()
                vici = {f.service: f for f in FRESHNESS.report()}["vici"]
                assert vici.stale_since is None
            for name, ups in zip(names, (6, 5), strict=True):
                every = bindings.list_for(store, name)
                assert len(every) == ups, (name, every)
                closed = [b for b in every if b.down_at is not None]
                assert len(closed) == ups - 1
                assert all(stopped_at <= b.up_at <= b.down_at <= back_at
                           for b in closed if b.down_at is not None)
        finally:
            store.dispose()
