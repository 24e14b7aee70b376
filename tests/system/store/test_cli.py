"""The bootstrapctl contract, run as an operator would: the installed console script."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap import migrate
from bootstrap.store.engine import Store

BOOTSTRAPCTL = Path(sys.executable).parent / "bootstrapctl"


class Ctl:
    def __init__(self, tmp_path: Path, url: str) -> None:
        self.tmp = tmp_path
        self.config = tmp_path / "bootstrap.toml"
        self.config.write_text(f'[database]\nurl = "{url}"\n')

    def __call__(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [BOOTSTRAPCTL, "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.tmp,
            env={**os.environ, "BOOTSTRAP_DATABASE_URL": ""},
        )
        assert r.returncode == code, (args, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr
        if code != 0 and "--json" not in args:
            assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        return r

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "--json").stdout)


@pytest.fixture(params=["sqlite", "postgresql"])
def ctl(request: pytest.FixtureRequest, tmp_path: Path) -> Ctl:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    return Ctl(tmp_path, url)


def test_contract_end_to_end(ctl: Ctl) -> None:
    r = ctl("list", code=2)
    assert "bootstrapctl db upgrade" in r.stderr
    up = ctl.json("db", "upgrade")
    assert up["from"] is None and up["to"] == migrate.head_revision()
    assert "already at" in ctl("db", "upgrade").stdout  # idempotent
    net = ctl.json(
        "network",
        "add",
        "example.com",
        "--prefix",
        "2001:db8:1::/64",
        "--ipv4-pool",
        "192.0.2.0/24",
        "--zone",
        "example.com",
    )
    assert net == {
        "domain": "example.com",
        "prefix": "2001:db8:1::/64",
        "ipv4_pool": "192.0.2.0/24",
        "zones": ["example.com"],
        "ha_info": "both",
    }
    assert [n["domain"] for n in ctl.json("network", "list")] == ["example.com"]
    ha = ctl.json(
        "ha",
        "add",
        "ha1.example.com",
        "--network",
        "example.com",
        "--address",
        "2001:db8:1::1",
        "--ipv4",
        "192.0.2.1",
        "--priority",
        "10",
        "--weight",
        "100",
        "--capacity",
        "10000",
    )
    assert ha["state"] == "active" and ha["address"] == "2001:db8:1::1"
    e = ctl.json("enroll", "mn@example.com", "--ipv4")
    assert e["identity"] == "mn@example.com" and e["fqdn"] == "mn.example.com"
    assert e["network"] == "example.com" and e["auth"] == "eap"
    assert e["ha"] == {"fqdn": "ha1.example.com", "address": "2001:db8:1::1", "ipv4": "192.0.2.1"}
    assert e["hoa"].startswith("2001:db8:1:") and e["hoa4"].startswith("192.0.2.")
    assert len(e["secret"]) >= 20
    shown = ctl.json("show", "mn@example.com")
    assert shown["hoa"] == e["hoa"] and "secret" not in json.dumps(shown)
    assert shown["bindings"] == []
    ctl("enroll", "mn@example.com", code=1)
    ctl("show", "ghost@example.com", code=1)
    ctl("enroll", "bad identity", code=2)
    ctl("network", "add", "example.org", "--prefix", "2001:db8:2::/96", code=2)
    ctl("enroll", "x@example.com", "--auth", "cert", code=1)  # no CA yet
    assert "BEGIN CERTIFICATE" in ctl.json("ca", "init")["ca_cert"]
    c = ctl.json("enroll", "x@example.com", "--auth", "cert", "--fqdn", "x1.example.com")
    assert c["fqdn"] == "x1.example.com" and Path(c["cert"]).exists()
    assert stat.S_IMODE(os.stat(c["key"]).st_mode) == 0o600
    listed = ctl.json("list", "--state", "active")
    assert sorted(s["identity"] for s in listed) == ["mn@example.com", "x@example.com"]
    assert ctl.json("suspend", "mn@example.com")["state"] == "suspended"
    assert [s["identity"] for s in ctl.json("list", "--state", "suspended")] == ["mn@example.com"]
    assert ctl.json("resume", "mn@example.com")["state"] == "active"
    assert ctl.json("revoke", "mn@example.com")["state"] == "revoked"
    ctl("resume", "mn@example.com", code=1)
    assert ctl.json("ha", "drain", "ha1.example.com")["state"] == "draining"
    ctl("enroll", "late@example.com", code=1)
    assert ctl.json("ha", "activate", "ha1.example.com")["state"] == "active"
    assert [h["fqdn"] for h in ctl.json("ha", "list")] == ["ha1.example.com"]
    actions = [a["action"] for a in ctl.json("audit", "--target", "mn@example.com")]
    assert actions == [
        "subscriber.revoke",
        "subscriber.resume",
        "subscriber.suspend",
        "subscriber.enroll",
    ]
    human = ctl("show", "x@example.com").stdout
    assert "x1.example.com" in human and "ha1.example.com" in human


def test_usage_and_config_errors_are_one_sentence(tmp_path: Path) -> None:
    ctl = Ctl(tmp_path, f"sqlite:///{tmp_path / 's.db'}")
    ctl("frobnicate", code=2)
    ctl("enroll", code=2)
    ctl(
        "ha",
        "add",
        "ha1.example.com",
        "--network",
        "example.com",
        "--address",
        "x",
        "--priority",
        "ten",
        code=2,
    )
    ctl.config.write_text("[database\nurl=1")
    r = ctl("list", code=2)
    assert "not valid TOML" in r.stderr
    ctl.config.write_text('[vici]\nassign = "magic"\n')
    r = ctl("list", code=2)
    assert "[vici] assign must be one of" in r.stderr
    r = subprocess.run(
        [BOOTSTRAPCTL, "--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "store unavailable: " in r.stderr


def test_import_is_batched_reports_rejects_and_reruns(ctl: Ctl) -> None:
    ctl("db", "upgrade")
    ctl("network", "add", "example.com", "--prefix", "2001:db8:1::/64")
    ctl("ha", "add", "ha1.example.com", "--network", "example.com", "--address", "2001:db8:1::1")
    csv = ctl.tmp / "subs.csv"
    good = [f"mn{i}@example.com" for i in range(30)]
    csv.write_text(
        "identity,fqdn,network,auth\n"
        + "\n".join(good)
        + "\nbad identity\nmn99@example.org\nmn31@example.com,,,magic\n"
    )
    r = ctl("import", str(csv), "--batch-size", "7", "--json", code=1)
    out = json.loads(r.stdout)
    assert out["enrolled"] == 30 and out["existing"] == 0
    reasons = {x["line"]: x["reason"] for x in out["rejected"]}
    assert set(reasons) == {32, 33, 34}
    assert "identity" in reasons[32] and "example.org" in reasons[33] and "auth" in reasons[34]
    secrets = Path(out["secrets_file"])
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600
    assert len(secrets.read_text().splitlines()) == 31
    again = json.loads(ctl("import", str(csv), "--json", code=1).stdout)
    assert again["enrolled"] == 0 and again["existing"] == 30
    assert len(ctl.json("list")) == 30


def test_store_shared_by_cli_and_service_layer(sqlite_store: Store, tmp_path: Path) -> None:
    """What the CLI writes, the service layer reads the same way (one store, one rule)."""
    from bootstrap.services import subscribers

    ctl = Ctl(tmp_path, sqlite_store.url)
    ctl("network", "add", "example.com", "--prefix", "2001:db8:1::/64")
    ctl("ha", "add", "ha1.example.com", "--network", "example.com", "--address", "2001:db8:1::1")
    e = ctl.json("enroll", "mn@example.com")
    assert str(subscribers.get(sqlite_store, "mn@example.com").hoas[0]) == e["hoa"]
