"""Since when a service runs on stale data: set by the first failure, cleared by a success."""

from __future__ import annotations

import datetime as dt

from bootstrap.freshness import Freshness, as_json

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_stale_since_the_first_failure_until_a_success() -> None:
    f = Freshness()
    assert f.refreshed("dhcp", now=at(0)) is False
    assert f.failed("dhcp", "answering from the last snapshot", now=at(5)) is True
    assert f.failed("dhcp", now=at(9)) is False
    (dhcp,) = f.report()
    assert dhcp.stale_since == at(5) and dhcp.refreshed_at == at(0)
    view = as_json(f.report(), now=at(20))["dhcp"]
    assert view == {"data_age_seconds": 20.0, "stale_since": at(5).isoformat(),
                    "stale_seconds": 15.0}
    assert f.refreshed("dhcp", now=at(21)) is True
    assert as_json(f.report(), now=at(22))["dhcp"] == {
        "data_age_seconds": 1.0, "stale_since": None, "stale_seconds": 0.0}
