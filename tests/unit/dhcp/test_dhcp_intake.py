"""The intake bound's two rules: too old to answer, and the kernel's overflow count."""

from __future__ import annotations

from dhcp_hinfo import intake, policy
from dhcp_hinfo.intake import Intake


def test_a_request_that_waited_longer_than_the_bound_is_stale() -> None:
    rule = Intake(max_wait_ns=50_000_000)
    now = 1_000_000_000_000
    assert not rule.stale(now - 1_000, now)
    assert not rule.stale(now - 50_000_000, now)
    assert rule.stale(now - 50_000_001, now)


def test_overflow_counter_deltas_survive_the_uint32_wrap() -> None:
    rule = Intake()
    assert rule.overflowed(0) == 0
    assert rule.overflowed(7) == 7
    assert rule.overflowed(7) == 0
    rule.overflowed(2**32 - 2)
    assert rule.overflowed(3) == 5


def test_shed_reasons_are_counter_labels() -> None:
    assert set(intake.REASONS) <= set(policy.DROP_REASONS)
