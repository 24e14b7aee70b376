"""What went wrong with an UPDATE, as one clear sentence and a kind.

Every failure the publisher can meet is mapped here to a :class:`Kind`
(stored in the outbox row's ``last_error`` as ``KIND: sentence``) so an
operator can tell a policy refusal from a wrong key, a skewed clock or a
server that is down (lab REPORT.md §1 and §4 list what named and dnspython
do in each case).  Pure: no I/O.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

import dns.exception
import dns.message
import dns.rcode
import dns.tsig


class Kind(StrEnum):
    REFUSED = "REFUSED"
    NOTAUTH = "NOTAUTH"
    NOTZONE = "NOTZONE"
    SERVFAIL = "SERVFAIL"
    FORMERR = "FORMERR"
    BADSIG = "BADSIG"
    BADKEY = "BADKEY"
    BADTIME = "BADTIME"
    TIMEOUT = "TIMEOUT"
    CONNREFUSED = "CONNREFUSED"
    NETWORK = "NETWORK"
    BADRECORD = "BADRECORD"
    YXRRSET = "YXRRSET"
    BADREPLY = "BADREPLY"
    RCODE = "RCODE"


SPLITTABLE = frozenset(
    {Kind.REFUSED, Kind.NOTZONE, Kind.SERVFAIL, Kind.FORMERR, Kind.RCODE, Kind.YXRRSET}
)
"""Kinds that one bad record in a batch can cause: the batch is split to isolate it."""

_RCODE_TEXT: dict[int, tuple[Kind, str]] = {
    dns.rcode.REFUSED: (
        Kind.REFUSED,
        "the server refused the update (the key's update-policy does not allow these names "
        "or types, or the zone is frozen)",
    ),
    dns.rcode.NOTAUTH: (Kind.NOTAUTH, "the server is not authoritative for the zone"),
    dns.rcode.NOTZONE: (Kind.NOTZONE, "a record's name is outside the zone of the update"),
    dns.rcode.SERVFAIL: (
        Kind.SERVFAIL,
        "the server failed (zone still loading, or a limit such as max-records-per-type)",
    ),
    dns.rcode.FORMERR: (Kind.FORMERR, "the server could not parse the update"),
    dns.rcode.YXRRSET: (
        Kind.YXRRSET,
        "a record set we publish for the first time already exists (prerequisite failed)",
    ),
}


class UpdateFailure(Exception):
    """An UPDATE was not applied; ``kind`` says why, ``str()`` is the sentence."""

    def __init__(
        self, kind: Kind, zone: str, server: str, detail: str, action: str = "update"
    ) -> None:
        self.kind = kind
        self.zone = zone
        self.server = server
        super().__init__(f"{kind}: {action} of zone {zone} at {server}: {detail}")

    @property
    def retry_by_split(self) -> bool:
        return self.kind in SPLITTABLE


def from_rcode(rcode: int, zone: str, server: str) -> UpdateFailure | None:
    """None for NOERROR, else the failure for the reply's rcode."""
    if rcode == dns.rcode.NOERROR:
        return None
    kind, text = _RCODE_TEXT.get(
        int(rcode), (Kind.RCODE, f"the server answered {dns.rcode.to_text(dns.rcode.Rcode(rcode))}")
    )
    return UpdateFailure(kind, zone, server, text)


def from_exception(
    exc: BaseException, zone: str, server: str, action: str = "update"
) -> UpdateFailure:
    """Map a transport or dnspython exception to a failure of ``action`` (update, transfer)."""
    if isinstance(exc, UpdateFailure):
        return exc
    failure = _from_exception(exc, zone, server)
    if action == "update":
        return failure
    return UpdateFailure(failure.kind, zone, server, str(failure).split(": ", 2)[2], action)


def _from_exception(exc: BaseException, zone: str, server: str) -> UpdateFailure:
    if isinstance(exc, dns.tsig.PeerBadSignature):
        return UpdateFailure(
            Kind.BADSIG, zone, server,
            "the server rejected our TSIG signature (BADSIG): the key's secret differs from "
            "the server's",
        )
    if isinstance(exc, dns.tsig.PeerBadKey):
        return UpdateFailure(
            Kind.BADKEY, zone, server,
            "the server does not know our TSIG key name (BADKEY)",
        )
    if isinstance(exc, dns.tsig.PeerBadTime):
        return UpdateFailure(
            Kind.BADTIME, zone, server,
            "the server rejected the TSIG time (BADTIME): the clocks differ by more than "
            "the fudge of 300 s; fix NTP",
        )
    if isinstance(exc, dns.tsig.PeerError | dns.tsig.BadSignature | dns.message.UnknownTSIGKey):
        return UpdateFailure(Kind.BADREPLY, zone, server, f"TSIG check of the reply failed: {exc}")
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | dns.exception.Timeout):
        return UpdateFailure(
            Kind.TIMEOUT, zone, server,
            "no reply in time (server overloaded, update-quota reached, or unreachable)",
        )
    if isinstance(exc, ConnectionRefusedError):
        return UpdateFailure(Kind.CONNREFUSED, zone, server, "connection refused (server down?)")
    if isinstance(exc, asyncio.IncompleteReadError | ConnectionError):
        return UpdateFailure(Kind.NETWORK, zone, server, "the server closed the connection")
    if isinstance(exc, OSError):
        return UpdateFailure(Kind.NETWORK, zone, server, exc.strerror or str(exc))
    if isinstance(exc, dns.exception.DNSException):
        return UpdateFailure(Kind.BADREPLY, zone, server, f"unusable reply: {exc}")
    return UpdateFailure(Kind.BADREPLY, zone, server, f"{type(exc).__name__}: {exc}")
