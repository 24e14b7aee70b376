"""The publisher's decisions without named, a database or a key tool: pure send plan and plan.

A fake server here is a plain function from a batch to an outcome, and the
plan is driven against it the way the asyncio publisher drives it against
named: start, then after_send / after_lookup until only settling actions
remain.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import ipaddress
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dns.rcode
import pytest

from bootstrap import config
from bootstrap.dnsrecords import DesiredState, OutboxRow, RRset
from bootstrap.domain import (
    AuthMethod,
    HAState,
    HomeAgent,
    HomeNetwork,
    PublishMode,
    Subscriber,
    SubscriberState,
)
from bootstrap.errors import ConfigError
from dns_updater import errors, plan, sendplan
from dns_updater.errors import Failure, Kind
from dns_updater.sendplan import (
    APPLIED,
    Action,
    Close,
    Holds,
    Lookup,
    Publish,
    Retry,
    Send,
    Settle,
)
from dns_updater.settings import from_settings

ZONE = "example.com."
NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
POLICY = sendplan.Policy(ttl=300, max_records=400, backoff_initial=1.0, backoff_cap=60.0)
SPLITTING = [Kind.REFUSED, Kind.NOTZONE, Kind.SERVFAIL, Kind.FORMERR, Kind.RCODE, Kind.YXRRSET]
WHOLE = [Kind.NOTAUTH, Kind.BADSIG, Kind.BADKEY, Kind.BADTIME, Kind.TIMEOUT, Kind.CONNREFUSED,
         Kind.NETWORK, Kind.BADREPLY]


def row(i: int, rdatas: tuple[str, ...] = ("2001:db8::1",), attempts: int = 0,
        published: bool = True, name: str = "") -> OutboxRow:
    return OutboxRow(i, ZONE, name or f"h{i}.example.com.", "AAAA", rdatas, attempts,
                     published=published)


def failure(kind: Kind) -> Failure:
    return Failure(kind, "test", "update of zone example.com. at 192.0.2.53:53")


def one_send(rows: list[OutboxRow]) -> Send:
    (send,) = [a for a in sendplan.start(rows, POLICY, NOW) if isinstance(a, Send)]
    return send


def names(batch: plan.Batch) -> list[str]:
    return [c.name for c in batch.changes]


def drive(rows: list[OutboxRow], server: Callable[[plan.Batch], sendplan.Outcome],
          holds: Callable[[plan.Batch], sendplan.LookupOutcome] | None = None
          ) -> tuple[list[Settle], int]:
    """Run the plan to the end against ``server``; the settling actions and messages sent."""
    todo: list[Action] = list(sendplan.start(rows, POLICY, NOW))
    settled: list[Settle] = []
    sent = 0
    while todo:
        action = todo.pop(0)
        if isinstance(action, Send):
            sent += 1
            todo += sendplan.after_send(action, server(action.batch), POLICY, NOW)
        elif isinstance(action, Lookup):
            assert holds is not None, "the plan looked up an RRset unexpectedly"
            todo += sendplan.after_lookup(action, holds(action.batch), POLICY, NOW)
        else:
            settled.append(action)
    return settled, sent


def settled_ids(settled: list[Settle], kind: type) -> list[int]:
    return sorted(r.id for a in settled if isinstance(a, kind) for r in a.rows)


def test_an_applied_update_publishes_every_row_it_settles() -> None:
    rows = [row(1), row(2), row(3, ("2001:db8::3",), name="h1.example.com.")]
    send = one_send(rows)
    (publish,) = sendplan.after_send(send, APPLIED, POLICY, NOW)
    assert isinstance(publish, Publish) and not publish.adopted
    assert sorted(r.id for r in publish.rows) == [1, 2, 3]  # row 1 rides along with row 3


@pytest.mark.parametrize("kind", SPLITTING)
def test_failures_one_record_can_cause_split_the_batch(kind: Kind) -> None:
    send = one_send([row(i) for i in range(1, 6)])
    halves = sendplan.after_send(send, failure(kind), POLICY, NOW)
    assert all(isinstance(h, Send) and h.depth == 1 for h in halves)
    parts = [names(h.batch) for h in halves if isinstance(h, Send)]
    assert [len(p) for p in parts] == [2, 3]
    assert parts[0] + parts[1] == names(send.batch)


@pytest.mark.parametrize("kind", WHOLE)
def test_server_wide_failures_back_off_the_whole_batch_unsplit(kind: Kind) -> None:
    rows = [row(i, attempts=i - 1) for i in range(1, 5)]
    (retry,) = sendplan.after_send(one_send(rows), failure(kind), POLICY, NOW)
    assert isinstance(retry, Retry) and retry.failure.kind is kind
    assert [r.id for r in retry.rows] == [1, 2, 3, 4]
    # each row waits by its own count: 1, 2, 4, 8 seconds
    assert [(d - NOW).total_seconds() for d in retry.due] == [1.0, 2.0, 4.0, 8.0]
    assert str(retry.failure).startswith(f"{kind}: update of zone example.com. at ")


def test_splitting_stops_at_the_depth_limit_but_a_guard_is_bisected_to_the_end() -> None:
    batch = one_send([row(1), row(2)]).batch
    deep = Send(batch, b"", depth=sendplan.MAX_SPLIT_DEPTH)
    (retry,) = sendplan.after_send(deep, failure(Kind.REFUSED), POLICY, NOW)
    assert isinstance(retry, Retry) and retry.failure.kind is Kind.REFUSED
    halves = sendplan.after_send(deep, failure(Kind.YXRRSET), POLICY, NOW)
    assert [type(h) for h in halves] == [Send, Send]


def test_a_refused_single_change_backs_off() -> None:
    (retry,) = sendplan.after_send(one_send([row(1)]), failure(Kind.REFUSED), POLICY, NOW)
    assert isinstance(retry, Retry) and [r.id for r in retry.rows] == [1]


def test_bisection_isolates_the_one_refused_record_and_publishes_the_rest() -> None:
    bad = "h13.example.com."
    rows = [row(i) for i in range(16)]

    def server(batch: plan.Batch) -> sendplan.Outcome:
        return failure(Kind.REFUSED) if bad in names(batch) else APPLIED

    settled, sent = drive(rows, server)
    assert settled_ids(settled, Retry) == [13]
    assert settled_ids(settled, Publish) == [i for i in range(16) if i != 13]
    (retry,) = [a for a in settled if isinstance(a, Retry)]
    assert retry.failure.kind is Kind.REFUSED
    assert sent == 1 + 2 * sendplan.MAX_SPLIT_DEPTH  # 16 -> 8 -> 4 -> 2 -> 1


def test_bisection_past_the_depth_limit_keeps_the_last_part_together() -> None:
    bad = "h13.example.com."
    rows = [row(i) for i in range(64)]

    def server(batch: plan.Batch) -> sendplan.Outcome:
        return failure(Kind.SERVFAIL) if bad in names(batch) else APPLIED

    settled, _ = drive(rows, server)
    (retry,) = [a for a in settled if isinstance(a, Retry)]
    assert 13 in [r.id for r in retry.rows] and len(retry.rows) == 64 // 2**4
    assert len(settled_ids(settled, Publish)) == 64 - len(retry.rows)


def guarded(rows: list[OutboxRow], taken: dict[str, tuple[str, ...]]) -> tuple[
        Callable[[plan.Batch], sendplan.Outcome], Callable[[plan.Batch], sendplan.LookupOutcome]]:
    """A server whose zone already holds ``taken`` (name -> AAAA rdatas)."""

    def server(batch: plan.Batch) -> sendplan.Outcome:
        hit = any(c.guard and c.name in taken for c in batch.changes)
        return failure(Kind.YXRRSET) if hit else APPLIED

    def holds(batch: plan.Batch) -> sendplan.LookupOutcome:
        return Holds(taken.get(batch.changes[0].name, ()))

    return server, holds


def test_a_guarded_first_publication_adopts_an_equal_rrset() -> None:
    # the zone spells the same address differently: compared by wire form
    rows = [row(i, ("2001:db8::7",), published=False) for i in range(8)]
    server, holds = guarded(rows, {"h5.example.com.": ("2001:DB8:0:0::7",)})
    settled, _ = drive(rows, server, holds)
    adopted = [a for a in settled if isinstance(a, Publish) and a.adopted]
    assert [r.id for a in adopted for r in a.rows] == [5]
    assert settled_ids(settled, Publish) == list(range(8))
    assert not [a for a in settled if isinstance(a, Retry)]


def test_a_guarded_first_publication_leaves_a_foreign_rrset_alone() -> None:
    rows = [row(i, ("2001:db8::7",), published=False) for i in range(8)]
    server, holds = guarded(rows, {"h2.example.com.": ("2001:db8::80",)})
    settled, _ = drive(rows, server, holds)
    (retry,) = [a for a in settled if isinstance(a, Retry)]
    assert [r.id for r in retry.rows] == [2] and retry.failure.kind is Kind.YXRRSET
    assert "already holds 2001:db8::80, which we did not publish" in str(retry.failure)
    assert str(retry.failure).startswith("YXRRSET: h2.example.com. AAAA")
    assert settled_ids(settled, Publish) == [0, 1, 3, 4, 5, 6, 7]


def test_a_lookup_that_fails_or_finds_nothing_backs_off() -> None:
    lookup = Lookup(one_send([row(1, published=False)]).batch)
    (retry,) = sendplan.after_lookup(lookup, failure(Kind.TIMEOUT), POLICY, NOW)
    assert isinstance(retry, Retry) and retry.failure.kind is Kind.TIMEOUT
    (retry,) = sendplan.after_lookup(lookup, Holds(()), POLICY, NOW)
    assert isinstance(retry, Retry) and "gone now" in retry.failure.detail


def test_start_closes_foreign_deletes_and_backs_off_bad_records() -> None:
    rows = [
        row(1, (), published=False),                     # delete of an RRset never ours
        row(2, ("not an address",), attempts=3),         # cannot be encoded
        row(3),
    ]
    actions = sendplan.start(rows, POLICY, NOW)
    close = [a for a in actions if isinstance(a, Close)]
    retry = [a for a in actions if isinstance(a, Retry)]
    sends = [a for a in actions if isinstance(a, Send)]
    assert [[r.id for r in a.rows] for a in close] == [[1]]
    assert close[0].reason.startswith("NOTSENT: ")
    assert [[r.id for r in a.rows] for a in retry] == [[2]]
    assert retry[0].failure.kind is Kind.BADRECORD
    assert retry[0].due == (NOW + dt.timedelta(seconds=8),)  # the 4th failure of row 2
    assert [names(s.batch) for s in sends] == [["h3.example.com."]]


def test_backoff_doubles_and_is_capped() -> None:
    assert [sendplan.backoff(n, 1.0, 60.0) for n in (1, 2, 3, 6, 7, 8, 100)] == [
        1.0, 2.0, 4.0, 32.0, 60.0, 60.0, 60.0
    ]


# ---- the plan with pure inputs -------------------------------------------------------------

NET = HomeNetwork(1, "example.com", ipaddress.IPv6Network("2001:db8:1::/64"),
                  zones=("example.com", "1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"))


def agent(i: int, state: HAState = HAState.ACTIVE) -> HomeAgent:
    return HomeAgent(i, f"ha{i}.example.com", ipaddress.IPv6Address(f"2001:db8:1::{i}"), 1,
                     "example.com", state=state)


def subscriber(i: int, fqdn: str = "") -> Subscriber:
    return Subscriber(i, f"mn{i}@example.com", fqdn or f"mn{i}.example.com", "example.com", 1,
                      "ha1.example.com", SubscriberState.ACTIVE, AuthMethod.EAP,
                      hoas=(ipaddress.IPv6Address(f"2001:db8:1::10{i}"),))


STATE = DesiredState(
    networks=(NET,),
    home_agents=(agent(1), agent(2, HAState.DOWN)),
    subscribers=(subscriber(1), subscriber(2), subscriber(3, "mn3.example.org")),
    registered=frozenset({2}),
)


def test_desired_rrsets_follow_the_publish_mode_and_the_zones() -> None:
    timeout = dt.timedelta(seconds=90)
    want, lost = plan.desired_rrsets(STATE, PublishMode.ENROLL, NOW, timeout)
    fwd = want["example.com."]
    assert fwd[("_mip6._ipv6.example.com.", "SRV")] == ("10 100 0 ha1.example.com.",)
    assert ("ha2.example.com.", "AAAA") not in fwd  # a down HA has no address records
    assert fwd[("mn1.example.com.", "AAAA")] == ("2001:db8:1::101",)
    assert ("mn2.example.com.", "AAAA") in fwd
    assert [(r.name, r.rdtype) for r in lost] == [("mn3.example.org.", "AAAA")]
    ptr = want["1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."]
    assert sorted(ptr.values()) == [("mn1.example.com.",), ("mn2.example.com.",),
                                    ("mn3.example.org.",)]
    reg, _ = plan.desired_rrsets(STATE, PublishMode.REGISTRATION, NOW, timeout)
    assert ("mn1.example.com.", "AAAA") not in reg["example.com."]
    assert reg["example.com."][("mn2.example.com.", "AAAA")] == ("2001:db8:1::102",)


def test_diff_touches_only_what_we_own() -> None:
    want = {("mn1.example.com.", "AAAA"): ("2001:db8:1::101",)}
    have = {
        ("mn1.example.com.", "AAAA"): ("2001:DB8:1::101",),          # same, other spelling
        ("old.example.com.", "AAAA"): ("2001:db8:1::99",),           # ours once: delete
        ("www.example.com.", "AAAA"): ("2001:db8::80",),             # the operator's
        ("example.com.", "NS"): ("ns.example.com.",),
    }
    owned = {("old.example.com.", "AAAA"), ("example.com.", "NS")}
    (d,) = plan.diff(ZONE, want, have, owned)
    assert (d.name, d.have, d.want) == ("old.example.com.", ("2001:db8:1::99",), ())


def test_pure_modules_load_no_store_asyncio_or_metrics() -> None:
    code = (
        "import sys, dns_updater.plan, dns_updater.sendplan, dns_updater.errors, "
        "dns_updater.wire\n"
        "print(sorted(m for m in ('asyncio', 'sqlalchemy', 'prometheus_client', "
        "'bootstrap.store', 'bootstrap.services') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# ---- settings ---------------------------------------------------------------------------------


def key_file(tmp_path: Path) -> Path:
    secret = base64.b64encode(bytes(range(32))).decode()
    path = tmp_path / "pub.key"
    path.write_text(f'key "mip6-pub." {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')
    return path


def settings_with(tmp_path: Path, **dns: object) -> config.Settings:
    base = config.from_mapping({}, tmp_path, "test")
    cfg = dataclasses.replace(base.dns, tsig_key_file=str(key_file(tmp_path)))
    return dataclasses.replace(base, dns=dataclasses.replace(cfg, **dns))  # type: ignore[arg-type]


def test_from_settings_converts_dns_and_the_heartbeat_timeout(tmp_path: Path) -> None:
    s = from_settings(settings_with(tmp_path, server="[2001:db8::53]:5353",
                                    publish="registration"))
    assert (s.host, s.port, s.server) == ("2001:db8::53", 5353, "[2001:db8::53]:5353")
    assert s.publish is PublishMode.REGISTRATION
    assert s.key.name.to_text() == "mip6-pub."
    assert s.heartbeat_timeout == dt.timedelta(seconds=90)
    assert s.claim_limit == 400 * 4


@pytest.mark.parametrize(
    ("dns", "words"),
    [
        ({"server": "ns.example.com"}, "[dns] server must be address:port"),
        ({"batch_size": 0}, "[dns] batch_size must be at least 1, not 0"),
        ({"max_in_flight": 0}, "[dns] max_in_flight must be at least 1"),
        ({"timeout": 0.0}, "[dns] timeout must be more than 0 seconds"),
        ({"ttl": -1}, "[dns] ttl must be between 0 and"),
        ({"backoff_cap": 0.5}, "[dns] backoff_cap must be at least 1"),
        ({"tsig_key_file": "/nonexistent/pub.key"}, "[dns] tsig_key_file /nonexistent"),
        ({"algorithm": "hmac-sha512"}, "[dns] algorithm is hmac-sha512"),
    ],
)
def test_from_settings_refuses_a_bad_value_in_one_sentence(
    tmp_path: Path, dns: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        from_settings(settings_with(tmp_path, **dns))
    assert words in str(err.value) and "\n" not in str(err.value)


# ---- failures are typed once, from rcodes ------------------------------------------------------


@pytest.mark.parametrize(
    ("rcode", "kind"),
    [
        (dns.rcode.REFUSED, Kind.REFUSED),
        (dns.rcode.NOTAUTH, Kind.NOTAUTH),
        (dns.rcode.NOTZONE, Kind.NOTZONE),
        (dns.rcode.SERVFAIL, Kind.SERVFAIL),
        (dns.rcode.FORMERR, Kind.FORMERR),
        (dns.rcode.YXRRSET, Kind.YXRRSET),
        (dns.rcode.NXDOMAIN, Kind.RCODE),
    ],
)
def test_each_rcode_is_one_kind_with_a_sentence(rcode: dns.rcode.Rcode, kind: Kind) -> None:
    got = errors.from_rcode(rcode, ZONE, "192.0.2.53:53")
    assert got is not None and got.kind is kind
    assert str(got).startswith(f"{kind}: update of zone example.com. at 192.0.2.53:53: ")
    assert (kind in sendplan.SPLITTABLE) == (kind is not Kind.NOTAUTH)


def test_a_transfer_failure_names_the_transfer() -> None:
    got = errors.from_exception(ConnectionRefusedError(), ZONE, "192.0.2.53:53", "transfer")
    assert got.kind is Kind.CONNREFUSED
    assert str(got) == (
        "CONNREFUSED: transfer of zone example.com. at 192.0.2.53:53: connection refused "
        "(server down?)"
    )


def test_liveness_enqueues_only_what_moved() -> None:
    srv = RRset("_mip6._ipv6.example.com.", "SRV", ("10 100 0 ha1.example.com.",))
    aaaa = RRset("ha1.example.com.", "AAAA", ("2001:db8:1::1",))
    last = {(srv.name, srv.rdtype): srv.rdatas}
    assert plan.moved(last, [srv, aaaa]) == [aaaa]  # never seen counts as moved
    gone = RRset(srv.name, "SRV", ())
    assert plan.moved(last, [gone]) == [gone]
