"""What went wrong with an UPDATE (or a transfer, or a look-up): typed values.

Every failure the publisher can meet is a :class:`Failure`: a :class:`Kind`
the send plan decides on, plus the one sentence an operator reads.  Its
``str()`` (``KIND: sentence``) is what the outbox row's ``last_error`` keeps;
nothing ever parses it back.  The mapping from rcodes and from the
exceptions of sockets, asyncio and dnspython is here, once, so that a policy
refusal, a wrong key, a skewed clock and a server that is down stay apart
(README.md, "Errors", lists what named 9.18 and dnspython do in each case).
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.message
import dns.rcode
import dns.tsig


class Kind(StrEnum):
    """Why an UPDATE was not applied (an rcode, a TSIG verdict, or the transport)."""

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


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure: its kind, what we were doing where, and why in words."""

    kind: Kind
    detail: str
    """The cause, one sentence without the kind (e.g. "connection refused (server down?)")."""
    doing: str = ""
    """What failed, e.g. "update of zone example.com. at 127.0.0.1:53"; empty for a record."""

    def __str__(self) -> str:
        if self.doing:
            return f"{self.kind}: {self.doing}: {self.detail}"
        return f"{self.kind}: {self.detail}"


def doing(zone: str, server: str, action: str = "update") -> str:
    """The ``doing`` part of a failure: ``<action> of zone <zone> at <server>``."""
    return f"{action} of zone {zone} at {server}"


_RCODES: dict[int, tuple[Kind, str]] = {
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


def from_rcode(rcode: int, zone: str, server: str) -> Failure | None:
    """None for NOERROR, else the failure for the reply's rcode."""
    if rcode == dns.rcode.NOERROR:
        return None
    kind, text = _RCODES.get(
        int(rcode), (Kind.RCODE, f"the server answered {dns.rcode.to_text(dns.rcode.Rcode(rcode))}")
    )
    return Failure(kind, text, doing(zone, server))


def from_exception(
    exc: BaseException, zone: str, server: str, action: str = "update"
) -> Failure:
    """Map a transport or dnspython exception to a failure of ``action`` (update, transfer)."""
    if isinstance(exc, UpdateFailure):
        return exc.failure
    kind, detail = _classify(exc)
    return Failure(kind, detail, doing(zone, server, action))


def _classify(exc: BaseException) -> tuple[Kind, str]:
    # asyncio.TimeoutError is TimeoutError and asyncio.IncompleteReadError an
    # EOFError (Python 3.11+), so no asyncio import is needed here.
    if isinstance(exc, dns.tsig.PeerBadSignature):
        return Kind.BADSIG, (
            "the server rejected our TSIG signature (BADSIG): the key's secret differs from "
            "the server's"
        )
    if isinstance(exc, dns.tsig.PeerBadKey):
        return Kind.BADKEY, "the server does not know our TSIG key name (BADKEY)"
    if isinstance(exc, dns.tsig.PeerBadTime):
        return Kind.BADTIME, (
            "the server rejected the TSIG time (BADTIME): the clocks differ by more than "
            "the fudge of 300 s; fix NTP"
        )
    if isinstance(exc, dns.tsig.PeerError | dns.tsig.BadSignature | dns.message.UnknownTSIGKey):
        return Kind.BADREPLY, f"TSIG check of the reply failed: {exc}"
    if isinstance(exc, TimeoutError | dns.exception.Timeout):
        return Kind.TIMEOUT, (
            "no reply in time (server overloaded, update-quota reached, or unreachable)"
        )
    if isinstance(exc, ConnectionRefusedError):
        return Kind.CONNREFUSED, "connection refused (server down?)"
    if isinstance(exc, EOFError | ConnectionError):
        return Kind.NETWORK, "the server closed the connection"
    if isinstance(exc, OSError):
        return Kind.NETWORK, exc.strerror or str(exc)
    if isinstance(exc, dns.exception.DNSException):
        return Kind.BADREPLY, f"unusable reply: {exc}"
    return Kind.BADREPLY, f"{type(exc).__name__}: {exc}"


class UpdateFailure(Exception):
    """Raised by the transport: carries the typed :class:`Failure` the plan decides on."""

    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        super().__init__(str(failure))

    @property
    def kind(self) -> Kind:
        return self.failure.kind
