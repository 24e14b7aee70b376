"""Bulk enrollment from CSV rows: batched, re-runnable, never all-or-nothing.

Rows are enrolled in batches of ``batch_size``, one transaction per batch
with a savepoint per row, so a bad row is rejected with its reason and the
rest of the batch still commits.  An identity that is already enrolled is
counted as ``existing`` rather than rejected, which makes an interrupted
import safe to run again.  Secrets of new EAP subscribers are returned to the
caller and stored only encrypted.

Crash safety of that hand-over: with a ``sink``, each batch's new secrets are
written (and fsync'd, by the sink) *before* the batch commits, and the batch
records in the audit log where they went (``import.secrets``).  A kill -9 at
any point therefore never leaves a committed subscriber whose secret is in no
file, and a rerun can say, for the rows already present, which file holds
their secrets (:func:`secrets_written`).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..errors import BootstrapError, ValidationError
from ..store.engine import Store
from ..store.models import AuditLog, Subscriber
from . import audit, subscribers, validate
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
        try:
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
    sink: SecretsSink | None = None,
) -> ImportResult:
    """Enroll every row; see the module docstring."""
    result = ImportResult()
    batch: list[Row] = []

    def enroll_batch(s: Session) -> list[tuple[str, str]]:
        """Enroll the batch in ``s`` (not committed yet); returns its new secrets."""
        idents: dict[str, Row] = {}
        for r in batch:
            try:
                ident, _ = validate.identity(r.identity)
                idents[ident] = r
            except ValidationError:
                pass
        existing = set(
            s.scalars(select(Subscriber.identity).where(Subscriber.identity.in_(idents)))
        )
        new_secrets: list[tuple[str, str]] = []
        for r in batch:
            try:
                ident, _ = validate.identity(r.identity)
            except ValidationError as exc:
                result.rejected.append((r.line, r.identity, str(exc)))
                continue
            if ident in existing:
                result.existing += 1
                result.existing_identities.append(ident)
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
                new_secrets.append((ident, e.secret))
            elif e.cert_path is not None:
                result.certificates.append((ident, str(e.cert_path)))
        return new_secrets

    def flush() -> None:
        if not batch:
            return
        wrote = False
        try:
            with store.session() as s:
                new_secrets = enroll_batch(s)
                if sink is not None and new_secrets:
                    where = sink.write(new_secrets)  # durable before the commit below
                    wrote = True
                    audit.record(
                        s, actor, SECRETS_ACTION, where, identities=[i for i, _ in new_secrets]
                    )
        except BaseException:
            if wrote and sink is not None:
                sink.undo()
            raise
        result.secrets.extend(new_secrets)
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


def secrets_written(store: Store, identities: Iterable[str]) -> dict[str, int]:
    """Where earlier imports wrote the secrets of ``identities``: {path: how many}."""
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
