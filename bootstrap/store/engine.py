"""Opening the store: one engine per process, sessions per unit of work.

SQLite is the embedded default; PostgreSQL (psycopg 3) is used when several
HA hosts share one store.  Async URLs (``postgresql+asyncpg``,
``sqlite+aiosqlite``) are accepted in the config for the operator's
convenience and mapped to their synchronous drivers: the service layer is
synchronous and the daemon runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigError


def normalise_url(url: str) -> str:
    """Map async or bare driver names to the synchronous drivers we ship."""
    try:
        u = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database url {url!r} is not a valid SQLAlchemy URL") from exc
    backend = u.get_backend_name()
    if backend == "postgresql":
        u = u.set(drivername="postgresql+psycopg")
    elif backend == "sqlite":
        u = u.set(drivername="sqlite")
    else:
        raise ConfigError(
            f"database url uses {backend!r}; only sqlite and postgresql stores are supported"
        )
    return u.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for ``url`` with the settings each backend needs."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    # No server-side prepared statements: psycopg prepares a query after its 5th run, and
    # PostgreSQL may then keep a generic plan made while a table was still nearly empty
    # (a sequential scan), which makes lookups grow with the number of subscribers.
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("prepare_threshold", None)
    return create_engine(url, connect_args=connect_args, **kwargs)


class Store:
    """An engine plus a session factory; the handle every service function takes."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self._sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
