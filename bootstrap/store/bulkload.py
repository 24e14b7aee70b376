"""Many rows per statement, in the caller's transaction: the fast path of bulk import.

SQLAlchemy's ``executemany`` is correct on both backends but costs tens of
microseconds per row in Python (bind processing, and on psycopg one
pipelined statement per row without RETURNING, or a multi-``VALUES`` text of
thousands of placeholders that psycopg parses on every batch).  These two
functions keep the set-based shape and let each database do what it is fast at:

- :func:`insert_rows` (no result): PostgreSQL ``COPY ... FROM STDIN``; SQLite
  the driver's ``executemany`` of one prepared ``INSERT``.
- :func:`insert_new` (``ON CONFLICT DO NOTHING RETURNING``): PostgreSQL one
  ``INSERT ... SELECT * FROM unnest(<one array per column>)`` whatever the
  number of rows; SQLite one multi-row ``VALUES`` per 32,766 parameters.

Values go through each column type's own bind processor, so what lands in
the table is exactly what the ORM would have written (JSON text, SQLite's
datetime text); the rows must all have the same keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

from .engine import Store


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _processors(
    session: Session, table: Table, cols: Sequence[str]
) -> list[Callable[..., Any] | None]:
    dialect = session.get_bind().dialect
    return [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in cols]


def _columns(rows: Sequence[dict[str, Any]], table: Table) -> tuple[list[str], list[list[Any]]]:
    """Column names and per-column value lists, with the Python-side column defaults filled in."""
    given = list(rows[0])
    missing = [
        c for c in table.c if c.name not in given and c.default is not None and not c.primary_key
    ]
    cols = given + [c.name for c in missing]
    defaults = []
    for c in missing:
        arg = c.default.arg  # type: ignore[union-attr]
        defaults.append(arg(None) if callable(arg) else arg)  # SQLAlchemy wraps fn() as fn(ctx)
    values = [[r[c] for r in rows] for c in given] + [[d] * len(rows) for d in defaults]
    return cols, values


def _pg_copy_value(value: Any, is_json: bool) -> Any:
    return json.dumps(value) if is_json and value is not None else value


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert every row of ``rows`` (all with the same keys) into ``table``."""
    if not rows:
        return
    cols, values = _columns(rows, table)
    conn = session.connection().connection.driver_connection
    assert conn is not None
    if _is_postgresql(session):
        json_cols = [isinstance(table.c[c].type, JSON) for c in cols]
        names = ", ".join(f'"{c}"' for c in cols)
        with conn.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in zip(*values, strict=True):
                copy.write_row([_pg_copy_value(v, j) for v, j in zip(row, json_cols, strict=True)])
        return
    procs = _processors(session, table, cols)
    for i, p in enumerate(procs):
        if p is not None:
            values[i] = [p(v) for v in values[i]]
    names = ", ".join(f'"{c}"' for c in cols)
    marks = ", ".join("?" for _ in cols)
    conn.executemany(
        f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', list(zip(*values, strict=True))
    )


SQLITE_VARIABLES = 32766
"""SQLite's default limit on ``?`` per statement since 3.32 (chunks stay below it)."""


def insert_new(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    returning: Sequence[str],
    key: str,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` skipping those a unique constraint refuses; the ``returning`` columns
    of the rows that went in (in no particular order: return a natural key).

    ``key`` is a column whose values are unique among ``rows`` and in the table.  On
    PostgreSQL the rows are first
    sent by ``COPY`` inside a savepoint (a conflict is rare: a concurrent
    writer, a 2^-64 address draw), and the ``returning`` columns read back by
    ``key``; only when a unique constraint refuses the copy does the
    savepoint roll back and the ``ON CONFLICT DO NOTHING`` insert decide row
    by row.
    """
    if not rows:
        return []
    if _is_postgresql(session):
        copied = _copy_new(session, table, rows, returning, key)
        if copied is not None:
            return copied
    cols, values = _columns(rows, table)
    names = ", ".join(f'"{c}"' for c in cols)
    ret = ", ".join(f'"{c}"' for c in returning)
    conn = session.connection()
    if not _is_postgresql(session):
        for i, p in enumerate(_processors(session, table, cols)):
            if p is not None:
                values[i] = [p(v) for v in values[i]]
        tuples = list(zip(*values, strict=True))
        out: list[tuple[Any, ...]] = []
        step = SQLITE_VARIABLES // len(cols)
        one = "(" + ", ".join("?" for _ in cols) + ")"
        for start in range(0, len(tuples), step):
            chunk = tuples[start : start + step]
            sql = (
                f'INSERT INTO "{table.name}" ({names}) VALUES {", ".join([one] * len(chunk))}'
                f" ON CONFLICT DO NOTHING RETURNING {ret}"
            )
            flat = tuple(v for t in chunk for v in t)
            out.extend(tuple(r) for r in conn.exec_driver_sql(sql, flat))
        return out
    dialect = session.get_bind().dialect
    for i, c in enumerate(cols):
        if isinstance(table.c[c].type, JSON):
            values[i] = [_pg_copy_value(v, True) for v in values[i]]
    casts = ", ".join(f"%s::{table.c[c].type.compile(dialect=dialect)}[]" for c in cols)
    sql = (
        f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({casts})'
        f" ON CONFLICT DO NOTHING RETURNING {ret}"
    )
    return [tuple(r) for r in conn.exec_driver_sql(sql, tuple(values))]


def _copy_new(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    returning: Sequence[str],
    key: str,
) -> list[tuple[Any, ...]] | None:
    """The fast path of :func:`insert_new` on PostgreSQL; None when a row conflicted."""
    from psycopg.errors import UniqueViolation

    try:
        with session.begin_nested():
            insert_rows(session, table, rows)
    except UniqueViolation:
        return None
    if all(c in rows[0] for c in returning):
        return [tuple(r[c] for c in returning) for r in rows]
    keys = [r[key] for r in rows]
    dialect = session.get_bind().dialect
    cast = table.c[key].type.compile(dialect=dialect)
    cols = ", ".join(f'"{c}"' for c in returning)
    sql = f'SELECT {cols} FROM "{table.name}" WHERE "{key}" = ANY(%s::{cast}[])'
    return [tuple(r) for r in session.connection().exec_driver_sql(sql, (keys,))]


def analyze(store: Store, tables: Sequence[Table]) -> None:
    """Refresh the planner's statistics of ``tables`` after a bulk change.

    Without them SQLite has none at all and PostgreSQL keeps those of the
    nearly empty table until autovacuum comes by, and both then pick plans
    that read every subscriber for a page of 50 (a state filter sorted by
    identity, an offset walked through the table instead of its index).  On
    PostgreSQL a plain ``VACUUM (ANALYZE)`` (it takes no lock that blocks
    readers or writers) also sets the visibility map, without which an
    index-only scan reads every row of the table anyway; it cannot run inside
    a transaction, so it gets a connection of its own.
    """
    names = [f'"{t.name}"' for t in tables]
    if store.is_postgresql:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(names))
        return
    with store.engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"ANALYZE {name}")


def refresh_statistics(session: Session, tables: Sequence[Table]) -> None:
    """``ANALYZE`` (PostgreSQL, in the caller's transaction): sampled, a few ms per table."""
    session.connection().exec_driver_sql("ANALYZE " + ", ".join(f'"{t.name}"' for t in tables))
