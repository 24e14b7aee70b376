"""The operator rules that need no store: role order and the login limiter's window."""

from __future__ import annotations

import pytest

from bootstrap.services import operators


def test_roles_are_ordered() -> None:
    assert operators.role_allows("admin", "operator")
    assert operators.role_allows("operator", "viewer")
    assert not operators.role_allows("viewer", "operator")
    assert not operators.role_allows("root", "viewer")


def test_login_limiter_counts_per_key_within_the_window() -> None:
    now = [1000.0]
    lim = operators.LoginLimiter(3, 60.0, clock=lambda: now[0])
    for _ in range(3):
        assert lim.retry_after("addr:a", "name:x") == 0
        lim.failed("addr:a", "name:x")
    assert lim.retry_after("addr:a") == pytest.approx(60.0)
    assert lim.retry_after("name:x", "addr:b") == pytest.approx(60.0)
    assert lim.retry_after("addr:b", "name:y") == 0
    now[0] += 30
    assert lim.retry_after("addr:a") == pytest.approx(30.0)
    now[0] += 31
    assert lim.retry_after("addr:a", "name:x") == 0
    lim.failed("addr:a")
    lim.succeeded("addr:a")
    assert lim.retry_after("addr:a") == 0
