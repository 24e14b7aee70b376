"""Bulk enrollment from CSV rows: batched, re-runnable, never all-or-nothing.

Rows are enrolled in batches of ``batch_size``, one transaction per batch
with a savepoint per row, so a bad row is rejected with its reason and the
rest of the batch still commits.  An identity that is already enrolled is
counted as ``existing`` rather than rejected, which makes an interrupted
import safe to run again.  Secrets of new EAP subscribers are returned to the
caller (which writes them once, 0600) and stored only encrypted.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select

from ..config import Settings
from ..errors import BootstrapError, ValidationError
from ..store.engine import Store
from ..store.models import Subscriber
from . import subscribers, validate
from .actor import Actor

BATCH = 500
HEADER = ("identity", "fqdn", "network", "auth")


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    identity: str
    fqdn: str | None = None
    network: str | None = None
    auth: str = "eap"


@dataclass
class ImportResult:
    enrolled: int = 0
    existing: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    secrets: list[tuple[str, str]] = field(default_factory=list)
    certificates: list[tuple[str, str]] = field(default_factory=list)


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
) -> ImportResult:
    """Enroll every row; see the module docstring."""
    result = ImportResult()
    batch: list[Row] = []

    def flush() -> None:
        if not batch:
            return
        idents: dict[str, Row] = {}
        for r in batch:
            try:
                ident, _ = validate.identity(r.identity)
                idents[ident] = r
            except ValidationError:
                pass
        with store.session() as s:
            existing = set(
                s.scalars(select(Subscriber.identity).where(Subscriber.identity.in_(idents)))
            )
            for r in batch:
                try:
                    ident, _ = validate.identity(r.identity)
                except ValidationError as exc:
                    result.rejected.append((r.line, r.identity, str(exc)))
                    continue
                if ident in existing:
                    result.existing += 1
                    continue
                try:
                    with s.begin_nested():
                        e = subscribers.enroll_in(
                            s, settings, actor, r.identity, r.network, r.fqdn, r.auth
                        )
                except BootstrapError as exc:
                    result.rejected.append((r.line, r.identity, str(exc)))
                    continue
                existing.add(ident)
                result.enrolled += 1
                if e.secret is not None:
                    result.secrets.append((ident, e.secret))
                elif e.cert_path is not None:
                    result.certificates.append((ident, str(e.cert_path)))
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
    return result
