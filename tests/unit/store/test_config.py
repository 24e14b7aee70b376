"""The config file: every key checked, one sentence naming it, exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap import config
from bootstrap.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[3] / "bootstrap.toml.example"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bootstrap.toml"
    p.write_text(text)
    return p


def test_example_config_loads_and_resolves_paths(tmp_path: Path) -> None:
    p = tmp_path / "bootstrap.toml"
    p.write_text(EXAMPLE.read_text())
    s = config.load(p)
    assert s.database.url == f"sqlite:///{tmp_path / 'bootstrap.db'}"
    assert s.dns.tsig_key_file == str(tmp_path / "mip6-update.key")
    assert s.dhcp6.listen == "[::]:547" and s.web.listen == "127.0.0.1:8080"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[dns]\nbogus = 1\n", r"unknown key \[dns\] bogus"),
        ("[nosuch]\n", r"unknown section \[nosuch\]"),
        ("[dns]\nenabled = 'yes'\n", r"\[dns\] enabled must be true or false"),
        ("[dns]\npublish = 'always'\n", r"\[dns\] publish must be one of 'enroll', 'registration'"),
        ("[dhcp6]\ninterfaces = 'eth0'\n", r"\[dhcp6\] interfaces must be a list of strings"),
        ("[database\n", "is not valid TOML"),
        ("dns = 3\n", r"\[dns\] must be a table"),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml")


def test_environment_overrides_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOTSTRAP_DATABASE_URL", "postgresql+psycopg://u@h/db")
    s = config.load(write(tmp_path, "[database]\nurl = 'sqlite:///x.db'\n"))
    assert s.database.url == "postgresql+psycopg://u@h/db"


def test_hostport_parsing() -> None:
    assert config.split_hostport("[::]:547", "k") == ("::", 547)
    assert config.split_hostport("127.0.0.1:8080", "k") == ("127.0.0.1", 8080)
    with pytest.raises(ConfigError, match="k must be address:port"):
        config.split_hostport("localhost", "k")


def test_daemon_rejects_broken_config_without_traceback(tmp_path: Path) -> None:
    p = write(tmp_path, "[web]\nlisten = 8080\n")
    bootstrapd = Path(sys.executable).parent / "bootstrapd"
    r = subprocess.run([bootstrapd, "--config", p], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "[web] listen must be a string" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_checked_in_example_is_current_and_every_key_documented() -> None:
    import dataclasses

    from bootstrap.config_doc import field_docs, render_example

    for name, cls in config.SECTIONS.items():
        undocumented = [f.name for f in dataclasses.fields(cls) if f.name not in field_docs(cls)]
        assert undocumented == [], f"[{name}] keys without a docstring: {undocumented}"
    assert EXAMPLE.read_text() == render_example(), (
        "bootstrap.toml.example is stale: run"
        " 'bootstrapctl config example > bootstrap.toml.example'"
    )
