"""``bootstrapctl operator ...`` and ``bootstrapctl token ...``: web UI accounts and API tokens."""

from __future__ import annotations

import sys

import click

from .. import serialize
from ..errors import ValidationError
from ..services import operators
from ..services.actor import Actor
from .common import emit_json, json_option, state, stderr, table

ROLE = click.Choice(list(operators.ROLES))


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise ValidationError("--password-stdin was given but stdin held no password")
        return password
    value = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return str(value)


@click.group("operator")
def operator_group() -> None:
    """Operator accounts of the web UI."""


@operator_group.command("add")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="admin, operator or viewer.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (one line).")
@json_option
def operator_add(name: str, role: str, password_stdin: bool, as_json: bool) -> None:
    """Create an operator account (prompts for the password unless --password-stdin)."""
    password = _read_password(password_stdin)
    o = operators.add(state().store(), Actor.cli(), name, role, password)
    if as_json:
        emit_json(serialize.operator(o))
    else:
        click.echo(f"operator {o.name} added with role {o.role}")


@operator_group.command("list")
@json_option
def operator_list(as_json: bool) -> None:
    """List operator accounts."""
    items = operators.list_all(state().store())
    if as_json:
        emit_json([serialize.operator(o) for o in items])
        return
    table(
        [(o.name, o.role, "disabled" if o.disabled else "enabled") for o in items],
        ["NAME", "ROLE", "STATE"],
    )


@operator_group.command("set")
@click.argument("name")
@click.option("--role", type=ROLE)
@click.option("--disable/--enable", "disabled", default=None, help="Lock or unlock the account.")
@click.option("--password", "new_password", is_flag=True, help="Set a new password (prompted).")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@json_option
def operator_set(
    name: str,
    role: str | None,
    disabled: bool | None,
    new_password: bool,
    password_stdin: bool,
    as_json: bool,
) -> None:
    """Change an operator's role, lock it, or set its password (ends its sessions)."""
    password = _read_password(password_stdin) if (new_password or password_stdin) else None
    o = operators.update(state().store(), Actor.cli(), name, role, disabled, password)
    if as_json:
        emit_json(serialize.operator(o))
    else:
        click.echo(f"operator {o.name} updated")


@click.group("token")
def token_group() -> None:
    """API tokens for scripts (sent as 'Authorization: Bearer TOKEN')."""


@token_group.command("create")
@click.argument("name")
@click.option("--role", type=ROLE, required=True, help="admin, operator or viewer.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), help="Expire after DAYS.")
@json_option
def token_create(name: str, role: str, days: float | None, as_json: bool) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    t, raw = operators.create_token(state().store(), Actor.cli(), name, role, days)
    if as_json:
        emit_json(serialize.new_token(t, raw))
        return
    click.echo(raw)
    stderr(f"token {t.name} ({t.role}) created; it is shown only now.")


@token_group.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """List API tokens (never their values)."""
    items = operators.list_tokens(state().store())
    if as_json:
        emit_json([serialize.token(t) for t in items])
        return
    table(
        [
            (
                t.name,
                t.role,
                t.state(),
                t.expires_at.isoformat(timespec="seconds") if t.expires_at else "-",
            )
            for t in items
        ],
        ["NAME", "ROLE", "STATE", "EXPIRES"],
    )


@token_group.command("revoke")
@click.argument("name")
@json_option
def token_revoke(name: str, as_json: bool) -> None:
    """Revoke an API token."""
    t = operators.revoke_token(state().store(), Actor.cli(), name)
    if as_json:
        emit_json(serialize.token(t))
    else:
        click.echo(f"token {t.name} revoked")


commands = [operator_group, token_group]
