"""``bootstrapctl config check`` and ``bootstrapd`` refuse the same file with the same sentence.

Both build every enabled face's own settings through ``bootstrap.faces``; a
range rule a face applies (``[dhcp6] hop_limit`` 0-32, ``[web]``
login_attempts >= 1, ...) must therefore stop ``config check`` as it stops
the daemon, before the daemon touches the store or a socket.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

BAD = {
    "[dhcp6] hop_limit": (
        "[dhcp6]\nhop_limit = 99\n",
        "[dhcp6] hop_limit must be between 0 and 32",
    ),
    "[dhcp4] dualstack_code": (
        "[dhcp4]\nenabled = true\ndualstack_code = 68\n",
        "[dhcp4] dualstack_code must be 0 or a site-specific code 224-254",
    ),
    "[dns] batch_size": (
        "[dns]\nenabled = true\nbatch_size = 0\n",
        "[dns] batch_size must be at least 1, not 0",
    ),
    "[web] login_attempts": (
        "[web]\nlogin_attempts = 0\n",
        "[web] login_attempts must be at least 1, not 0",
    ),
    "[vici] radius_address": (
        '[vici]\nenabled = true\nradius_address = "nowhere"\n',
        "[vici] radius_address must be an IP address, not 'nowhere'",
    ),
}


def _run(cmd: list[str | Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BOOTSTRAP_DATABASE_URL": ""}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("key", sorted(BAD))
def test_config_check_and_daemon_refuse_alike(tmp_path: Path, key: str) -> None:
    text, sentence = BAD[key]
    cfg = tmp_path / "b.toml"
    db = tmp_path / "never.db"
    cfg.write_text(f'[database]\nurl = "sqlite:///{db}"\n' + text)
    check = _run([BIN / "bootstrapctl", "--config", cfg, "config", "check"])
    daemon = _run([BIN / "bootstrapd", "--config", cfg])
    for r in (check, daemon):
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        (line,) = r.stderr.strip().splitlines()
        assert line.endswith(f"{cfg}: {sentence}"), line
    assert check.stderr.split(": ", 1)[1] == daemon.stderr.split(": ", 1)[1]
    assert not db.exists()  # refused before opening the store


def test_config_check_names_the_services_it_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text("[dhcp6]\nenabled = false\n[dns]\nenabled = false\n")
    r = _run([BIN / "bootstrapctl", "--config", cfg, "config", "check"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{cfg.resolve()}: ok (web)"
