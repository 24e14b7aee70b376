"""``bootstrapctl``: the operator's command line over the service layer.

Commands only parse arguments, call one service function and print; the
rules live in :mod:`bootstrap.services`.  Command groups of the faces
(``dns``, ``export``, ``radius``, ``operator``, ``token``) live in sibling
modules and are loaded by name only when used (:data:`bootstrap.cli.root.LAZY`).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from ..errors import BootstrapError
from .common import CliState
from .root import root


def _store_failure(exc: Exception) -> str | None:
    """The first line of the driver's reason when ``exc`` is a database error, else None.

    Looked up in ``sys.modules`` rather than imported: a command that never
    opened the store (``--help``) must not pay for importing SQLAlchemy.
    """
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, sa_exc.OperationalError | sa_exc.DBAPIError):
        return None
    orig = getattr(exc, "orig", None)
    return str(orig).strip().splitlines()[0] if orig else str(exc)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI with our exit-code contract: 0 ok, 1 operational, 2 usage/config."""
    args = sys.argv[1:] if argv is None else argv
    ctx_state: dict[str, Any] = {}
    code = 0
    try:
        rv = root.main(args, prog_name="bootstrapctl", standalone_mode=False, obj=None)
        code = rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"bootstrapctl: {exc.format_message()}{hint}", err=True)
        code = 2
    except click.ClickException as exc:
        click.echo(f"bootstrapctl: {exc.format_message()}", err=True)
        code = exc.exit_code
    except click.Abort:
        click.echo("bootstrapctl: aborted", err=True)
        code = 130
    except BootstrapError as exc:
        click.echo(f"bootstrapctl: {exc}", err=True)
        code = exc.exit_code
    except KeyboardInterrupt:
        click.echo("bootstrapctl: interrupted", err=True)
        code = 130
    except Exception as exc:  # the contract: never a traceback unless asked for
        reason = _store_failure(exc)
        if reason is not None:
            click.echo(f"bootstrapctl: store unavailable: {reason}", err=True)
        else:
            if os.environ.get("BOOTSTRAP_DEBUG"):
                traceback.print_exc()
            click.echo(
                f"bootstrapctl: internal error: {exc!r} (BOOTSTRAP_DEBUG=1 shows details)",
                err=True,
            )
        code = 1
    finally:
        obj = ctx_state.get("obj")
        if isinstance(obj, CliState):
            obj.close()
    sys.exit(code)
