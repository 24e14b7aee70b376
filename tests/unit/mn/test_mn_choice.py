"""The agent's choice of home agent: (state, event, now) -> (state, actions), no I/O."""

from __future__ import annotations

from mn_agent import answers, choice
from mn_agent.choice import Connect, Discover, Discovered, Lost, Moved, State, Tick, Up, Wait

from .test_mn_answers import KEA_REPLY

HA1, HA2, HA3 = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::3"
T = choice.Tuning(holdoff=30.0, retry=2.0, redirect_limit=3, redirect_window=60.0,
                  rediscover=5.0)


def run(state: State, *events: tuple[float, choice.Event]) -> tuple[State, list[choice.Action]]:
    actions: list[choice.Action] = []
    for now, ev in events:
        state, actions = choice.step(state, ev, now, T)
    return state, actions


def test_start_discovers_then_connects_to_the_first_dhcp_answer() -> None:
    s, a = choice.step(State(), Tick(), 0.0, T)
    assert a == [Discover()]
    s, a = choice.step(s, Discovered((HA1, HA2), (HA2, HA3)), 0.1, T)
    assert a == [Connect(HA1)] and s.candidates == (HA1, HA2, HA3)
    s, a = choice.step(s, Up(HA1, "2001:db8:1::42"), 0.5, T)
    assert (s.phase, s.current, s.hoa, a) == ("up", HA1, "2001:db8:1::42", [])


def test_answers_from_the_byte_vector_drive_the_choice() -> None:
    got = answers.parse_reply(KEA_REPLY, 0x4D4950)
    assert got is not None
    _, a = choice.step(State(phase="discovering"), Discovered(got.addresses, ()), 0.0, T)
    assert a == [Connect("2001:db8:200::1")]


def test_srv_only_when_dhcp_is_silent() -> None:
    _, a = choice.step(State(phase="discovering"), Discovered((), (HA2, HA1)), 0.0, T)
    assert a == [Connect(HA2)]


def test_lost_sa_rediscovers_and_moves_on_to_the_next_named_ha() -> None:
    s, _ = run(State(), (0, Tick()), (0, Discovered((HA1, HA2))), (1, Up(HA1, "h")))
    s, a = choice.step(s, Lost(HA1, "DPD timeout"), 10.0, T)
    assert a == [Discover()] and s.failures == {HA1: 10.0}
    # ha1 is still named (its heartbeat is not stale yet): skipped while held off
    s, a = choice.step(s, Discovered((HA1, HA2)), 10.2, T)
    assert a == [Connect(HA2)]


def test_never_an_ha_the_answers_no_longer_name() -> None:
    s, _ = run(State(), (0, Tick()), (0, Discovered((HA1, HA2))), (1, Up(HA1, "h")))
    s, _ = choice.step(s, Lost(HA1, "IKE down"), 5.0, T)
    s, a = choice.step(s, choice.ConnectFailed(HA2, "timeout"), 6.0, T)
    assert a == [Discover()]
    # the new answers name only ha3: neither ha1 nor ha2 is tried, whatever was known before
    s, a = choice.step(s, Discovered((HA3,), ()), 6.1, T)
    assert a == [Connect(HA3)]
    s, a = choice.step(State(phase="discovering", failures={HA3: 0.0}), Discovered(), 1.0, T)
    assert a == [Wait(6.0)] and s.phase == "waiting"


def test_all_named_failed_recently_retries_the_oldest_after_retry_seconds() -> None:
    s = State(phase="discovering", failures={HA1: 10.0, HA2: 11.0})
    s, a = choice.step(s, Discovered((HA1, HA2)), 11.0, T)
    assert a == [Wait(12.0)]
    s, a = choice.step(s, Tick(), 11.5, T)
    assert a == []
    s, a = choice.step(s, Tick(), 12.0, T)
    assert a == [Discover()]
    s, a = choice.step(s, Discovered((HA1, HA2)), 12.1, T)
    assert a == [Connect(HA1)]


def test_failure_older_than_holdoff_is_forgiven_in_answer_order() -> None:
    s = State(phase="discovering", failures={HA1: 0.0})
    _, a = choice.step(s, Discovered((HA1, HA2)), 30.0, T)
    assert a == [Connect(HA1)]


def test_redirect_is_followed_while_named_and_a_loop_is_a_failure() -> None:
    s, _ = run(State(), (0, Tick()), (0, Discovered((HA1, HA2))), (1, Up(HA1, "h")))
    s, a = choice.step(s, Moved(HA2), 2.0, T)
    assert a == [Discover()] and (s.phase, s.current) == ("up", HA2)
    s, a = choice.step(s, Discovered((HA2,)), 2.1, T)
    assert a == [] and s.current == HA2  # still named: stay
    s, _ = choice.step(s, Moved(HA1), 3.0, T)
    s, _ = choice.step(s, Moved(HA2), 4.0, T)
    s, a = choice.step(s, Moved(HA1), 5.0, T)  # 4 redirects within 60 s, limit 3
    assert a == [Discover()] and s.failures == {HA1: 5.0} and s.phase == "discovering"
    _, a = choice.step(s, Discovered((HA1, HA2)), 5.1, T)
    assert a == [Connect(HA2)]


def test_up_on_an_ha_the_answers_dropped_moves_to_the_best_named() -> None:
    s, _ = run(State(), (0, Tick()), (0, Discovered((HA1, HA2))), (1, Up(HA1, "h")))
    s, a = choice.step(s, Moved(HA3), 2.0, T)  # redirected somewhere nobody names
    s, a = choice.step(s, Discovered((HA2,)), 2.1, T)
    assert a == [Connect(HA2)]
