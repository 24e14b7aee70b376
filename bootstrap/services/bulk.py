"""Bulk enrollment from CSV rows: batched, re-runnable, never all-or-nothing.

Rows are enrolled in batches of ``batch_size``, one transaction per batch,
with set-based SQL (:mod:`.batch_enroll`): a few statements per batch
whatever its size, so 100,000 subscribers take seconds, not minutes.  A bad
row is rejected with its line and reason and the rest of the batch still
commits.  An identity that is already enrolled is counted as ``existing``
rather than rejected, which makes an interrupted import (even a kill -9:
each batch is a transaction) safe to run again: the rerun completes it.
Secrets of new EAP subscribers are handed to ``on_batch`` right after their
batch commits and stored only encrypted.

Crash safety of that hand-over: with a ``sink`` (the CLI's ``--secrets-out``
file), each batch's new secrets are written and fsync'd *before* the batch
commits, and the batch records in the audit log where they went
(``import.secrets``).  A kill -9 at any point never leaves a committed
subscriber whose secret is in no file, and a rerun can say, for the rows
already present, which file holds their secrets (:func:`secrets_written`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import ValidationError
from . import validate
from .actor import Actor

if TYPE_CHECKING:
    from ..config import Settings
    from ..store.engine import Store

BATCH = 1000
HEADER = ("identity", "fqdn", "network", "auth")


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row: ``identity[,fqdn,network,auth]`` and the line it came from."""

    line: int
    identity: str
    fqdn: str | None = None
    network: str | None = None
    auth: str = "eap"


@dataclass
class BatchResult:
    """What one committed batch did; ``secrets`` are plain and must be handed over once."""

    enrolled: int = 0
    existing: int = 0
    existing_identities: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    certificates: list[tuple[str, str]] = field(default_factory=list)


SECRETS_ACTION = "import.secrets"


class SecretsSink(Protocol):
    """Where new EAP secrets go, durably, before their batch commits."""

    def write(self, rows: list[tuple[str, str]]) -> str:
        """Append (identity, secret) rows durably; returns where they are (a path)."""

    def undo(self) -> None:
        """Forget the last write: its batch did not commit."""


@dataclass
class ImportResult:
    enrolled: int = 0
    existing: int = 0
    existing_identities: list[str] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    certificates: list[tuple[str, str]] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        self.enrolled += batch.enrolled
        self.existing += batch.existing
        self.existing_identities.extend(batch.existing_identities)
        self.rejected.extend(batch.rejected)
        self.secrets.extend(batch.secrets)
        self.certificates.extend(batch.certificates)


def parse_csv(lines: Iterable[str]) -> Iterator[Row | tuple[int, str]]:
    """Rows of ``identity[,fqdn,network,auth]``; yields (line, reason) for unreadable ones.

    An optional header line naming the columns is skipped; blank lines and
    lines starting with ``#`` are ignored.
    """
    reader = csv.reader(lines)
    lineno = 0
    while True:
        lineno += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (lineno, f"is not valid CSV ({exc})")
            continue
        cells = [c.strip() for c in cells]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if lineno == 1 and cells[0].lower() == "identity":
            continue
        if len(cells) > len(HEADER):
            yield (lineno, f"has {len(cells)} columns; expected at most {len(HEADER)}")
            continue
        cells += [""] * (len(HEADER) - len(cells))
        try:  # NUL or a newline in any column: that row is refused, the batch goes on
            for column, cell in zip(HEADER, cells, strict=True):
                validate.text(cell, column)
        except ValidationError as exc:
            yield (lineno, str(exc))
            continue
        ident, fqdn, net, auth = cells
        if not ident:
            yield (lineno, "has no identity")
            continue
        yield Row(lineno, ident, fqdn or None, net or None, (auth or "eap").lower())


def import_rows(
    store: Store,
    settings: Settings,
    actor: Actor,
    rows: Iterable[Row | tuple[int, str]],
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
    sink: SecretsSink | None = None,
) -> ImportResult:
    """Enroll every row; see the module docstring.

    ``progress`` gets the number of rows each batch handled; ``on_batch`` gets
    each committed batch's result (its new secrets included) before the next
    batch starts.
    """
    from .batch_enroll import (  # SQLAlchemy and cryptography: not needed by parse_csv
        analyze_after_import,
        enroll_batch,
        refresh_statistics,
    )

    result = ImportResult()
    batch: list[Row] = []
    grown = [1000]

    def flush() -> None:
        if not batch:
            return
        from . import audit

        wrote = False
        try:
            with store.session() as s:
                done = enroll_batch(s, settings, actor, batch)
                if sink is not None and done.secrets:
                    where = sink.write(done.secrets)  # durable before the commit below
                    wrote = True
                    audit.record(
                        s, actor, SECRETS_ACTION, where, identities=[i for i, _ in done.secrets]
                    )
        except BaseException:
            if wrote and sink is not None:
                sink.undo()
            raise
        result.add(done)
        if result.enrolled >= grown[0]:
            # PostgreSQL plans with the row count it last measured: a table it still
            # thinks nearly empty gets sequential scans, so each batch's lookups would
            # grow with the import.  Re-measured at 1k, 2k, 4k, ...: O(log n) ANALYZEs.
            refresh_statistics(store)
            grown[0] = 2 * result.enrolled
        if on_batch is not None:
            on_batch(done)
        if progress is not None:
            progress(len(batch))
        batch.clear()

    for item in rows:
        if isinstance(item, tuple):
            result.rejected.append((item[0], "", item[1]))
            continue
        batch.append(item)
        if len(batch) >= batch_size:
            flush()
    flush()
    if result.enrolled:
        analyze_after_import(store)
    result.rejected.sort()
    return result


def secrets_written(store: Store, identities: Iterable[str]) -> dict[str, int]:
    """Where earlier imports wrote the secrets of ``identities``: {path: how many}."""
    from sqlalchemy import select

    from ..store.models import AuditLog

    wanted = set(identities)
    where: dict[str, int] = {}
    if not wanted:
        return where
    with store.session() as s:
        q = select(AuditLog.target, AuditLog.detail).where(AuditLog.action == SECRETS_ACTION)
        for target, detail in s.execute(q):
            hits = wanted.intersection((detail or {}).get("identities", ()))
            if hits:
                where[target] = where.get(target, 0) + len(hits)
                wanted -= hits
    return where


__all__ = [
    "BATCH", "BatchResult", "ImportResult", "Row", "SecretsSink", "import_rows", "parse_csv",
    "secrets_written",
]
