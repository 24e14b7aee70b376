"""Fixtures of the DHCP responder tests."""

from __future__ import annotations

import pytest

from bootstrap.domain import Snapshot
from tests.support.dhcp import sample_snapshot


@pytest.fixture
def snapshot() -> Snapshot:
    return sample_snapshot()
