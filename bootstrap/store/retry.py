"""Write transactions that survive a PostgreSQL failover.

A transaction that fails because its connection was lost is safe to run again
when the failure came before ``COMMIT`` was sent: the server rolled it back.
When the connection was lost while committing, the outcome is unknown; the
caller then passes ``resolve``, which looks in a fresh transaction whether the
first attempt committed (enrollment: the identity exists with the row id the
attempt inserted) and returns its result, or None to run the attempt again.
Without ``resolve`` an unknown outcome is reported, never guessed.

Retries go on for ``Store.retry_for`` seconds (``[database] retry_for``),
which covers a failover manager's promotion time; afterwards the caller gets
:class:`~bootstrap.errors.StoreUnavailable` with one sentence.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..errors import StoreUnavailable
from .engine import Store

T = TypeVar("T")
log = logging.getLogger("bootstrap.store")

_FIRST_PAUSE = 0.2
_MAX_PAUSE = 2.0


def lost_connection(exc: BaseException) -> bool:
    """True when ``exc`` means the server went away or is not (any longer) the primary.

    SQLite errors never are (a locked file is not a lost connection); psycopg's
    OperationalError family is (refused, reset, admin shutdown, starting up), and
    so is a read-only transaction: the connection reached a demoted primary.
    """
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return False
    orig = exc.orig
    if isinstance(orig, psycopg.OperationalError):
        return True
    return getattr(orig, "sqlstate", None) == "25006"  # read_only_sql_transaction


def demoted(exc: BaseException) -> bool:
    """The connection reached a server that no longer accepts writes (a demoted primary)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == "25006"


def reason(exc: BaseException) -> str:
    """The driver's first line, for the one sentence an operator sees."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"store unavailable: {reason(exc)}")


def _forget_pool(store: Store, exc: BaseException) -> None:
    """After a failover every pooled connection may point at the old primary; a demoted one
    still answers the pre-ping, so drop them all and let libpq find the new primary."""
    if demoted(exc):
        store.engine.dispose()


def transact(
    store: Store,
    attempt: Callable[[Session], T],
    resolve: Callable[[Session], T | None] | None = None,
    retry_for: float | None = None,
) -> T:
    """Run ``attempt`` in one transaction, again after a lost connection when that is safe."""
    budget = store.retry_for if retry_for is None else retry_for
    deadline = time.monotonic() + budget
    pause = _FIRST_PAUSE
    unknown = False  # an earlier attempt may have committed
    while True:
        committing = False
        try:
            if unknown and resolve is not None:
                with store.session() as s:
                    found = resolve(s)
                if found is not None:
                    log.info("store: a write whose commit was cut off had committed")
                    return found
                unknown = False
            with store.sessions() as s:
                tx = s.begin()
                try:
                    result = attempt(s)
                except BaseException:
                    with contextlib.suppress(Exception):
                        tx.rollback()
                    raise
                committing = True
                tx.commit()
                return result
        except DBAPIError as exc:
            if not lost_connection(exc):
                raise
            _forget_pool(store, exc)
            if committing:
                if resolve is None:
                    raise StoreUnavailable(
                        "store unavailable: the connection was lost while committing, so it is"
                        " unknown whether the change was made; check before repeating it"
                    ) from None
                unknown = True
            if time.monotonic() + pause > deadline:
                raise unavailable(exc) from None
            log.warning("store: %s; retrying", reason(exc))
            time.sleep(pause)
            pause = min(pause * 2, _MAX_PAUSE)
