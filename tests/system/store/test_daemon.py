"""bootstrapd as an operator starts it: refuses an old schema, runs, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bootstrap import migrate
from bootstrap.store.engine import Store

BOOTSTRAPD = Path(sys.executable).parent / "bootstrapd"


def test_refuses_out_of_date_schema(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "s.db"}"\n')
    r = subprocess.run(
        [BOOTSTRAPD, "--config", cfg],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "BOOTSTRAP_DATABASE_URL": ""},
    )
    assert r.returncode == 2
    assert "run 'bootstrapctl db upgrade'" in r.stderr and "Traceback" not in r.stderr


def test_runs_until_interrupted_and_exits_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    migrate.upgrade(Store(url))
    cfg = tmp_path / "b.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n[dhcp6]\nenabled = false\n[web]\nenabled = false\n')
    p = subprocess.Popen(
        [BOOTSTRAPD, "--config", cfg],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "BOOTSTRAP_DATABASE_URL": ""},
    )
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops" in line:
                break
        assert any("running housekeeping" in ln for ln in lines), lines
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "bootstrapd: stopped" in out and "Traceback" not in err
