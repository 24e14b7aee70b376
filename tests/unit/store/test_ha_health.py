"""The failure detector's pure decisions: heartbeats and ``now`` in, state changes out."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
from pathlib import Path

import pytest

from bootstrap import config, ha_health
from bootstrap.domain import HAState, HomeAgent
from bootstrap.errors import ConfigError

T0 = dt.datetime(2026, 12, 2, 18, 0, tzinfo=dt.UTC)
POLICY = ha_health.HaPolicy(dt.timedelta(seconds=5), dt.timedelta(seconds=10))


def ha(state: HAState = HAState.ACTIVE, beat: float | None = 0.0,
       since: float | None = 0.0, ha_id: int = 1) -> HomeAgent:
    def at(s: float | None) -> dt.datetime | None:
        return None if s is None else T0 + dt.timedelta(seconds=s)

    return HomeAgent(
        id=ha_id, fqdn=f"ha{ha_id}.example.com",
        address=ipaddress.IPv6Address(f"2001:db8:1::{ha_id}"),
        network_id=1, network="example.com", state=state, last_heartbeat=at(beat),
        beating_since=at(since),
    )


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_an_active_ha_fails_once_its_heartbeat_is_older_than_the_timeout() -> None:
    assert ha_health.decide(ha(), later(5.0), POLICY) is None
    t = ha_health.decide(ha(), later(5.5), POLICY)
    assert t is not None
    assert (t.before, t.after, t.fqdn) == (HAState.ACTIVE, HAState.FAILED, "ha1.example.com")
    assert "5.5 s" in t.reason


def test_an_unmonitored_ha_is_never_failed() -> None:
    assert ha_health.decide(ha(beat=None, since=None), later(3600), POLICY) is None


@pytest.mark.parametrize("state", [HAState.DRAINING, HAState.DOWN])
def test_operator_states_are_left_alone(state: HAState) -> None:
    assert ha_health.decide(ha(state, beat=0.0), later(600), POLICY) is None
    assert ha_health.decide(ha(state, beat=599.0, since=0.0), later(600), POLICY) is None


def test_a_failed_ha_recovers_only_after_beating_for_the_recovery_time() -> None:
    # beats again from t=100: fresh, but the run is too short until t=110
    back = ha(HAState.FAILED, beat=109.0, since=100.0)
    assert ha_health.decide(back, later(109.5), POLICY) is None
    t = ha_health.decide(dataclasses.replace(back, last_heartbeat=later(110)), later(110.0), POLICY)
    assert t is not None and (t.before, t.after) == (HAState.FAILED, HAState.ACTIVE)


def test_a_failed_ha_with_a_stale_beat_stays_failed_whatever_its_run() -> None:
    assert ha_health.decide(ha(HAState.FAILED, beat=50.0, since=0.0), later(60), POLICY) is None


def test_a_gap_longer_than_the_timeout_restarts_the_run_so_a_flapping_ha_stays_failed() -> None:
    since = later(100)
    # beats at 100..104, nothing until 111 (gap 7 s > 5 s): the run restarts at 111
    assert ha_health.next_beating_since(later(104), since, later(111), POLICY) == later(111)
    # a gap of 4 s keeps the run
    assert ha_health.next_beating_since(later(104), since, later(108), POLICY) == since
    # first beat ever
    assert ha_health.next_beating_since(None, None, later(1), POLICY) == later(1)
    flapping = ha(HAState.FAILED, beat=115.0, since=111.0)
    assert ha_health.decide(flapping, later(115.5), POLICY) is None


def test_transitions_lists_every_change_in_order() -> None:
    agents = [ha(ha_id=1, beat=0.0), ha(ha_id=2, beat=19.0), ha(HAState.FAILED, 19.5, 5.0, 3)]
    got = ha_health.transitions(agents, later(20), POLICY)
    assert [(t.ha_id, t.after) for t in got] == [(1, HAState.FAILED), (3, HAState.ACTIVE)]


def test_cutoffs_are_the_guards_of_the_updates() -> None:
    assert ha_health.stale_cutoff(later(20), POLICY) == later(15)
    assert ha_health.recovered_cutoff(later(20), POLICY) == later(10)


def test_ha_section_defaults_and_bad_values(tmp_path: Path) -> None:
    s = config.from_mapping({}, tmp_path, "test")
    assert (s.ha.heartbeat_interval, s.ha.failure_timeout, s.ha.recovery_time) == (1.0, 5.0, 10.0)
    with pytest.raises(ConfigError, match=r"\[ha\] failure_timeout must be greater than 0"):
        config.from_mapping({"ha": {"failure_timeout": 0}}, tmp_path, "test")
    with pytest.raises(ConfigError, match=r"\[ha\] failure_timeout \(1.0\) must be longer"):
        config.from_mapping({"ha": {"failure_timeout": 1, "heartbeat_interval": 2}}, tmp_path, "t")
