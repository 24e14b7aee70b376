"""``bootstrapctl import FILE.csv``: bulk enrollment with a progress bar."""

from __future__ import annotations

import csv
import datetime as dt
import io
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..services import bulk
from ..services.actor import Actor
from .common import emit_json, is_tty, json_option, state, stderr


@click.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--secrets-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write identity,secret of new EAP subscribers (0600)."
    " Default: <credentials_dir>/import-<time>.csv.",
)
@click.option("--batch-size", type=click.IntRange(1, 10000), default=bulk.BATCH, show_default=True)
@json_option
def import_cmd(csv_file: Path, secrets_out: Path | None, batch_size: int, as_json: bool) -> None:
    """Enroll every identity[,fqdn,network,auth] row of a CSV file (re-runnable)."""
    st = state()
    try:
        text = csv_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{csv_file} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{csv_file} cannot be read as UTF-8 text: {exc}") from None
    lines = text.splitlines()
    total = sum(1 for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
    store = st.store()
    rows = bulk.parse_csv(lines)
    if is_tty() and not as_json:
        bar_cm: Any = click.progressbar(length=total, label="enrolling", file=sys.stderr)
        with bar_cm as bar:
            result = bulk.import_rows(store, st.settings, Actor.cli(), rows, batch_size, bar.update)
    else:
        result = bulk.import_rows(store, st.settings, Actor.cli(), rows, batch_size)
    secrets_path = None
    if result.secrets:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        secrets_path = (
            secrets_out or Path(st.settings.store.credentials_dir) / f"import-{stamp}.csv"
        )
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["identity", "secret"])
        w.writerows(result.secrets)
        from ..services.credentials import write_private  # cryptography: only when needed

        write_private(secrets_path, buf.getvalue().encode())
    if as_json:
        emit_json(
            {
                "enrolled": result.enrolled,
                "existing": result.existing,
                "rejected": [
                    {"line": ln, "identity": ident, "reason": why}
                    for ln, ident, why in result.rejected
                ],
                "secrets_file": str(secrets_path) if secrets_path else None,
                "certificates": dict(result.certificates),
            }
        )
    else:
        click.echo(
            f"enrolled {result.enrolled}, already present {result.existing},"
            f" rejected {len(result.rejected)}"
        )
        if secrets_path:
            click.echo(f"EAP secrets of the new subscribers written once to {secrets_path} (0600)")
        for ln, ident, why in result.rejected:
            stderr(f"line {ln}: {ident or '-'}: {why}")
    if result.rejected:
        raise click.exceptions.Exit(1)
