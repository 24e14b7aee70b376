"""``bootstrapctl db status`` against a primary with a real streaming standby as read_url.

Both servers are the test's own (:mod:`tests.support.pgcluster`): the standby is made with
``pg_basebackup -R`` and streams from the primary.  The command must name the primary, list
the standby with its lag, say that reads go to a standby, and, once the primary is stopped,
say "store unavailable:" in one line with exit 1 while bootstrapd's part still answers.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from bootstrap import migrate
from bootstrap.store.engine import Store
from tests.support.pgcluster import Server

BOOTSTRAPCTL = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "bootstrapctl")


def ctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BOOTSTRAPCTL, "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def test_db_status_names_primary_standby_lag_and_read_server(tmp_path: Path) -> None:
    primary = Server(tmp_path / "p")
    standby = Server(tmp_path / "s")
    try:
        primary.init()
        primary.start()
        url = primary.create_database("st")
        store = Store(url)
        migrate.upgrade(store)
        store.dispose()
        standby.init_standby_of(primary, "standby1")
        standby.start()
        standby.wait_ready()
        config = tmp_path / "b.toml"
        config.write_text(
            f'[database]\nurl = "{url}"\nread_url = "{standby.url("st")}"\n'
            '[web]\nlisten = "127.0.0.1:1"\n'
        )
        deadline = time.monotonic() + 60  # the standby connects and catches up in a moment
        while True:
            r = ctl(config, "db", "status", "--json")
            doc = json.loads(r.stdout)
            if [s for s in doc["store"]["standbys"] if s["state"] == "streaming"]:
                break
            assert time.monotonic() < deadline, doc
            time.sleep(0.3)
        assert r.returncode == 0, r.stderr
        st = doc["store"]
        assert st["primary"]["address"] == f"127.0.0.1:{primary.port}"
        assert st["primary"]["in_recovery"] is False
        (sb,) = st["standbys"]
        assert sb["name"] == "standby1" and sb["state"] == "streaming"
        assert st["read_server"]["address"] == f"127.0.0.1:{standby.port}"
        assert st["read_server"]["in_recovery"] is True
        assert "does not answer" in doc["daemon"]
        text = ctl(config, "db", "status")
        assert f"127.0.0.1:{primary.port} (primary" in text.stdout
        assert "standby standby1" in text.stdout and "replay lag" in text.stdout
        primary.stop()
        down = ctl(config, "db", "status")
        assert down.returncode == 1 and "Traceback" not in down.stderr + down.stdout
        lines = [ln for ln in down.stdout.splitlines() if "store unavailable: " in ln]
        assert len(lines) == 1
    finally:
        standby.cleanup()
        primary.cleanup()
