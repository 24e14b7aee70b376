"""``bootstrapctl dns status|flush|reconcile`` against a real named."""

from __future__ import annotations

import json
from pathlib import Path

import dns.query
import dns.update
import pytest

from bootstrap import config
from bootstrap.cli import main
from bootstrap.services import subscribers
from bootstrap.store.engine import Store
from dns_updater import keyfile
from tests.support.dns import ACTOR, setup_network
from tests.support.named import FORWARD, REVERSE6, Named


def write_config(tmp_path: Path, store: Store, named: Named) -> Path:
    path = tmp_path / "bootstrap.toml"
    path.write_text(
        f'[database]\nurl = "{store.url}"\n'
        f'[dns]\nenabled = true\nserver = "{named.server}"\n'
        f'tsig_key_file = "{named.key_file}"\ntimeout = 2.0\n'
    )
    return path


def run(capsys: pytest.CaptureFixture[str], cfg: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(cfg), "dns", *args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def behind_our_back(named: Named, zone: str, edit: dns.update.UpdateMessage) -> None:
    edit.use_tsig(keyfile.load(str(named.key_file)))
    r = dns.query.tcp(edit, named.host, port=named.port, timeout=5)
    assert r.rcode() == 0


def test_status_flush_reconcile(
    sqlite_store: Store, named: Named, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sqlite_store, named)
    settings = config.load(cfg)
    setup_network(sqlite_store, settings, (FORWARD, REVERSE6))
    subs = {
        n: subscribers.enroll(sqlite_store, settings, ACTOR, f"{n}@example.com").subscriber
        for n in ("alice", "bob", "carol")
    }
    code, out, _ = run(capsys, cfg, "status", "--json")
    st = json.loads(out)
    assert code == 0 and st["pending"] == 8
    assert {z["zone"] for z in st["zones"]} == {FORWARD, REVERSE6}

    code, out, _ = run(capsys, cfg, "flush", "--json")
    assert code == 0 and json.loads(out)["pending"] == 0
    subscribers.revoke(sqlite_store, settings, ACTOR, "carol@example.com")
    assert run(capsys, cfg, "flush")[0] == 0
    assert named.query("carol.example.com.", "AAAA") == []

    fwd = dns.update.UpdateMessage(FORWARD)
    fwd.replace("alice.example.com.", 300, "AAAA", "2001:db8:1::dead")  # changed
    fwd.replace("carol.example.com.", 300, "AAAA", "2001:db8:1::c")  # revoked, back again
    fwd.replace("other.example.com.", 300, "AAAA", "2001:db8:1::0e")  # not ours
    behind_our_back(named, FORWARD, fwd)
    rev = dns.update.UpdateMessage(REVERSE6)
    rev.delete(subs["bob"].hoas[0].reverse_pointer + ".", "PTR")  # deleted
    behind_our_back(named, REVERSE6, rev)

    code, out, _ = run(capsys, cfg, "reconcile", "--dry-run", "--json")
    rep = json.loads(out)
    assert code == 0 and not rep["applied"]
    got = {(d["name"], d["type"]): (d["have"], d["want"]) for d in rep["differences"]}
    assert got == {
        ("alice.example.com.", "AAAA"): (["2001:db8:1::dead"], [str(subs["alice"].hoas[0])]),
        ("carol.example.com.", "AAAA"): (["2001:db8:1::c"], []),
        (subs["bob"].hoas[0].reverse_pointer + ".", "PTR"): ([], ["bob.example.com."]),
    }
    assert named.query("alice.example.com.", "AAAA") == ["2001:db8:1::dead"]

    code, out, _ = run(capsys, cfg, "reconcile")
    assert code == 0 and "changed 3 RRsets" in out
    assert named.query("alice.example.com.", "AAAA") == [str(subs["alice"].hoas[0])]
    assert named.query("carol.example.com.", "AAAA") == []
    assert named.dig(subs["bob"].hoas[0].reverse_pointer, "PTR") == ["bob.example.com."]
    assert named.query("other.example.com.", "AAAA") == ["2001:db8:1::e"]
    assert named.query("www.example.com.", "TXT") == ['"operator data"']
    code, out, _ = run(capsys, cfg, "reconcile", "--zone", "example.com", "--json")
    assert code == 0 and json.loads(out)["differences"] == []


def test_flush_exits_1_with_the_reason_while_named_is_down(
    sqlite_store: Store, named: Named, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sqlite_store, named)
    setup_network(sqlite_store, config.load(cfg), (FORWARD,))
    named.stop()
    code, _, err = run(capsys, cfg, "flush")
    assert code == 1
    assert err.count("\n") == 1 and "2 DNS changes remain pending" in err
    assert "connection refused" in err and "Traceback" not in err
    code, out, _ = run(capsys, cfg, "status")
    assert code == 0 and "CONNREFUSED" in out
    code, _, err = run(capsys, cfg, "reconcile", "--zone", "example.org")
    assert code == 1 and "listed by no network" in err


def test_missing_key_file_is_a_config_error(
    sqlite_store: Store, named: Named, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, sqlite_store, named)
    cfg.write_text(cfg.read_text().replace(str(named.key_file), str(tmp_path / "nope.key")))
    code, _, err = run(capsys, cfg, "flush")
    assert code == 2
    assert "tsig_key_file" in err and "does not exist" in err and err.count("\n") == 1
