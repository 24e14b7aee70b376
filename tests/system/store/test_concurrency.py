"""Four processes enrolling 500 subscribers each into one PostgreSQL store at once."""

from __future__ import annotations

import ipaddress
import multiprocessing as mp
from pathlib import Path

from sqlalchemy import func, select

from bootstrap.services import home_agents, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import HomeAddress, Subscriber
from tests.support.store import TEST_ACTOR, add_example, make_settings

PROCS = 4
EACH = 500


def _worker(url: str, tmp: str, proc: int, barrier: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    store = Store(url)
    settings = make_settings(Path(tmp), url)
    barrier.wait()
    for i in range(EACH):
        subscribers.enroll(store, settings, TEST_ACTOR, f"p{proc}-mn{i}@example.com")
    store.dispose()


def test_parallel_enrollment_gives_distinct_hoas(pg_store: Store, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, pg_store.url)
    add_example(
        pg_store,
        settings,
        agents=(
            ("ha1.example.com", "2001:db8:1::1", None),
            ("ha2.example.com", "2001:db8:1::2", None),
        ),
    )
    # the Fernet key file must exist before the workers race to create it
    from bootstrap.services import credentials

    credentials.fernet(settings)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(PROCS)
    procs = [
        ctx.Process(target=_worker, args=(pg_store.url, str(tmp_path), p, barrier))
        for p in range(PROCS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
    assert [p.exitcode for p in procs] == [0] * PROCS
    with pg_store.session() as s:
        assert s.scalar(select(func.count(Subscriber.id))) == PROCS * EACH
        addrs = list(s.scalars(select(HomeAddress.address).where(HomeAddress.family == 6)))
    assert len(addrs) == PROCS * EACH
    assert len(set(addrs)) == PROCS * EACH
    prefix = ipaddress.IPv6Network("2001:db8:1::/64")
    assert all(ipaddress.IPv6Address(a) in prefix for a in addrs)
    loads = {h.fqdn: h.assigned for h in home_agents.list_all(pg_store)}
    assert sum(loads.values()) == PROCS * EACH
    assert all(n > 0 for n in loads.values())  # both HAs took subscribers
