"""Pacing of the HA-initiated re-bootstrap after a takeover (draft-li §5), pure."""

from __future__ import annotations

from ikev2_glue import profile, reinit


def targets(n: int) -> list[reinit.Target]:
    return [reinit.Target(i, f"mn{i}@example.com", f"2001:db8:0:1::1:{i:x}",
                          (f"2001:db8:1::{i:x}",)) for i in range(1, n + 1)]


def starts(actions: list[reinit.Start | reinit.GiveUp]) -> list[int]:
    return [a.target.sub_id for a in actions if isinstance(a, reinit.Start)]


def test_never_more_than_concurrency_in_flight_and_each_up_frees_a_slot() -> None:
    p = reinit.Pacer(concurrency=2, rate=1000.0, timeout=10.0)
    assert p.offer(targets(5)) == 5
    assert starts(p.step(0.0)) == [1]  # one start per 1/rate seconds
    assert starts(p.step(0.01)) == [2]
    assert starts(p.step(0.1)) == []  # both still in flight
    assert p.established(1) is not None
    assert starts(p.step(0.2)) == [3]
    assert p.max_in_flight == 2 and p.up == 1


def test_rate_limits_starts_per_second() -> None:
    p = reinit.Pacer(concurrency=100, rate=10.0, timeout=10.0)
    p.offer(targets(30))
    begun = []
    for k in range(0, 100):  # one second in 10 ms steps
        begun += starts(p.step(k / 100))
    assert len(begun) == 10


def test_a_slow_caller_gets_the_starts_its_interval_allows_up_to_the_concurrency() -> None:
    p = reinit.Pacer(concurrency=4, rate=20.0, timeout=10.0)
    p.offer(targets(20))
    assert starts(p.step(0.0)) == [1]
    assert starts(p.step(0.1)) == [2, 3]  # 0.1 s at 20/s: two more
    assert starts(p.step(1.0)) == [4]  # the bucket holds 4, but only one slot is free


def test_a_dead_care_of_is_given_up_after_the_timeout_and_blocks_nobody() -> None:
    p = reinit.Pacer(concurrency=1, rate=1000.0, timeout=3.0)
    p.offer(targets(2))
    assert starts(p.step(0.0)) == [1]
    assert starts(p.step(2.9)) == []  # the dead one holds the only slot until its timeout
    acts = p.step(3.0)
    assert [type(a) for a in acts] == [reinit.GiveUp, reinit.Start]
    assert acts[0].target.sub_id == 1 and acts[1].target.sub_id == 2
    assert p.given_up == 1


def test_targets_are_offered_once_until_forgotten() -> None:
    p = reinit.Pacer(concurrency=5, rate=1000.0, timeout=3.0)
    assert p.offer(targets(2)) == 2
    assert p.offer(targets(3)) == 1
    p.forget(1)
    assert p.offer(targets(1)) == 1
    assert p.established(99) is None


def test_the_has_connection_protects_exactly_the_hoa_and_names_the_node() -> None:
    t = targets(1)[0]
    c = reinit.conn(t, "2001:db8:1::2", "example.com", "PEM")[t.conn]
    child = c["children"][profile.current().ha_child]
    assert c["remote_addrs"] == [t.care_of] and c["local_addrs"] == ["2001:db8:1::2"]
    assert child["remote_ts"] == ["2001:db8:1::1/128"] and child["local_ts"] == ["::/0"]
    assert c["remote-1"] == {"auth": "pubkey", "id": "mn1@example.com"}
    assert c["local-1"]["id"] == "example.com"
    assert reinit.sub_id_of(t.conn) == 1 and reinit.sub_id_of("sub-1") is None
