"""Bulk import: what each imported subscriber gets, rejected rows, capacity, kill -9 and rerun.

Run on SQLite and PostgreSQL through the service layer (and, for the crash,
the installed ``bootstrapctl``), with small batches so several batches and
their boundaries are exercised.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bootstrap.config import Settings
from bootstrap.services import bulk, credentials, radius, versions
from bootstrap.store.engine import Store
from bootstrap.store.models import AuditLog, DnsOutbox, HomeAddress, HomeAgent, Subscriber
from tests.support.store import TEST_ACTOR, add_example

BOOTSTRAPCTL = Path(sys.executable).parent / "bootstrapctl"


def _rows(n: int, start: int = 1) -> list[bulk.Row | tuple[int, str]]:
    return [bulk.Row(start + i, f"mn{i}@example.com") for i in range(n)]


def _consistent(store: Store) -> dict[str, int]:
    """The invariants a crash must not break; returns the subscriber count per HA."""
    with store.session() as s:
        per_ha = dict(
            s.execute(
                select(HomeAgent.fqdn, func.count(Subscriber.id))
                .join(Subscriber, Subscriber.home_agent_id == HomeAgent.id, isouter=True)
                .group_by(HomeAgent.fqdn)
            ).all()
        )
        assigned = dict(s.execute(select(HomeAgent.fqdn, HomeAgent.assigned)).all())
        assert per_ha == assigned, "HA counters differ from the subscribers they serve"
        subs = s.scalar(select(func.count(Subscriber.id))) or 0
        hoas = s.scalar(select(func.count(HomeAddress.id)).where(HomeAddress.family == 6)) or 0
        assert hoas == subs, "every subscriber has exactly one IPv6 HoA, and no HoA is orphaned"
        audits = s.scalar(
            select(func.count(AuditLog.id)).where(AuditLog.action == "subscriber.enroll")
        )
        assert audits == subs
        return per_ha


def test_import_gives_each_subscriber_what_enrollment_gives(
    example_store: Store, settings: Settings
) -> None:
    store = example_store
    add_example(
        store,
        settings,
        "example.net",
        "2001:db8:2::/64",
        None,
        ("example.net",),
        (("ha1.example.net", "2001:db8:2::1", None),),
    )
    before = versions.current(store).get(versions.SUBSCRIBERS, 0)
    rows = _rows(250) + [bulk.Row(300 + i, f"dns{i}@example.net") for i in range(20)]
    seen: list[bulk.BatchResult] = []
    result = bulk.import_rows(store, settings, TEST_ACTOR, rows, 100, on_batch=seen.append)
    assert result.enrolled == 270 and not result.rejected
    assert sum(b.enrolled for b in seen) == 270 and len(seen) == 3  # one hand-over per batch
    assert versions.current(store)[versions.SUBSCRIBERS] == before + 3  # one bump per batch
    secrets = dict(result.secrets)
    assert len(secrets) == 270 and len(set(secrets.values())) == 270
    with store.session() as s:
        subs = s.scalars(select(Subscriber)).all()
        addrs = {a.subscriber_id: a.address for a in s.scalars(select(HomeAddress))}
        outbox = s.scalars(select(DnsOutbox)).all()
        audited = {a.target: a.detail for a in s.scalars(select(AuditLog))}
    assert len({addrs[x.id] for x in subs}) == 270
    for sub in subs:
        secret = secrets[sub.identity]
        assert sub.secret_enc is not None and secret.encode() not in sub.secret_enc
        assert credentials.decrypt_secret(settings, sub.secret_enc) == secret
        assert sub.nt_hash == radius.nt_hash(secret)
        prefix = "2001:db8:2::/64" if sub.identity.endswith(".net") else "2001:db8:1::/64"
        assert ipaddress.IPv6Address(addrs[sub.id]) in ipaddress.IPv6Network(prefix)
        assert audited[sub.identity]["hoa"] == [addrs[sub.id]]
    # only example.net lists a zone: its 20 subscribers have AAAA + PTR rows waiting
    by_name = Counter(o.rdtype for o in outbox if o.name.startswith("dns"))
    assert by_name == {"AAAA": 20}
    assert sum(1 for o in outbox if o.rdtype == "PTR") == 0  # no reverse zone listed
    _consistent(store)


def test_rejected_rows_keep_their_line_and_the_rest_commits(
    example_store: Store, settings: Settings
) -> None:
    text = (
        "identity,fqdn,network,auth\n"
        "a@example.com\n"
        "b@example.com,a.example.com\n"  # 3: fqdn of line 2
        "c@example.com,ha1.example.com\n"  # 4: an HA's name
        "d@example.com,,example.org\n"  # 5: unknown network
        "not an identity\n"  # 6
        "e@example.com,,,magic\n"  # 7: bad auth
        "a@example.com\n"  # 8: the same identity again: existing, not an error
        "f@example.com,,,,extra\n"  # 9: too many columns
        "g@example.com\n"
    )
    result = bulk.import_rows(
        example_store, settings, TEST_ACTOR, bulk.parse_csv(text.splitlines()), 3
    )
    assert result.enrolled == 2 and result.existing == 1
    reasons = {line: why for line, _, why in result.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 9]
    assert "already belongs" in reasons[3] and "home agent" in reasons[4]
    assert "example.org" in reasons[5] and "auth" in reasons[7] and "columns" in reasons[9]
    again = bulk.import_rows(
        example_store, settings, TEST_ACTOR, bulk.parse_csv(text.splitlines()), 3
    )
    assert again.enrolled == 0 and again.existing == 3
    assert sorted(line for line, _, _ in again.rejected) == [3, 4, 5, 6, 7, 9]
    _consistent(example_store)


def test_capacity_is_never_exceeded(store: Store, settings: Settings) -> None:
    add_example(store, settings, agents=())
    from bootstrap.services import home_agents

    home_agents.add(
        store, TEST_ACTOR, "ha1.example.com", "example.com", "2001:db8:1::1", capacity=30
    )
    home_agents.add(
        store, TEST_ACTOR, "ha2.example.com", "example.com", "2001:db8:1::2", capacity=25
    )
    result = bulk.import_rows(store, settings, TEST_ACTOR, _rows(70), 20)
    assert result.enrolled == 55
    assert len(result.rejected) == 15
    assert all("spare capacity" in why for _, _, why in result.rejected)
    assert [line for line, _, _ in result.rejected] == list(range(56, 71))
    assert _consistent(store) == {"ha1.example.com": 30, "ha2.example.com": 25}


def test_kill_9_mid_import_then_the_same_command_completes(
    example_store: Store, settings: Settings, tmp_path: Path
) -> None:
    n = 6000
    csv = tmp_path / "subs.csv"
    csv.write_text("".join(f"mn{i}@example.com\n" for i in range(n)))
    config = tmp_path / "bootstrap.toml"
    config.write_text(
        f'[database]\nurl = "{example_store.url}"\n'
        f'[store]\nsecret_key_file = "{settings.store.secret_key_file}"\n'
        f'credentials_dir = "{tmp_path / "creds"}"\n'
    )
    cmd = [str(BOOTSTRAPCTL), "--config", str(config), "import", str(csv), "--batch-size", "200"]
    env = {**os.environ, "BOOTSTRAP_DATABASE_URL": ""}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 60
        committed = 0
        while time.monotonic() < deadline and committed < 400:
            with example_store.session() as s:
                committed = s.scalar(select(func.count(Subscriber.id))) or 0
            time.sleep(0.02)
        assert proc.poll() is None, "the import finished before it could be killed: raise n"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    partial = sum(_consistent(example_store).values())
    assert 0 < partial < n and partial % 200 == 0  # whole batches only
    again = subprocess.run([*cmd, "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    out = json.loads(again.stdout)
    assert out["existing"] == partial and out["enrolled"] == n - partial
    assert sum(_consistent(example_store).values()) == n


def test_pages_of_an_imported_store_cover_every_subscriber_once(
    example_store: Store, settings: Settings
) -> None:
    from bootstrap.services import subscribers

    bulk.import_rows(example_store, settings, TEST_ACTOR, _rows(120), 50)
    subscribers.suspend(example_store, settings, TEST_ACTOR, "mn7@example.com")
    seen: list[str] = []
    for offset in range(0, 140, 25):
        page, total = subscribers.list_page(example_store, limit=25, offset=offset)
        assert total == 120
        seen += [s.identity for s in page]
    assert seen == sorted(f"mn{i}@example.com" for i in range(120))
    page, total = subscribers.list_page(example_store, search="mn1", limit=5, offset=0)
    assert total == 31  # mn1, mn10..mn19, mn100..mn119
    matching = sorted(f"mn{i}@example.com" for i in range(120) if str(i).startswith("1"))
    assert [s.identity for s in page] == matching[:5]
    assert subscribers.list_page(example_store, search="mn1", limit=5, offset=100) == ([], 31)
    page, total = subscribers.list_page(example_store, state="suspended")
    assert total == 1 and [s.identity for s in page] == ["mn7@example.com"]
    page, total = subscribers.list_page(example_store, network="example.com", limit=1, offset=119)
    assert total == 120 and page[0].identity == seen[-1] and page[0].hoas


def test_rows_a_unique_constraint_refuses_are_skipped_and_the_rest_inserted(
    store: Store,
) -> None:
    """The conflict path of the batch insert (a concurrent writer took some rows)."""
    from bootstrap.store import bulkload
    from bootstrap.store.models import AuditLog

    table = AuditLog.__table__
    with store.session() as s:
        first = bulkload.insert_new(
            s,
            table,
            [{"actor": "a", "source": "cli", "action": "x", "target": "t1", "detail": {}}],
            ("id", "target"),
            "target",
        )
    ((taken_id, _),) = first
    rows = [
        {
            "id": taken_id,
            "actor": "a",
            "source": "cli",
            "action": "x",
            "target": "again",
            "detail": {},
        },
        {
            "id": taken_id + 1,
            "actor": "a",
            "source": "cli",
            "action": "x",
            "target": "t2",
            "detail": {"n": 1},
        },
    ]
    with store.session() as s:
        got = bulkload.insert_new(s, table, rows, ("id", "target"), "target")
    assert got == [(taken_id + 1, "t2")]
    with store.session() as s:
        targets = sorted(s.scalars(select(AuditLog.target)))
        detail = s.scalars(select(AuditLog.detail).where(AuditLog.target == "t2")).one()
    assert targets == ["t1", "t2"] and detail == {"n": 1}
