"""Operator accounts, sessions and tokens on both store backends; the operator/token CLI
(roles and the login limiter: tests/unit/web/test_operator_rules.py)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bootstrap.cli import root as root_group
from bootstrap.errors import Conflict, ValidationError
from bootstrap.services import audit, operators
from bootstrap.store.models import ApiToken, Operator, WebSession, utcnow
from tests.support.web import SETUP, World


@pytest.fixture
def world(world_both: World) -> World:
    """Accounts, sessions and tokens are checked on both store backends."""
    return world_both


def test_passwords_are_argon2id_and_checked(world: World) -> None:
    op = operators.add(world.store, SETUP, "erin", "viewer", "erin-password-1")
    with world.store.session() as s:
        stored = s.scalars(select(Operator.password_hash).where(Operator.name == "erin")).one()
    assert stored.startswith("$argon2id$") and "erin-password-1" not in stored
    assert operators.authenticate(world.store, "erin", "erin-password-1") == op
    assert operators.authenticate(world.store, "erin", "erin-password-2") is None
    assert operators.authenticate(world.store, "nobody", "erin-password-1") is None
    with pytest.raises(ValidationError, match="at least 12"):
        operators.add(world.store, SETUP, "frank", "viewer", "short")
    with pytest.raises(Conflict):
        operators.add(world.store, SETUP, "erin", "viewer", "erin-password-1")


def test_sessions_are_stored_hashed_and_expire(world: World) -> None:
    op = operators.authenticate(world.store, "oper", "oper-password-123")
    assert op is not None
    t0 = utcnow()
    new = operators.start_session(world.store, op, lifetime=3600, now=t0)
    with world.store.session() as s:
        ids = list(s.scalars(select(WebSession.id)))
    assert new.cookie not in ids and operators.digest(new.cookie) in ids
    who = operators.session_principal(world.store, new.cookie, 600, now=t0)
    assert who is not None and (who.name, who.role, who.kind) == ("oper", "operator", "session")
    assert who.csrf_token == new.csrf_token
    # idle for longer than the idle timeout: gone, and deleted from the store
    late = t0 + dt.timedelta(seconds=601)
    assert operators.session_principal(world.store, new.cookie, 600, now=late) is None
    assert operators.session_count(world.store, "oper") == 0
    # past its lifetime even when active
    new = operators.start_session(world.store, op, lifetime=60, now=t0)
    assert operators.session_principal(world.store, new.cookie, 600, t0 + dt.timedelta(seconds=30))
    assert operators.session_principal(world.store, new.cookie, 600,
                                       t0 + dt.timedelta(seconds=61)) is None


def test_disabling_an_operator_revokes_its_sessions(world: World) -> None:
    op = operators.authenticate(world.store, "oper", "oper-password-123")
    assert op is not None
    new = operators.start_session(world.store, op, lifetime=3600)
    operators.update(world.store, SETUP, "oper", disabled=True)
    assert operators.session_principal(world.store, new.cookie, 600) is None
    assert operators.authenticate(world.store, "oper", "oper-password-123") is None
    with pytest.raises(Conflict, match="last enabled admin"):
        operators.update(world.store, SETUP, "admin", disabled=True)


def test_tokens_are_stored_as_sha256_and_expire(world: World) -> None:
    view, raw = operators.create_token(world.store, SETUP, "short-lived", "viewer", 1)
    with world.store.session() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    assert operators.digest(raw) in hashes and all(raw not in h for h in hashes)
    assert operators.token_principal(world.store, raw) is not None
    later = utcnow() + dt.timedelta(days=2)
    assert operators.token_principal(world.store, raw, now=later) is None
    assert operators.token_principal(world.store, "mip6bs_" + "x" * 40) is None
    assert operators.token_principal(world.store, "not-ours") is None


def test_first_admin_only_on_an_empty_store(world: World, tmp_path: Path) -> None:
    assert operators.ensure_first_admin(world.store, SETUP) is None  # operators exist


def _cli(world: World, args: list[str], stdin: str | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(root_group, ["--db", world.settings.database.url, *args],
                           input=stdin, catch_exceptions=True)
    return result.exit_code, result.stdout, result.stderr


def test_cli_operator_add_and_token_create(world: World) -> None:
    code, out, _ = _cli(world, ["operator", "add", "gina", "--role", "operator",
                                "--password-stdin", "--json"], "gina-password-1\n")
    assert code == 0 and json.loads(out) == {**json.loads(out), "name": "gina",
                                             "role": "operator", "disabled": False}
    assert operators.authenticate(world.store, "gina", "gina-password-1") is not None
    code, out, _ = _cli(world, ["operator", "add", "hank", "--role", "viewer"],
                        "hank-password-1\nhank-password-1\n")
    assert code == 0 and "operator hank added with role viewer" in out
    code, out, err = _cli(world, ["token", "create", "nightly", "--role", "viewer"])
    raw = out.strip()
    assert code == 0 and raw.startswith("mip6bs_") and "shown only now" in err
    assert operators.token_principal(world.store, raw) is not None
    code, out, _ = _cli(world, ["token", "create", "ci", "--role", "admin", "--json"])
    data = json.loads(out)
    assert data["name"] == "ci" and data["role"] == "admin" and data["token"].startswith("mip6bs_")
    code, out, _ = _cli(world, ["token", "list", "--json"])
    assert {"nightly", "ci"} <= {t["name"] for t in json.loads(out)}
    assert raw not in out
    entries = audit.recent(world.store, limit=10)
    assert {"operator.add", "token.create"} <= {e.action for e in entries}
    assert "gina-password-1" not in str(entries) and raw not in str(entries)


def test_cli_errors_are_one_sentence(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bootstrap.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SystemExit) as exc:
        main(["--db", world.settings.database.url, "operator", "add", "ivan", "--role",
              "viewer", "--password-stdin"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "bootstrapctl: --password-stdin was given but stdin held no password\n"
    )
    with pytest.raises(SystemExit) as exc:
        main(["--db", world.settings.database.url, "token", "revoke", "nothing"])
    assert exc.value.code == 1
    assert capsys.readouterr().err == "bootstrapctl: token 'nothing' does not exist\n"
