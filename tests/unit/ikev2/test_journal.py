"""The bridge's durable event queue: lines survive a reopen, order is kept, the bound holds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ikev2_glue.journal import Journal, decode, encode
from ikev2_glue.model import IkeSa, SaDown, SaEvent, SaMoved, SaRekeyed, SaUp

AT = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)


def sa(uid: str) -> IkeSa:
    return IkeSa(conn="radius", uniqueid=uid, state="ESTABLISHED", local_host="2001:db8:1::1",
                 remote_host="2001:db8:0:1::1", remote_port=4500, remote_id="mn@example.com",
                 remote_eap_id=None, vips=("2001:db8:1::abcd", "192.0.2.7"))


EVENTS: list[SaEvent] = [SaUp(sa("1")), SaRekeyed("1", sa("2")),
                         SaMoved("2", "2001:db8:0:2::1", None), SaDown(sa("2"))]


def test_every_event_kind_round_trips_with_its_time() -> None:
    for ev in EVENTS:
        assert decode(encode(ev, AT)) == (ev, AT)


def test_queue_survives_a_reopen_in_order_and_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    j = Journal(path, 100)
    assert j.append([(e, AT) for e in EVENTS]) == 4
    assert path.stat().st_mode & 0o777 == 0o600
    again = Journal(path, 100)
    assert [e for e, _ in again.pending()] == EVENTS
    again.done(3)
    assert [e for e, _ in Journal(path, 100).pending()] == EVENTS[3:]
    again.done(1)
    assert not path.exists() and len(Journal(path, 100)) == 0


def test_the_bound_keeps_the_oldest_and_notes_the_overflow(tmp_path: Path) -> None:
    j = Journal(tmp_path / "q.jsonl", 3)
    assert j.append([(e, AT) for e in EVENTS]) == 3
    assert j.overflowed and [e for e, _ in j.pending()] == EVENTS[:3]
    j.done(3)
    assert not j.overflowed


def test_a_line_torn_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    Journal(path, 10).append([(EVENTS[0], AT)])
    with path.open("a") as f:
        f.write('{"kind":"down","sa":{"conn"')
    assert [e for e, _ in Journal(path, 10).pending()] == EVENTS[:1]
