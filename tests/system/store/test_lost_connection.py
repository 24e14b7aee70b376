"""Writes that lose their PostgreSQL connection (what a failover does to every open connection).

The backend of the enrolling connection is terminated by a second connection, once in the
middle of the transaction and once right before COMMIT; the enrollment must still end with
exactly one subscriber and one HoA, told to the caller once.  A store that stays away gives one
sentence starting "store unavailable:" after ``[database] retry_for``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from bootstrap import migrate
from bootstrap.config import Settings
from bootstrap.errors import StoreUnavailable
from bootstrap.services import subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import HomeAddress, Subscriber
from tests.support import pg
from tests.support.store import TEST_ACTOR, add_example, make_settings


@pytest.fixture
def pg_world(pg_template: str, tmp_path: Path) -> Iterator[tuple[Store, Settings]]:
    name = pg.new_name()
    store = Store(pg.create_database(name, pg_template), retry_for=20.0)
    settings = make_settings(tmp_path, store.url)
    add_example(store, settings)
    try:
        yield store, settings
    finally:
        store.dispose()
        pg.drop_database(name)


def _kill(pid: int) -> None:
    with pg.admin() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _counts(store: Store, identity: str) -> tuple[int, int]:
    with store.session() as s:
        subs = s.scalar(select(func.count()).where(Subscriber.identity == identity))
        sub_id = s.scalar(select(Subscriber.id).where(Subscriber.identity == identity))
        hoas = s.scalar(select(func.count()).where(HomeAddress.subscriber_id == sub_id))
    return int(subs or 0), int(hoas or 0)


def _kill_once_on(store: Store, when: str) -> list[int]:
    """Terminate the backend of the connection that runs the first ``when`` event."""
    killed: list[int] = []

    def hook(conn: Any, *args: Any) -> None:
        if killed:
            return
        raw = conn.connection.dbapi_connection
        pid = raw.info.backend_pid
        killed.append(pid)
        _kill(pid)
        time.sleep(0.05)

    event.listen(store.engine, when, hook)
    return killed


def test_connection_lost_mid_transaction_enrolls_once(pg_world: tuple[Store, Settings]) -> None:
    store, settings = pg_world
    killed = _kill_once_on(store, "before_execute")
    e = subscribers.enroll(store, settings, TEST_ACTOR, "mid@example.com")
    assert killed, "the connection was never cut"
    assert e.secret and _counts(store, "mid@example.com") == (1, 1)


def test_connection_lost_at_commit_is_resolved_not_repeated(
    pg_world: tuple[Store, Settings]
) -> None:
    store, settings = pg_world
    killed = _kill_once_on(store, "commit")
    e = subscribers.enroll(store, settings, TEST_ACTOR, "commit@example.com")
    assert killed
    got = subscribers.get(store, "commit@example.com")
    assert got.id == e.subscriber.id and got.hoas == e.subscriber.hoas
    assert _counts(store, "commit@example.com") == (1, 1)


def test_store_away_gives_one_sentence(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@/none?host=127.0.0.1:1,127.0.0.1:2"
    store = Store(url, retry_for=1.0)
    settings = make_settings(tmp_path, store.url)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable) as err:
            subscribers.enroll(store, settings, TEST_ACTOR, "x@example.com")
    finally:
        store.dispose()
    assert str(err.value).startswith("store unavailable: ") and "\n" not in str(err.value)
    assert time.monotonic() - started < 10


def test_multi_host_url_finds_the_writable_server(pg_template: str, tmp_path: Path) -> None:
    """A dead first host is skipped; libpq connects to the next, which accepts writes."""
    name = pg.new_name()
    pg.create_database(name, pg_template)
    url = (f"postgresql+psycopg://{pg.USER}@/{name}?host=127.0.0.1:1,{pg.HOST}:{pg.PORT}"
           "&target_session_attrs=read-write")
    store = Store(url)
    try:
        migrate.ensure_current(store)
        settings = make_settings(tmp_path, store.url)
        add_example(store, settings)
        subscribers.enroll(store, settings, TEST_ACTOR, "multi@example.com")
        assert _counts(store, "multi@example.com") == (1, 1)
    finally:
        store.dispose()
        pg.drop_database(name)

