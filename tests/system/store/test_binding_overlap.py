"""Registration-mode DNS follows the store's bindings, not one bridge's view (issue 13).

Two bridges record a move at the same instant: the new binding opens on ha2
while the old one closes on ha1, each in its own transaction.  Before, each
judged from its own snapshot (the opener saw the old binding and did not
publish, the closer did not see the new one and withdrew); now both lock the
subscriber first, so whatever the interleaving the records end up published.
Also: the publish mode lives in the store, and switching it queues the
records that change.
"""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import select

from bootstrap import domain
from bootstrap.errors import ConfigError
from bootstrap.services import bindings, publish_mode, subscribers
from bootstrap.store.engine import Store
from bootstrap.store.models import DnsOutbox
from tests.support.store import TEST_ACTOR, add_example, make_settings

AGENTS = (("ha1.example.com", "2001:db8:1::1", None), ("ha2.example.com", "2001:db8:1::2", None))


def last_aaaa(store: Store, name: str) -> list[str] | None:
    with store.session() as s:
        row = s.scalars(select(DnsOutbox).where(DnsOutbox.name == name,
                                                DnsOutbox.rdtype == "AAAA")
                        .order_by(DnsOutbox.id.desc())).first()
        return None if row is None else list(row.rdatas)


def race(store: Store, up: tuple[str, str, str], down: tuple[str, str]) -> list[BaseException]:
    """Open (ha, uniqueid, hoa) and close (ha, uniqueid) in two threads released together."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def opener() -> None:
        start.wait()
        try:
            bindings.sa_up(store, up[0], bindings.LiveSa(up[1], "mn@example.com", "c", 1,
                                                         (up[2],)))
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def closer() -> None:
        start.wait()
        try:
            if not bindings.sa_down(store, down[0], down[1]):
                errors.append(AssertionError(f"no open binding {down}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener), threading.Thread(target=closer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


def test_simultaneous_open_and_close_on_two_has_never_withdraw(
    pg_store: Store, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, pg_store.url)
    add_example(pg_store, settings, zones=("example.com",), agents=AGENTS)
    publish_mode.switch(pg_store, TEST_ACTOR, "registration")
    sub = subscribers.enroll(pg_store, settings, TEST_ACTOR, "mn@example.com").subscriber
    hoa = str(sub.hoas[0])
    name = "mn.example.com."
    assert last_aaaa(pg_store, name) is None  # registration mode: nothing at enrollment
    has = ["ha1.example.com", "ha2.example.com"]
    bindings.sa_up(pg_store, has[0], bindings.LiveSa("1", "mn@example.com", "c", 1, (hoa,)))
    assert last_aaaa(pg_store, name) == [hoa]
    for move in range(20):
        old, new = has[move % 2], has[(move + 1) % 2]
        errors = race(pg_store, (new, str(move + 2), hoa), (old, str(move + 1)))
        assert not errors, errors
        open_ = bindings.list_for(pg_store, "mn@example.com", open_only=True)
        assert [b.home_agent for b in open_] == [new]
        assert last_aaaa(pg_store, name) == [hoa], f"move {move}: records withdrawn"
    # a redirect: the old binding closes just before the new one opens; the withdrawal
    # waits out its grace in the outbox and the opening transaction deletes it
    assert bindings.sa_down(pg_store, has[0], "21")
    assert last_aaaa(pg_store, name) == []
    bindings.sa_up(pg_store, has[1], bindings.LiveSa("22", "mn@example.com", "c", 1, (hoa,)))
    with pg_store.session() as s:
        reasons = [r.reason for r in s.scalars(select(DnsOutbox).where(
            DnsOutbox.name == name, DnsOutbox.done_at.is_(None)).order_by(DnsOutbox.id))]
    assert bindings.WITHDRAW_REASON not in reasons and last_aaaa(pg_store, name) == [hoa]
    # the node really leaves: withdrawn (sent once the grace is over)
    assert bindings.sa_down(pg_store, has[1], "22")
    assert last_aaaa(pg_store, name) == []


def test_publish_mode_is_stored_adopted_and_switching_queues_the_difference(
    pg_store: Store, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, pg_store.url)
    add_example(pg_store, settings, zones=("example.com",), agents=AGENTS)
    assert publish_mode.current(pg_store) is domain.PublishMode.ENROLL
    sub = subscribers.enroll(pg_store, settings, TEST_ACTOR, "idle@example.com").subscriber
    assert last_aaaa(pg_store, "idle.example.com.") == [str(sub.hoas[0])]
    # first bootstrapd with a configured mode stores it; a host that disagrees is refused
    assert publish_mode.adopt(pg_store, "") is domain.PublishMode.ENROLL
    assert publish_mode.adopt(pg_store, "enroll") is domain.PublishMode.ENROLL
    try:
        publish_mode.adopt(pg_store, "registration")
        raise AssertionError("a different configured mode was accepted")
    except ConfigError as exc:
        assert "bootstrapctl dns publish registration" in str(exc)
    sw = publish_mode.switch(pg_store, TEST_ACTOR, "registration")
    assert (sw.before, sw.after, sw.changed) == (domain.PublishMode.ENROLL,
                                                domain.PublishMode.REGISTRATION, 1)
    assert last_aaaa(pg_store, "idle.example.com.") == []  # no binding: withdrawn at once
    # a host whose config does not name the mode follows the store
    assert publish_mode.current(pg_store, "") is domain.PublishMode.REGISTRATION
    assert publish_mode.switch(pg_store, TEST_ACTOR, "enroll").changed == 1
    assert last_aaaa(pg_store, "idle.example.com.") == [str(sub.hoas[0])]
