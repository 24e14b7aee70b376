"""The operator rules that need no store: role order and the login limiter's window."""

from __future__ import annotations

import pytest

from bootstrap.services import operators


def test_roles_are_ordered() -> None:
    assert operators.role_allows("admin", "operator")
    assert operators.role_allows("operator", "viewer")
    assert not operators.role_allows("viewer", "operator")
    assert not operators.role_allows("root", "viewer")


def test_login_limiter_counts_per_name_and_source_with_backoff() -> None:
    """Finding 7: five wrong passwords from anywhere locked the name from every address."""
    now = [1000.0]
    lim = operators.LoginLimiter(3, 60.0, clock=lambda: now[0], ceiling=10)
    for _ in range(3):
        assert lim.retry_after("x", "a") == 0
        lim.failed("x", "a")
    assert lim.retry_after("x", "a") == pytest.approx(60.0)
    assert lim.retry_after("x", "b") == 0  # same name, another address
    assert lim.retry_after("y", "a") == 0  # same address, another name
    now[0] += 61
    assert lim.retry_after("x", "a") == 0
    for _ in range(3):
        lim.failed("x", "a")
    assert lim.retry_after("x", "a") == pytest.approx(120.0)  # the second lockout doubles
    now[0] += 121
    lim.succeeded("x", "a")
    for _ in range(3):
        lim.failed("x", "a")
    assert lim.retry_after("x", "a") == pytest.approx(60.0)  # a success starts over


def test_login_limiter_global_ceiling_spares_known_addresses() -> None:
    now = [1000.0]
    lim = operators.LoginLimiter(3, 60.0, clock=lambda: now[0], ceiling=10)
    lim.succeeded("x", "known")
    for k in range(10):  # ten addresses, one guess each: no pair is locked
        lim.failed("x", f"bot{k}")
    assert lim.retry_after("x", "new") == pytest.approx(60.0)
    assert lim.retry_after("x", "known") == 0
    now[0] += 61
    assert lim.retry_after("x", "new") == 0

