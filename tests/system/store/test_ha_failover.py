"""HA failure detection and takeover in the store (``bootstrap.services.ha_watch``), both backends.

A monitored HA whose heartbeat is older than ``[ha] failure_timeout`` is marked
``failed`` by exactly one watcher, leaves the SRV set and its AAAA through the
DNS outbox, closes its bindings, and its subscribers move to the live HAs with
their HoAs; it becomes ``active`` again only after beating for ``[ha]
recovery_time``, and its old subscribers stay where they went.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing as mp
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bootstrap import config, domain
from bootstrap.config import Settings
from bootstrap.services import (
    audit,
    bindings,
    credentials,
    ha_watch,
    home_agents,
    subscribers,
)
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox, HomeAgent, Subscriber, utcnow
from tests.support.store import TEST_ACTOR, add_example

AGENTS = (
    ("ha1.example.com", "2001:db8:1::1", None),
    ("ha2.example.com", "2001:db8:1::2", None),
)
WATCHER = ha_watch.actor_for("test-host")


def ha_settings(tmp: Path, url: str) -> Settings:
    s = config.from_mapping(
        {"ha": {"failure_timeout": 5.0, "recovery_time": 10.0}}, tmp, "test"
    )
    return dataclasses.replace(s, database=dataclasses.replace(s.database, url=url))


def at(t0: dt.datetime, seconds: float) -> dt.datetime:
    return t0 + dt.timedelta(seconds=seconds)


def state_of(store: Store, fqdn: str) -> domain.HAState:
    return home_agents.get(store, fqdn).state


def test_a_silent_ha_fails_once_and_its_subscribers_move_with_their_hoas(
    store: Store, tmp_path: Path
) -> None:
    settings = ha_settings(tmp_path, store.url)
    add_example(store, settings, zones=("example.com",), agents=AGENTS[:1])
    subs = [subscribers.enroll(store, settings, TEST_ACTOR, f"mn{i}@example.com").subscriber
            for i in range(6)]
    home_agents.add(store, TEST_ACTOR, "ha2.example.com", "example.com", "2001:db8:1::2",
                    settings=settings)
    hoas = {s.identity: s.hoas for s in subs}
    t0 = utcnow()
    for fqdn in ("ha1.example.com", "ha2.example.com"):
        home_agents.heartbeat(store, fqdn, now=t0, failure_timeout=5.0)
    bindings.sa_up(store, "ha1.example.com",
                   bindings.LiveSa("7", "mn0@example.com", "2001:db8:ff::7", 4500,
                                   (str(subs[0].hoas[0]),)), now=t0)
    home_agents.heartbeat(store, "ha2.example.com", now=at(t0, 5), failure_timeout=5.0)
    assert ha_watch.tick(store, settings, WATCHER, at(t0, 5)) == []  # 5 s old is not failed
    home_agents.heartbeat(store, "ha2.example.com", now=at(t0, 6), failure_timeout=5.0)
    done = ha_watch.tick(store, settings, WATCHER, at(t0, 6))
    assert [(a.transition.fqdn, a.won, a.closed_bindings, a.moved) for a in done] == [
        ("ha1.example.com", True, 1, 6)
    ]
    assert state_of(store, "ha1.example.com") is domain.HAState.FAILED
    assert state_of(store, "ha2.example.com") is domain.HAState.ACTIVE
    # a second watcher deciding from the same rows wins nothing
    assert ha_watch.tick(store, settings, ha_watch.actor_for("other"), at(t0, 6.5)) == []
    for s in subs:
        now = subscribers.get(store, s.identity)
        assert now.home_agent == "ha2.example.com" and now.hoas == hoas[s.identity]
    agents = {h.fqdn: h for h in home_agents.list_all(store)}
    assert (agents["ha1.example.com"].assigned, agents["ha2.example.com"].assigned) == (0, 6)
    assert bindings.list_open(store, "ha1.example.com") == []
    actions = [(e.action, e.target, e.actor) for e in audit.recent(store, 10)]
    assert ("ha.failed", "ha1.example.com", WATCHER.name) in actions
    takeover = [e for e in audit.recent(store, 10) if e.action == "ha.reassign"]
    assert len(takeover) == 1 and takeover[0].detail["moved"] == 6
    assert len([a for a in actions if a[0] == "ha.failed"]) == 1
    with store.session() as s:
        srv = s.scalars(select(DnsOutbox).where(DnsOutbox.rdtype == "SRV")
                        .order_by(DnsOutbox.id.desc())).first()
        aaaa = s.scalars(select(DnsOutbox).where(DnsOutbox.name == "ha1.example.com.",
                                                 DnsOutbox.rdtype == "AAAA")
                         .order_by(DnsOutbox.id.desc())).first()
    assert srv is not None and srv.reason == "ha.failed"
    assert srv.rdatas == ["10 100 0 ha2.example.com."] or all("ha1" not in r for r in srv.rdatas)
    assert aaaa is not None and aaaa.rdatas == []
    # enrollment no longer names the failed HA
    late = subscribers.enroll(store, settings, TEST_ACTOR, "late@example.com").subscriber
    assert late.home_agent == "ha2.example.com"


def test_a_failed_ha_recovers_after_the_recovery_time_without_flapping(
    store: Store, tmp_path: Path
) -> None:
    settings = ha_settings(tmp_path, store.url)
    add_example(store, settings, agents=AGENTS)
    sub = subscribers.enroll(store, settings, TEST_ACTOR, "mn@example.com").subscriber
    t0 = utcnow()
    beat = home_agents.heartbeat
    beat(store, "ha1.example.com", now=t0, failure_timeout=5.0)
    beat(store, "ha2.example.com", now=t0, failure_timeout=5.0)
    for fqdn in ("ha1.example.com", "ha2.example.com"):
        if subscribers.get(store, sub.identity).home_agent == fqdn:
            first, other = fqdn, ({"ha1.example.com", "ha2.example.com"} - {fqdn}).pop()
    beat(store, other, now=at(t0, 10), failure_timeout=5.0)
    assert len(ha_watch.tick(store, settings, WATCHER, at(t0, 10))) == 1
    assert subscribers.get(store, sub.identity).home_agent == other
    # first beats again from t=20, once; a gap of 7 s; then steadily from t=27
    beat(store, first, now=at(t0, 20), failure_timeout=5.0)
    beat(store, other, now=at(t0, 20), failure_timeout=5.0)
    assert ha_watch.tick(store, settings, WATCHER, at(t0, 20)) == []
    for s in range(27, 37):
        beat(store, first, now=at(t0, s), failure_timeout=5.0)
        beat(store, other, now=at(t0, s), failure_timeout=5.0)
        assert ha_watch.tick(store, settings, WATCHER, at(t0, s)) == []  # run < 10 s
        assert state_of(store, first) is domain.HAState.FAILED
    beat(store, first, now=at(t0, 37), failure_timeout=5.0)
    beat(store, other, now=at(t0, 37), failure_timeout=5.0)
    done = ha_watch.tick(store, settings, WATCHER, at(t0, 37))
    assert [(a.transition.after, a.won) for a in done] == [(domain.HAState.ACTIVE, True)]
    assert state_of(store, first) is domain.HAState.ACTIVE
    assert subscribers.get(store, sub.identity).home_agent == other  # old nodes stay
    assert [e.action for e in audit.recent(store, 3, target=first)][:2] == [
        "ha.recovered", "ha.reassign"
    ]


def test_draining_and_down_are_the_operators_and_never_change(store: Store, tmp_path: Path) -> None:
    settings = ha_settings(tmp_path, store.url)
    add_example(store, settings, agents=AGENTS)
    t0 = utcnow()
    home_agents.heartbeat(store, "ha1.example.com", now=t0, failure_timeout=5.0)
    home_agents.heartbeat(store, "ha2.example.com", now=t0, failure_timeout=5.0)
    home_agents.drain(store, TEST_ACTOR, "ha1.example.com", settings)
    home_agents.set_state(store, TEST_ACTOR, "ha2.example.com", domain.HAState.DOWN, settings)
    assert ha_watch.tick(store, settings, WATCHER, at(t0, 60)) == []
    assert state_of(store, "ha1.example.com") is domain.HAState.DRAINING
    assert state_of(store, "ha2.example.com") is domain.HAState.DOWN


MOVERS = 2
HOSTS = 60


def _watch(url: str, tmp: str, name: str, when: str, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    store = Store(url)
    settings = ha_settings(Path(tmp), url)
    barrier.wait()
    now = dt.datetime.fromisoformat(when)
    if name.startswith("taker"):  # a takeover resumed by two hosts at once
        ha_watch.take_over(store, settings, ha_watch.actor_for(name), "ha1.example.com", now)
    else:
        ha_watch.tick(store, settings, ha_watch.actor_for(name), now)
    store.dispose()


@pytest.mark.parametrize("role", ["host", "taker"])
def test_two_hosts_deciding_at_once_fail_the_ha_once_and_move_each_subscriber_once(
    pg_store: Store, tmp_path: Path, role: str
) -> None:
    settings = ha_settings(tmp_path, pg_store.url)
    add_example(pg_store, settings, agents=AGENTS[:1])
    credentials.fernet(settings)
    for i in range(HOSTS):
        subscribers.enroll(pg_store, settings, TEST_ACTOR, f"mn{i}@example.com")
    for fqdn, addr, cap in (("ha2.example.com", "2001:db8:1::2", 35),
                            ("ha3.example.com", "2001:db8:1::3", 35)):
        home_agents.add(pg_store, TEST_ACTOR, fqdn, "example.com", addr, capacity=cap,
                        settings=settings)
    t0 = utcnow()
    for fqdn in ("ha1.example.com", "ha2.example.com", "ha3.example.com"):
        home_agents.heartbeat(pg_store, fqdn, now=t0, failure_timeout=5.0)
    for fqdn in ("ha2.example.com", "ha3.example.com"):
        home_agents.heartbeat(pg_store, fqdn, now=at(t0, 8), failure_timeout=5.0)
    if role == "taker":  # failed already, its subscribers not yet moved (a crash in between)
        with pg_store.session() as s:
            s.execute(update(HomeAgent).where(HomeAgent.fqdn == "ha1.example.com")
                      .values(state="failed"))
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(MOVERS)
    procs = [ctx.Process(target=_watch, args=(pg_store.url, str(tmp_path), f"{role}{p}",
                                              at(t0, 8).isoformat(), barrier))
             for p in range(MOVERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * MOVERS
    entries = audit.recent(pg_store, 50, target="ha1.example.com")
    assert len([e for e in entries if e.action == "ha.failed"]) == (role == "host")
    moved = sum(e.detail["moved"] for e in entries if e.action == "ha.reassign")
    assert moved == HOSTS
    with pg_store.session() as s:
        agents = {h.fqdn: h for h in s.scalars(select(HomeAgent))}
        served = {
            fqdn: s.scalar(select(func.count(Subscriber.id))
                           .where(Subscriber.home_agent_id == h.id))
            for fqdn, h in agents.items()
        }
    assert served["ha1.example.com"] == 0
    for fqdn, h in agents.items():
        assert h.assigned == served[fqdn], fqdn
        assert h.assigned <= h.capacity
    assert served["ha2.example.com"] + served["ha3.example.com"] == HOSTS
