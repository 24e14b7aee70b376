"""HA slots under racing writers on one PostgreSQL: a drain's reassignment and enrollments at once.

Every move of an HA's ``assigned`` counter goes through one guarded UPDATE
(``bootstrap.services.slots``); with several hosts writing, no HA may end
above its capacity and every counter must equal the subscribers it serves.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
from pathlib import Path

from sqlalchemy import func, select

from bootstrap.domain import SubscriberState
from bootstrap.errors import Exhausted
from bootstrap.services import credentials, home_agents, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import HomeAgent, Subscriber
from tests.support.store import TEST_ACTOR, add_example, make_settings

BEFORE = 60
ENROLLERS = 2
EACH = 20
HA2_CAPACITY = 40


def _drain(url: str, tmp: str, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    store = Store(url)
    settings = make_settings(Path(tmp), url)
    barrier.wait()
    home_agents.drain(store, TEST_ACTOR, "ha1.example.com", settings)
    store.dispose()


def _enroll(url: str, tmp: str, proc: int, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    store = Store(url)
    settings = make_settings(Path(tmp), url)
    barrier.wait()
    for i in range(EACH):
        with contextlib.suppress(Exhausted):  # ha1 drained and ha2 full: refusing is right
            subscribers.enroll(store, settings, TEST_ACTOR, f"late{proc}-{i}@example.com")
    store.dispose()


def test_drain_and_enrollments_never_overfill_an_ha(pg_store: Store, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, pg_store.url)
    add_example(pg_store, settings, agents=(("ha1.example.com", "2001:db8:1::1", None),))
    credentials.fernet(settings)  # the key file exists before the workers race to create it
    for i in range(BEFORE):
        subscribers.enroll(pg_store, settings, TEST_ACTOR, f"mn{i}@example.com")
    home_agents.add(
        pg_store,
        TEST_ACTOR,
        "ha2.example.com",
        "example.com",
        "2001:db8:1::2",
        capacity=HA2_CAPACITY,
        settings=settings,
    )
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(1 + ENROLLERS)
    procs = [ctx.Process(target=_drain, args=(pg_store.url, str(tmp_path), barrier))]
    procs += [
        ctx.Process(target=_enroll, args=(pg_store.url, str(tmp_path), p, barrier))
        for p in range(ENROLLERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    live = [SubscriberState.ACTIVE.value, SubscriberState.SUSPENDED.value]
    with pg_store.session() as s:
        agents = {h.fqdn: h for h in s.scalars(select(HomeAgent))}
        served = {
            fqdn: s.scalar(
                select(func.count(Subscriber.id)).where(
                    Subscriber.home_agent_id == h.id, Subscriber.state.in_(live)
                )
            )
            for fqdn, h in agents.items()
        }
    assert {f: h.assigned for f, h in agents.items()} == served
    assert agents["ha2.example.com"].assigned == HA2_CAPACITY  # 60 waiting, room for 40
    assert agents["ha1.example.com"].assigned >= BEFORE - HA2_CAPACITY  # the rest stranded
