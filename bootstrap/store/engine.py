"""Opening the store: one engine per process, sessions per unit of work.

SQLite is the embedded default; PostgreSQL (psycopg 3) is used when several
HA hosts share one store.  Async URLs (``postgresql+asyncpg``,
``sqlite+aiosqlite``) are accepted in the config for the operator's
convenience and mapped to their synchronous drivers: the service layer is
synchronous and the daemon runs it in a worker thread.

A replicated PostgreSQL is named with a libpq multi-host URL
(``postgresql+psycopg://u@/db?host=h1:5432,h2:5432&target_session_attrs=read-write``
or ``u@h1:5432,h2:5432/db``): libpq tries the hosts in turn and keeps the one
that accepts writes, so after a failover a new connection finds the promoted
standby.  SQLAlchemy 2.1 splits ``host:port`` only when ``host`` is repeated
in the query, so :func:`normalise_url` rewrites both spellings into that one.
Every pooled connection is pinged before it is handed out (``pool_pre_ping``),
so a connection to the lost primary is never used twice.  Writes that fail by a
lost connection are retried by :mod:`.retry`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ..errors import ConfigError

_MULTI_NETLOC = re.compile(
    r"^(?P<scheme>[^:/]+://)(?P<user>[^@/]*@)?(?P<hosts>[^/@?]*,[^/?]*)(?P<rest>[/?].*)?$"
)


def _hosts_to_query(url: str) -> str:
    """``scheme://u@h1:p1,h2:p2/db?x`` -> ``scheme://u@/db?host=h1:p1&host=h2:p2&x``."""
    m = _MULTI_NETLOC.match(url)
    if m is None:
        return url
    rest = m["rest"] or "/"
    path, _, query = rest.partition("?")
    hosts = "&".join(f"host={h}" for h in m["hosts"].split(",") if h)
    query = f"{hosts}&{query}" if query else hosts
    return f"{m['scheme']}{m['user'] or ''}{path if path.startswith('/') else '/' + path}?{query}"


def _split_hosts(u: URL) -> URL:
    """``?host=h1:p1,h2:p2`` -> ``?host=h1:p1&host=h2:p2`` (the form SQLAlchemy splits)."""
    host = u.query.get("host")
    if isinstance(host, str) and "," in host and ":" in host:
        return u.update_query_dict({"host": [h for h in host.split(",") if h]})
    return u


def normalise_url(url: str) -> str:
    """Map async or bare driver names to the synchronous drivers we ship; multi-host URLs
    to the one spelling SQLAlchemy passes to libpq intact."""
    try:
        u = make_url(_hosts_to_query(url))
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database url {url!r} is not a valid SQLAlchemy URL") from exc
    backend = u.get_backend_name()
    if backend == "postgresql":
        u = _split_hosts(u.set(drivername="postgresql+psycopg"))
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
    """An engine plus a session factory; the handle every service function takes.

    ``read_url`` (``[database] read_url``) names a server, usually a local standby, for
    reads that may lag a little (the DHCP snapshot); without it reads use ``url``.
    """

    def __init__(
        self, url: str, read_url: str | None = None, retry_for: float = 30.0,
        **engine_kwargs: Any,
    ) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.retry_for = retry_for
        self.read_url = normalise_url(read_url) if read_url else None
        self.read_engine = make_engine(self.read_url) if self.read_url else self.engine
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions() as s, s.begin():
            yield s

    @contextlib.contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only unit of work on ``read_url`` (or the primary when there is none)."""
        with self._read_sessions() as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
