"""Pure parts: wire builder vs dnspython, TSIG, batching, key files, error mapping."""

from __future__ import annotations

import time
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdataclass
import dns.tsig
import dns.update
import pytest

from bootstrap.dnsrecords import OutboxRow
from bootstrap.errors import ConfigError
from dns_updater import errors, keyfile, plan, wire
from tests.support.tsig import write_key_file

ZONE = "example.com."


def key(tmp_path: Path) -> dns.tsig.Key:
    return keyfile.load(str(write_key_file(tmp_path / "k.key", "unit.")))


@pytest.mark.parametrize(
    ("name", "rdtype", "rdatas"),
    [
        ("mn1.example.com.", "AAAA", ("2001:db8:1::1", "2001:db8:1::2")),
        ("mn1.example.com.", "A", ("192.0.2.7",)),
        ("_mip6._ipv6.example.com.", "SRV", ("10 60 0 ha1.example.com.", "20 0 0 ha2.net.")),
        ("1.0.0.0.example.com.", "PTR", ("mn1.example.com.",)),
        ("mn2.example.com.", "AAAA", ()),
        ("x.example.com.", "TXT", ('"free text"',)),
    ],
)
def test_builder_matches_dnspython(name: str, rdtype: str, rdatas: tuple[str, ...]) -> None:
    for guard in (False, True):
        b = wire.UpdateBuilder(ZONE, 300)
        assert b.add(wire.Change(name, rdtype, rdatas, guard=guard))
        ref = dns.update.UpdateMessage(ZONE, id=0)
        if guard:
            ref.absent(name, rdtype)
        if rdatas:
            ref.replace(name, 300, rdtype, *rdatas)
        else:
            ref.delete(name, rdtype)
        assert dns.message.from_wire(b.wire()) == dns.message.from_wire(ref.to_wire())


def test_signed_message_verifies_and_respects_the_size_limit(tmp_path: Path) -> None:
    k = key(tmp_path)
    b = wire.UpdateBuilder("8.b.d.0.1.0.0.2.ip6.arpa.", 300)
    n = 0
    while b.add(wire.Change(f"{n:x}.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
                            ".ip6.arpa.", "PTR", (f"mn{n}.example.com.",))):
        n += 1
    assert 400 < n < 2000
    signed, mac = wire.sign(b.wire(), k, 4242, int(time.time()))
    assert len(signed) <= wire.MAX_MESSAGE
    msg = dns.message.from_wire(signed, keyring=k)
    assert msg.id == 4242 and msg.had_tsig and len(mac) == 32
    assert sum(len(rr) or 1 for rr in msg.update) == b.records  # type: ignore[attr-defined]


def test_bad_records_are_refused_before_sending() -> None:
    b = wire.UpdateBuilder(ZONE, 300)
    with pytest.raises(wire.RecordError, match="not inside zone"):
        b.add(wire.Change("mn1.example.org.", "AAAA", ("2001:db8::1",)))
    with pytest.raises(wire.RecordError, match="not valid AAAA"):
        b.add(wire.Change("mn1.example.com.", "AAAA", ("192.0.2.1",)))
    assert b.records == 0


def test_batches_keep_the_newest_value_and_settle_every_row() -> None:
    rows = [
        OutboxRow(1, ZONE, "a.example.com.", "AAAA", ("2001:db8::1",), 0, published=True),
        OutboxRow(2, ZONE, "b.example.com.", "AAAA", ("2001:db8::2",), 0, published=True),
        OutboxRow(3, ZONE, "a.example.com.", "AAAA", (), 0, published=True),
        OutboxRow(4, ZONE, "c.example.org.", "AAAA", ("2001:db8::4",), 0),
    ]
    out, bad, nothing = plan.batches(rows, 300, 400)
    assert [r.id for rs, _ in bad for r in rs] == [4] and nothing == []
    (batch, _w), = out
    assert [(c.name, c.rdatas, c.guard) for c in batch.changes] == [
        ("b.example.com.", ("2001:db8::2",), False), ("a.example.com.", (), False)
    ]
    assert sorted(r.id for r in batch.all_rows) == [1, 2, 3]


def test_first_publications_are_guarded_and_foreign_deletes_not_sent() -> None:
    rows = [
        OutboxRow(1, ZONE, "new.example.com.", "AAAA", ("2001:db8::1",), 0),
        OutboxRow(2, ZONE, "gone.example.com.", "AAAA", (), 0),
        OutboxRow(3, ZONE, "fix.example.com.", "AAAA", ("2001:db8::3",), 0, reason="reconcile"),
        OutboxRow(4, ZONE, "old.example.com.", "AAAA", (), 0, reason="reconcile"),
    ]
    out, _, nothing = plan.batches(rows, 300, 400)
    assert [r.id for r in nothing] == [2]
    (batch, w), = out
    assert [(c.name, c.guard) for c in batch.changes] == [
        ("new.example.com.", True), ("fix.example.com.", False), ("old.example.com.", False)
    ]
    pre = dns.message.from_wire(w).prerequisite  # type: ignore[attr-defined]
    assert [(rr.name.to_text(), rr.deleting) for rr in pre] == [
        ("new.example.com.", dns.rdataclass.NONE)
    ]


def test_batches_respect_the_record_limit() -> None:
    rows = [OutboxRow(i, ZONE, f"h{i}.example.com.", "AAAA", ("2001:db8::1",), 0)
            for i in range(1000)]
    out, _, _ = plan.batches(rows, 300, 400)
    assert [len(b.changes) for b, _ in out] == [200] * 5


def test_key_file_errors(tmp_path: Path) -> None:
    k = key(tmp_path)
    assert k.name.to_text() == "unit." and k.algorithm.to_text() == "hmac-sha256."
    with pytest.raises(ConfigError, match="does not exist"):
        keyfile.load(str(tmp_path / "missing.key"))
    (tmp_path / "bad.key").write_text("not a key\n")
    with pytest.raises(ConfigError, match="no BIND key statement"):
        keyfile.load(str(tmp_path / "bad.key"))
    with pytest.raises(ConfigError, match="hmac-sha512"):
        keyfile.load(str(tmp_path / "k.key"), "hmac-sha512")


def test_rcodes_and_exceptions_map_to_distinct_kinds() -> None:
    kinds = {
        errors.from_rcode(rc, ZONE, "s").kind  # type: ignore[union-attr]
        for rc in (dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.NOTZONE, dns.rcode.SERVFAIL)
    }
    assert len(kinds) == 4
    assert errors.from_rcode(dns.rcode.NOERROR, ZONE, "s") is None
    exc = [dns.tsig.PeerBadSignature(), dns.tsig.PeerBadKey(), dns.tsig.PeerBadTime(),
           TimeoutError(), ConnectionRefusedError()]
    got = [errors.from_exception(e, ZONE, "s").kind.value for e in exc]
    assert got == ["BADSIG", "BADKEY", "BADTIME", "TIMEOUT", "CONNREFUSED"]
    assert str(errors.from_rcode(dns.rcode.NOTZONE, ZONE, "s")).startswith(
        "NOTZONE: update of zone example.com. at s:"
    )
