"""Fixtures of the DHCP responder tests."""

from __future__ import annotations

import pytest
from dhcp_testlib import sample_snapshot

from bootstrap.domain import Snapshot


@pytest.fixture
def snapshot() -> Snapshot:
    return sample_snapshot()
