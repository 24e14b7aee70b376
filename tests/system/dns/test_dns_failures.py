"""Failures are distinct, clear, stored in last_error, and never lose a row."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import dns.query
import dns.rdatatype
import pytest
from sqlalchemy import select

from bootstrap.config import Settings
from bootstrap.dnsrecords import RRset
from bootstrap.services import dnsoutbox, home_agents, networks, outbox, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from dns_updater import transport
from dns_updater.service import make_publisher
from dns_updater.settings import from_settings
from tests.support.dns import ACTOR, setup_network, with_dns
from tests.support.named import FORWARD, REVERSE4, REVERSE6, Named, free_port


def rows(store: Store) -> list[DnsOutbox]:
    with store.session() as s:
        return list(s.scalars(select(DnsOutbox).order_by(DnsOutbox.id)))


async def flush(store: Store, settings: Settings) -> dict[str, int]:
    pub = make_publisher(from_settings(settings), store)
    try:
        return (await pub.flush()).errors
    finally:
        await pub.close()


@pytest.mark.parametrize(
    ("key_attr", "kind", "words"),
    [("wrong_secret_file", "BADSIG", "secret differs"), ("stranger_file", "BADKEY", "key name")],
)
async def test_wrong_tsig_key_keeps_rows_pending(
    sqlite_store: Store, sq_settings: Settings, named: Named, key_attr: str, kind: str, words: str
) -> None:
    cfg = with_dns(sq_settings, named, tsig_key_file=str(getattr(named, key_attr)))
    setup_network(sqlite_store, cfg, (FORWARD,))
    errors = await flush(sqlite_store, cfg)
    assert set(errors) == {kind}
    pending = rows(sqlite_store)
    assert pending and all(r.done_at is None and r.attempts == 1 for r in pending)
    assert all(r.last_error and r.last_error.startswith(f"{kind}: ") for r in pending)
    assert words in (pending[0].last_error or "")
    assert named.dig("_mip6._ipv6.example.com", "SRV") == []
    assert dnsoutbox.status(sqlite_store).zones[0].last_error == pending[-1].last_error


async def test_refused_record_is_isolated_from_its_batch(
    sqlite_store: Store, sq_settings: Settings, named: Named
) -> None:
    cfg = sq_settings
    setup_network(sqlite_store, cfg, (FORWARD,))
    with sqlite_store.session() as s:  # TXT is outside the key's update-policy
        outbox.enqueue(s, [RRset("x.example.com.", "TXT", ('"hello"',))], [FORWARD], "test")
    errors = await flush(sqlite_store, cfg)
    assert errors == {"REFUSED": 1}
    left = [r for r in rows(sqlite_store) if r.done_at is None]
    assert [(r.name, r.rdtype) for r in left] == [("x.example.com.", "TXT")]
    assert "update-policy" in (left[0].last_error or "")
    assert named.dig("_mip6._ipv6.example.com", "SRV") == ["10 100 0 ha1.example.com."]


async def test_unserved_zone_is_notauth(sqlite_store: Store, sq_settings: Settings) -> None:
    cfg = sq_settings
    networks.add(sqlite_store, ACTOR, "example.net", "2001:db8:2::/64", zones=("example.net",))
    home_agents.add(sqlite_store, ACTOR, "ha1.example.net", "example.net", "2001:db8:2::1",
                    settings=cfg)
    assert await flush(sqlite_store, cfg) == {"NOTAUTH": 2}
    assert all("not authoritative" in (r.last_error or "") for r in rows(sqlite_store))


async def test_server_down_then_timeout_then_bad_time(
    sqlite_store: Store, sq_settings: Settings, named: Named, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = with_dns(sq_settings, named, timeout=0.5)
    setup_network(sqlite_store, cfg, (FORWARD,))
    named.stop()
    assert await flush(sqlite_store, cfg) == {"CONNREFUSED": 2}
    assert "connection refused" in (rows(sqlite_store)[0].last_error or "")

    # a server that accepts the connection and never answers
    port = free_port()
    silent = socket.create_server(("127.0.0.1", port))
    try:
        quiet = with_dns(sq_settings, named, timeout=0.5, server=f"127.0.0.1:{port}")
        assert await flush(sqlite_store, quiet) == {"TIMEOUT": 2}
    finally:
        silent.close()
    assert all(r.attempts == 2 for r in rows(sqlite_store))

    named.start()
    skewed = time.time() + 1000
    monkeypatch.setattr(transport.time, "time", lambda: skewed)
    assert await flush(sqlite_store, cfg) == {"BADTIME": 2}
    assert "clocks differ" in (rows(sqlite_store)[0].last_error or "")
    monkeypatch.undo()
    assert await flush(sqlite_store, cfg) == {}
    assert dnsoutbox.pending_count(sqlite_store) == 0
    assert named.dig("ha1.example.com", "AAAA") == ["2001:db8:1::1"]


async def test_500_enrollments_while_named_is_down(
    store: Store, settings: Settings, named: Named
) -> None:
    cfg = with_dns(settings, named, backoff_initial=0.1, backoff_cap=0.5, timeout=1.0)
    setup_network(store, cfg, (FORWARD, REVERSE6, REVERSE4))
    named.stop()
    pub = make_publisher(from_settings(cfg), store)
    task = asyncio.create_task(pub.run())
    try:
        hoas = {}
        for i in range(500):
            e = subscribers.enroll(store, cfg, ACTOR, f"mn{i}@example.com")
            hoas[f"mn{i}.example.com."] = str(e.subscriber.hoas[0])
        await asyncio.sleep(0.5)
        st = dnsoutbox.status(store)
        assert st.pending >= 1000
        assert any((z.last_error or "").startswith("CONNREFUSED") for z in st.zones)
        named.start()
        deadline = time.monotonic() + 60
        while dnsoutbox.pending_count(store) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert dnsoutbox.pending_count(store) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pub.close()
    fwd: dict[str, list[str]] = {}
    rev: dict[str, list[str]] = {}
    for zone, into, rdtype in ((FORWARD, fwd, "AAAA"), (REVERSE6, rev, "PTR")):
        for msg in dns.query.xfr(named.host, zone, port=named.port, keyring=pub.client.key,
                                 keyname=pub.client.key.name, relativize=False):
            for rrset in msg.answer:
                if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                    into.setdefault(rrset.name.to_text(), []).extend(r.to_text() for r in rrset)
    mine = {k: v for k, v in fwd.items() if k.startswith("mn")}
    assert mine == {name: [hoa] for name, hoa in hoas.items()}
    assert sorted(n for v in rev.values() for n in v) == sorted(hoas)
