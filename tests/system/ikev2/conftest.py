"""Fixtures of the strongSwan bridge tests: namespaces, charons, a store per test.

``ha_lab`` (module scope) creates ``mipi-<tag>-ha`` with the HA's store
address 2001:db8:1::1 and two MN namespaces, and starts one charon in each;
everything is stopped by PID and deleted at the end, also on failure.  Each
test gets its own store (``ike_env``) and starts its own bridge
(``tests.support.ikev2.running_bridge``); between tests the charons are emptied so
tests stay independent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ikev2 import HaLab, IkeEnv, reset_ha, sqlite_env, start_lab, stop_lab


@pytest.fixture(scope="module")
def ha_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HaLab]:
    lab = start_lab(tmp_path_factory.mktemp("ike"))
    try:
        yield lab
    finally:
        stop_lab(lab)


@pytest.fixture
def clean_lab(ha_lab: HaLab) -> Iterator[HaLab]:
    """The module's lab with empty charons before and after the test."""
    if ha_lab.ha.proc is None:  # a test killed it
        ha_lab.ha.start()
    for c in [ha_lab.ha, *ha_lab.mn_charons]:
        reset_ha(c)
    try:
        yield ha_lab
    finally:
        if ha_lab.ha.proc is None:
            ha_lab.ha.start()
        for c in [ha_lab.ha, *ha_lab.mn_charons]:
            with contextlib.suppress(Exception):
                reset_ha(c)


@pytest.fixture
def ike_env(tmp_path: Path, clean_lab: HaLab) -> Iterator[IkeEnv]:
    """A migrated SQLite store with example.com, ha1 and a CA; settings aimed at the lab's HA."""
    yield from sqlite_env(tmp_path, clean_lab.ha.socket_path)
