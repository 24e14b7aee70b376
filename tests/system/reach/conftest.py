"""The reachability lab (module scope): see reach_lab.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ikev2"))
