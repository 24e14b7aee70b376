"""Which server the store writes to, how far its standbys lag, and what the read server is.

``bootstrapctl db status`` and the dashboard show this.  PostgreSQL answers
it itself: the server a connection reached (``inet_server_addr``), whether it
is in recovery (a standby), and on a primary ``pg_stat_replication`` (one row
per standby with its replay lag); on the ``[database] read_url`` server, the
age of the last replayed transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

from ..store.engine import Store


@dataclass(frozen=True, slots=True)
class Standby:
    name: str
    address: str | None
    state: str
    sync_state: str
    replay_lag_seconds: float | None
    """None when the standby has replayed everything (PostgreSQL reports no lag then)."""
    lag_bytes: int | None


@dataclass(frozen=True, slots=True)
class Server:
    address: str
    """host:port the connection reached (or "local socket")."""
    in_recovery: bool
    version: str
    replay_delay_seconds: float | None = None
    """On a standby: seconds since the last replayed transaction committed on the primary."""


@dataclass(frozen=True, slots=True)
class StoreStatus:
    backend: str
    primary: Server | None
    """The server writes go to (None for SQLite)."""
    standbys: list[Standby] = field(default_factory=list)
    read_server: Server | None = None
    """The ``[database] read_url`` server, when one is set."""
    path: str | None = None
    """SQLite: the database file."""


def _server(s: Session) -> Server:
    row = s.execute(text(
        "SELECT host(inet_server_addr()), inet_server_port(), pg_is_in_recovery(),"
        " current_setting('server_version'),"
        " CASE WHEN pg_is_in_recovery() THEN"
        "  EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
    )).one()
    addr = f"{row[0]}:{row[1]}" if row[0] else "local socket"
    delay = float(row[4]) if row[4] is not None else None
    return Server(addr, bool(row[2]), str(row[3]), delay)


def _standbys(s: Session) -> list[Standby]:
    rows = s.execute(text(
        "SELECT application_name, host(client_addr), state, sync_state,"
        " EXTRACT(EPOCH FROM replay_lag), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)"
        " FROM pg_stat_replication ORDER BY application_name"
    )).all()
    return [
        Standby(str(r[0]), r[1], str(r[2]), str(r[3]),
                float(r[4]) if r[4] is not None else None,
                int(r[5]) if r[5] is not None else None)
        for r in rows
    ]


def status(store: Store) -> StoreStatus:
    """Ask the servers; raises the driver's error when the primary cannot be reached."""
    if not store.is_postgresql:
        return StoreStatus("sqlite", None, path=store.engine.url.database)
    with store.session() as s:
        primary = _server(s)
        standbys = _standbys(s) if not primary.in_recovery else []
    read = None
    if store.read_engine is not store.engine:
        with store.read_session() as s:
            read = _server(s)
    return StoreStatus("postgresql", primary, standbys, read)
