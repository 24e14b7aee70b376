"""The unit suite runs pure code only: no root, no network peers, no outside binary.

``PATH`` is cut down to the venv's ``bin`` for every unit test, so a test that
starts ``tsig-keygen``, ``tshark``, ``psql`` or another Debian tool fails here
instead of quietly needing the machine ``make test`` prepares; such a test
belongs in ``tests/system/``.  Store, PostgreSQL and peer fixtures live in
``tests/system/conftest.py`` and are not visible from here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _only_the_venv_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
