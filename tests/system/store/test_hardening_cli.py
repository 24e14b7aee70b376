"""Findings of the hardening review (issue 14) through ``bootstrapctl``, on both backends.

The real binary in a subprocess, as an operator runs it: exit codes, one sentence on
stderr, what the store and the secrets file hold afterwards, also after a kill -9.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bootstrap.cli import main as cli_main
from bootstrap.services import operators
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store

BOOTSTRAPCTL = Path(sys.executable).parent / "bootstrapctl"


class Ctl:
    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp = tmp_path
        self.url = url
        self.config = tmp_path / "bootstrap.toml"
        self.config.write_text(f'[database]\nurl = "{url}"\n')

    def argv(self, *args: str) -> list[str]:
        return [str(BOOTSTRAPCTL), "--config", str(self.config), *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, "BOOTSTRAP_DATABASE_URL": ""}

    def __call__(self, *args: str, code: int = 0) -> Run:
        """``bootstrapctl ARGS`` in-process: the same entry point, without the start-up cost."""
        with CliRunner().isolation(env={"BOOTSTRAP_DATABASE_URL": ""}) as (out, err, _):
            try:
                cli_main(["--config", str(self.config), *args])
                rc = 0
            except SystemExit as exc:
                rc = int(exc.code or 0)
            r = Run(rc, out.getvalue().decode(), err.getvalue().decode())
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        if code != 0 and "--json" not in args:
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        return r


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(params=["sqlite", "postgresql"])
def ctl(request: pytest.FixtureRequest, tmp_path: Path) -> Ctl:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    c = Ctl(tmp_path, url)
    c("db", "upgrade")
    c("network", "add", "example.com", "--prefix", "2001:db8:1::/64")
    c("ha", "add", "ha1.example.com", "--network", "example.com", "--address", "2001:db8:1::1",
      "--capacity", "100000")
    return c


def test_newline_in_identity_or_fqdn_is_refused(ctl: Ctl) -> None:
    """Finding 2: ``bootstrapctl enroll $'nl\\n@example.com'`` exited 0."""
    for args in (["nl\n@example.com"], ["nl@example.com\n"],
                 ["mn@example.com", "--fqdn", "nl\n.example.com"]):
        r = ctl("enroll", *args, code=2)
        assert "control characters" in r.stderr
    assert json.loads(ctl("list", "--json").stdout) == []
    # RFC 7542 characters beyond letters and digits are accepted and can be shown again
    ctl("enroll", "a`id`{x}|y@example.com", "--fqdn", "odd.example.com")
    shown = json.loads(ctl("show", "a`id`{x}|y@example.com", "--json").stdout)
    assert shown["fqdn"] == "odd.example.com"


def test_search_treats_wildcards_as_characters(ctl: Ctl) -> None:
    """Finding 9: ``search=_`` or ``%`` matched everything."""
    for n, ident in enumerate(("mn1@example.com", "mn_2@example.com", "a%b@example.com")):
        ctl("enroll", ident, "--fqdn", f"h{n}.example.com")
    found = {s["identity"] for s in json.loads(ctl("list", "--search", "_", "--json").stdout)}
    assert found == {"mn_2@example.com"}
    found = {s["identity"] for s in json.loads(ctl("list", "--search", "%", "--json").stdout)}
    assert found == {"a%b@example.com"}
    assert len(json.loads(ctl("list", "--search", "mn", "--json").stdout)) == 2


def test_token_lifetime_overflow_is_a_usage_error(ctl: Ctl) -> None:
    """Finding 5: ``--days 3000000`` said "internal error" and exited 1."""
    r = ctl("token", "create", "long", "--role", "viewer", "--days", "3000000", code=2)
    assert "at most 36500" in r.stderr


def test_token_list_shows_expired_tokens_as_expired(ctl: Ctl) -> None:
    """Finding 9: an expired token was listed as ``valid``."""
    store = Store(ctl.url)
    try:
        operators.create_token(store, Actor("pytest", "cli"), "brief", "viewer", 1 / 86400)
        operators.create_token(store, Actor("pytest", "cli"), "lasting", "viewer", 30)
    finally:
        store.dispose()
    time.sleep(1.2)
    lines = ctl("token", "list").stdout.splitlines()
    rows = {ln.split()[0]: ln.split()[2] for ln in lines if not ln.startswith(("NAME", "-"))}
    assert rows == {"brief": "expired", "lasting": "valid"}


def test_nul_in_an_import_row_rejects_only_that_row(ctl: Ctl) -> None:
    """Finding 4: one NUL in the network column aborted the whole batch on PostgreSQL."""
    f = ctl.tmp / "subs.csv"
    f.write_text("ok1@example.com\nbad@example.com,,exam\x00ple.com\nok2@example.com\n")
    out = json.loads(ctl("import", str(f), "--json", code=1).stdout)
    assert out["enrolled"] == 2
    assert [r["line"] for r in out["rejected"]] == [2]
    assert "control characters" in out["rejected"][0]["reason"]
    r = ctl("import", str(f), code=1)
    assert "\x00" not in r.stderr and "line 2" in r.stderr


def _secrets(path: Path) -> dict[str, str]:
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["identity", "secret"]
    return {ident: secret for ident, secret in rows[1:]}


def test_killed_import_leaves_every_committed_secret_on_disk(ctl: Ctl) -> None:
    """Finding 6: the secrets file was written only at the end; kill -9 lost them all."""
    n = 1500
    f = ctl.tmp / "many.csv"
    f.write_text("".join(f"k{i}@example.com\n" for i in range(n)))
    out = ctl.tmp / "out" / "secrets.csv"
    proc = subprocess.Popen(ctl.argv("import", str(f), "--batch-size", "50",
                                     "--secrets-out", str(out)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ctl.env())
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # kill once some batches are in
            if out.exists() and len(out.read_bytes().splitlines()) > 150:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    written = _secrets(out)
    enrolled = _identities(ctl)
    assert 100 <= len(enrolled) < n, len(enrolled)
    assert enrolled <= set(written), "a committed subscriber's secret is in no file"
    assert len(written) - len(enrolled) <= 50  # at most the batch that was about to commit
    # the rerun finishes the job, appends to the same file and says where the rest is
    again = json.loads(ctl("import", str(f), "--secrets-out", str(out), "--json").stdout)
    assert again["existing"] == len(enrolled)
    assert again["existing_secrets"] == {str(out): len(enrolled)}
    assert again["enrolled"] == n - len(enrolled)
    final = _secrets(out)
    assert set(final) == {f"k{i}@example.com" for i in range(n)}
    text = ctl("import", str(f), "--secrets-out", str(out)).stdout
    assert f"EAP secrets of {n} already present subscribers: in {out}" in text


def _identities(ctl: Ctl) -> set[str]:
    store = Store(ctl.url)
    try:
        with store.session() as s:
            rows = s.connection().exec_driver_sql("SELECT identity FROM subscribers").all()
        return {r[0] for r in rows}
    finally:
        store.dispose()
