"""Outbox claims: in order per RRset, never claimed twice, nothing dropped."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from bootstrap.dnsrecords import RRset
from bootstrap.services import dnsoutbox
from bootstrap.store.engine import Store
from bootstrap.store.models import utcnow
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.dns import base_settings, with_dns
from tests.support.named import FORWARD, Named


def put(store: Store, *rrsets: RRset) -> None:
    dnsoutbox.enqueue_now(store, rrsets, [FORWARD], "test")


def test_newer_row_waits_for_older_one_of_the_same_name(store: Store) -> None:
    put(store, RRset("a.example.com.", "AAAA", ("2001:db8::1",)))
    first = dnsoutbox.claim(store, "p1", 1, 60)
    assert [r.name for r in first] == ["a.example.com."]
    put(store, RRset("a.example.com.", "AAAA", ("2001:db8::2",)),
        RRset("b.example.com.", "AAAA", ("2001:db8::3",)))
    # p2 may not take a's newer value while p1 holds the older one, but b is free
    second = dnsoutbox.claim(store, "p2", 10, 60)
    assert [(r.name, r.rdatas) for r in second] == [("b.example.com.", ("2001:db8::3",))]
    # a failed row holds back newer rows of its RRset until its retry is due
    retry = utcnow() + dt.timedelta(seconds=30)
    dnsoutbox.mark_failed(store, [(r.id, retry) for r in first], "TIMEOUT: test")
    assert dnsoutbox.claim(store, "p2", 10, 60) == []
    later = utcnow() + dt.timedelta(seconds=31)
    both = dnsoutbox.claim(store, "p2", 10, 60, now=later)
    assert [r.rdatas for r in both] == [("2001:db8::1",), ("2001:db8::2",)]
    assert both[0].attempts == 1


def test_expired_claim_is_taken_over_and_nozone_rows_are_reported(store: Store) -> None:
    put(store, RRset("a.example.com.", "AAAA", ("2001:db8::1",)))
    dnsoutbox.enqueue_now(store, [RRset("a.example.org.", "AAAA", ("2001:db8::9",))],
                          [FORWARD], "test")
    assert len(dnsoutbox.claim(store, "crashed", 10, 5)) == 1
    assert dnsoutbox.claim(store, "p2", 10, 5) == []
    later = utcnow() + dt.timedelta(seconds=6)
    taken = dnsoutbox.claim(store, "p2", 10, 5, now=later)
    assert [r.name for r in taken] == ["a.example.com."]
    st = dnsoutbox.status(store)
    assert st.unroutable == 1 and st.pending == 1


async def test_two_publishers_never_send_a_row_twice(
    pg_store: Store, tmp_path: Path, named: Named
) -> None:
    cfg = with_dns(base_settings(tmp_path, pg_store.url), named, batch_size=20, max_in_flight=2)
    for rnd in range(3):  # three values per name: the last one must win
        put(pg_store, *(RRset(f"h{i}.example.com.", "AAAA", (f"2001:db8::{rnd}:{i:x}",))
                        for i in range(300)))
    p1 = make_publisher(from_settings(cfg), pg_store, owner="p1")
    p2 = make_publisher(from_settings(cfg), pg_store, owner="p2")
    try:
        r1, r2 = await asyncio.gather(p1.flush(), p2.flush())
    finally:
        await p1.close()
        await p2.close()
    assert r1.failed == r2.failed == 0
    assert r1.done_ids and r2.done_ids, "both publishers took part"
    assert not set(r1.done_ids) & set(r2.done_ids)
    assert len(r1.done_ids) + len(r2.done_ids) == 900
    assert dnsoutbox.pending_count(pg_store) == 0
    for i in (0, 137, 299):
        assert named.query(f"h{i}.example.com.", "AAAA") == [f"2001:db8::2:{i:x}"]
