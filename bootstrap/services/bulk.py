"""Bulk enrollment from CSV rows: batched, re-runnable, never all-or-nothing.

Rows are enrolled in batches of ``batch_size``, one transaction per batch,
with set-based SQL (:mod:`.batch_enroll`): a few statements per batch
whatever its size, so 100,000 subscribers take seconds, not minutes.  A bad
row is rejected with its line and reason and the rest of the batch still
commits.  An identity that is already enrolled is counted as ``existing``
rather than rejected, which makes an interrupted import (even a kill -9:
each batch is a transaction) safe to run again: the rerun completes it.
Secrets of new EAP subscribers are handed to ``on_batch`` right after their
batch commits (the caller writes them once, 0600) and stored only encrypted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    certificates: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportResult:
    enrolled: int = 0
    existing: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    certificates: list[tuple[str, str]] = field(default_factory=list)

    def add(self, batch: BatchResult) -> None:
        self.enrolled += batch.enrolled
        self.existing += batch.existing
        self.rejected.extend(batch.rejected)
        self.secrets.extend(batch.secrets)
        self.certificates.extend(batch.certificates)


def parse_csv(lines: Iterable[str]) -> Iterator[Row | tuple[int, str]]:
    """Rows of ``identity[,fqdn,network,auth]``; yields (line, reason) for unreadable ones.

    An optional header line naming the columns is skipped; blank lines and
    lines starting with ``#`` are ignored.
    """
    reader = csv.reader(lines)
    for lineno, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if lineno == 1 and cells[0].lower() == "identity":
            continue
        if len(cells) > len(HEADER):
            yield (lineno, f"has {len(cells)} columns; expected at most {len(HEADER)}")
            continue
        cells += [""] * (len(HEADER) - len(cells))
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
        with store.session() as s:
            done = enroll_batch(s, settings, actor, batch)
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


__all__ = ["BATCH", "BatchResult", "ImportResult", "Row", "import_rows", "parse_csv"]
