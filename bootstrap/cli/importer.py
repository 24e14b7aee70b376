"""``bootstrapctl import FILE.csv``: bulk enrollment with a progress bar."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ..services import bulk
from ..services.actor import Actor
from ..services.validate import shown
from .common import emit_json, is_tty, json_option, state, stderr


class SecretsFile:
    """The ``--secrets-out`` file: ``identity,secret`` lines appended batch by batch.

    Created 0600 from the start; every write is fsync'd (file and, on first
    creation, its directory) before :func:`bulk.import_rows` commits the
    batch, so a crash never loses the secret of a committed subscriber.  An
    existing file is appended to, never truncated: a rerun with the same path
    keeps what the interrupted run wrote.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._before = 0
        self.written = 0

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.fchmod(fd, 0o600)
            if os.fstat(fd).st_size == 0:
                os.write(fd, b"identity,secret\n")
            os.fsync(fd)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
            self._fd = fd
        return self._fd

    def write(self, rows: list[tuple[str, str]]) -> str:
        fd = self._open()
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        self._before = os.fstat(fd).st_size
        data = buf.getvalue().encode()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        self.written += len(rows)
        self._last = len(rows)
        return str(self.path)

    def undo(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, self._before)
            os.fsync(self._fd)
            self.written -= self._last

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@click.command("import")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--secrets-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write identity,secret of new EAP subscribers (0600, appended batch by"
    " batch before each commit). Default: <credentials_dir>/import-<time>.csv.",
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
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    sink = SecretsFile(
        secrets_out or Path(st.settings.store.credentials_dir) / f"import-{stamp}.csv"
    )
    try:
        if is_tty() and not as_json:
            bar_cm: Any = click.progressbar(length=total, label="enrolling", file=sys.stderr)
            with bar_cm as bar:
                result = bulk.import_rows(
                    store, st.settings, Actor.cli(), rows, batch_size, bar.update, sink=sink
                )
        else:
            result = bulk.import_rows(
                store, st.settings, Actor.cli(), rows, batch_size, sink=sink
            )
    finally:
        sink.close()
    secrets_path = sink.path if sink.written else None
    earlier = bulk.secrets_written(store, result.existing_identities)
    if as_json:
        emit_json(
            {
                "enrolled": result.enrolled,
                "existing": result.existing,
                "existing_secrets": earlier,
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
            click.echo(
                f"EAP secrets of the {sink.written} new subscribers written once to"
                f" {secrets_path} (0600)"
            )
        for where, n in earlier.items():
            click.echo(f"EAP secrets of {n} already present subscribers: in {where}")
        for ln, ident, why in result.rejected:
            stderr(f"line {ln}: {shown(ident) if ident else '-'}: {why}")
    if result.rejected:
        raise click.exceptions.Exit(1)
