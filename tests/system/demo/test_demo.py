"""``make demo`` once, through the same entry point: every act holds, nothing is left behind.

The demo builds its own namespaces (``mipdemo-<tag>-*``) and starts named, two charon +
bootstrapd HA hosts, dhcrelay, dhclient and the MN's charon; the test asserts on the
summary a user reads, on the report file, and that no namespace or process of the run
survives it.
"""

from __future__ import annotations

import os
from pathlib import Path

from bootstrap.demo import lab, runner

ACT_NAMES = ["1 operator side", "2 MN discovers its HA", "3 IKEv2 + DNS + tunnel",
             "4 ha drain", "5 HA host kill -9", "6 revoke"]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_every_act_and_leaves_nothing(tmp_path: Path) -> None:
    lines: list[str] = []
    summary = runner.run_demo(tmp_path / "demo", say=lines.append)
    table = {a.name: a for a in summary.acts}
    assert summary.failure is None, summary.failure
    assert list(table) == ACT_NAMES
    assert all(a.ok for a in summary.acts), [(a.name, a.checked) for a in summary.acts]
    assert summary.ok
    hoa = table["3 IKEv2 + DNS + tunnel"].checked.split("HoA ")[1].split(";")[0]
    assert hoa.startswith("2001:db8:1:")
    for name in ("4 ha drain", "5 HA host kill -9"):
        assert f"HoA {hoa}" in table[name].checked  # the same HoA through the other HA
    # bounds with room for a loaded 2-core machine (typically 45-80 s in all)
    assert all(0 < a.seconds < 90 for a in summary.acts)
    assert sum(a.seconds for a in summary.acts) < 180
    # narrated with durations, and the report holds the same table and the timeline
    assert sum("(" in line and " s): " in line for line in lines) == len(ACT_NAMES)
    assert summary.report is not None
    html = summary.report.read_text()
    assert all(name in html for name in ACT_NAMES) and "<svg" in html and "<script" not in html
    assert html.count(">ok</td>") == len(ACT_NAMES)
    assert summary.logs is not None and (summary.logs / "bootstrapd-ha1.log").exists()
    # nothing left: no namespace of the run's tag, no process it started, no lab record
    assert lab.namespaces_of(summary.tag) == []
    assert summary.pids and not [p for p in summary.pids if alive(p)]
    assert not (tmp_path / "demo" / lab.STATE_FILE).exists()
