"""Typed views of charon's VICI messages, parsed once at the edge.

VICI hands every value over as ``bytes`` and nests the IKE_SA under its
connection name; this module turns a message into :class:`IkeSa` values and
:class:`SaEvent` values the bridge acts on.  Pure: no sockets, no clock.
Anything unexpected (a missing field, a non-dict, an unknown event) yields
nothing rather than an exception, because charon is a peer and the bridge
must never crash on what it sends.

Rules observed with charon 5.9.8:

* ``ike-updown`` means *up* only when the message carries ``"up": "yes"``;
  a down event may even say ``state: ESTABLISHED`` (INITIAL_CONTACT
  replacing an SA), and refused attempts produce down-only events for
  ``(unnamed)`` SAs: bindings are therefore keyed by the IKE_SA
  ``uniqueid``, never by identity.
* ``ike-rekey`` moves a binding from the ``old`` to the ``new`` uniqueid.
* ``ike-update`` (MOBIKE) carries the *new* care-of address at the top
  level; the nested SA still has the old one.  Updates of SAs that are not
  yet ESTABLISHED (the NAT-T float during setup) are ignored.
* With EAP, the authenticated identity is ``remote-eap-id`` when present
  (charon does not bind the IKE IDi to it: an MN with IDi ``mallory@`` and
  EAP identity ``alice@`` gets alice's HoA, so the EAP identity is the one
  that counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ESTABLISHED = "ESTABLISHED"
_TOP_LEVEL = frozenset({"up", "local-host", "local-port", "remote-host", "remote-port"})


def decode(value: Any) -> Any:
    """Recursively turn VICI ``bytes`` into ``str`` (invalid UTF-8 replaced)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Mapping):
        return {decode(k): decode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [decode(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class IkeSa:
    """The fields of one IKE_SA that a binding needs."""

    conn: str
    uniqueid: str
    state: str
    local_host: str
    remote_host: str
    remote_port: int | None
    remote_id: str
    remote_eap_id: str | None
    vips: tuple[str, ...]

    @property
    def identity(self) -> str:
        """The authenticated peer identity: the EAP identity if EAP ran, else IDi."""
        return self.remote_eap_id or self.remote_id

    @property
    def established(self) -> bool:
        return self.state == ESTABLISHED


def _port(value: Any) -> int | None:
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 0 <= port <= 65535 else None


def parse_sa(conn: str, raw: Any) -> IkeSa | None:
    """One IKE_SA dict (already decoded) or None if it lacks a uniqueid."""
    if not isinstance(raw, Mapping):
        return None
    uid = raw.get("uniqueid")
    if not isinstance(uid, str) or not uid:
        return None
    vips = raw.get("remote-vips") or []
    eap_id = raw.get("remote-eap-id")
    return IkeSa(
        conn=conn,
        uniqueid=uid,
        state=str(raw.get("state") or ""),
        local_host=str(raw.get("local-host") or ""),
        remote_host=str(raw.get("remote-host") or ""),
        remote_port=_port(raw.get("remote-port")),
        remote_id=str(raw.get("remote-id") or ""),
        remote_eap_id=eap_id if isinstance(eap_id, str) and eap_id else None,
        vips=tuple(str(v) for v in vips) if isinstance(vips, list) else (),
    )


def sas_of(message: Any) -> list[IkeSa]:
    """Every ``{conn: sa}`` entry of a decoded message (list-sas item or event)."""
    if not isinstance(message, Mapping):
        return []
    out = []
    for key, value in message.items():
        if key in _TOP_LEVEL:
            continue
        sa = parse_sa(str(key), value)
        if sa is not None:
            out.append(sa)
    return out


@dataclass(frozen=True, slots=True)
class SaUp:
    sa: IkeSa


@dataclass(frozen=True, slots=True)
class SaDown:
    sa: IkeSa


@dataclass(frozen=True, slots=True)
class SaRekeyed:
    old_uniqueid: str
    new: IkeSa


@dataclass(frozen=True, slots=True)
class SaMoved:
    """MOBIKE: the peer's care-of address (and port) changed."""

    uniqueid: str
    remote_host: str
    remote_port: int | None


SaEvent = SaUp | SaDown | SaRekeyed | SaMoved

EVENTS = ("ike-updown", "ike-rekey", "ike-update", "child-updown")
"""The VICI events the bridge registers for."""


def parse_event(name: Any, message: Any) -> list[SaEvent]:
    """What one VICI event means for bindings; [] for anything else."""
    name = decode(name)
    msg = decode(message)
    if not isinstance(msg, Mapping):
        return []
    if name == "ike-updown":
        up = msg.get("up") == "yes"
        return [SaUp(sa) if up else SaDown(sa) for sa in sas_of(msg)]
    if name == "ike-rekey":
        out: list[SaEvent] = []
        for conn, pair in msg.items():
            if not isinstance(pair, Mapping):
                continue
            old = parse_sa(str(conn), pair.get("old"))
            new = parse_sa(str(conn), pair.get("new"))
            if old is not None and new is not None:
                out.append(SaRekeyed(old.uniqueid, new))
        return out
    if name == "ike-update":
        host = msg.get("remote-host")
        if not isinstance(host, str) or not host:
            return []
        return [
            SaMoved(sa.uniqueid, host, _port(msg.get("remote-port")))
            for sa in sas_of(msg)
            if sa.established
        ]
    # child-updown repeats the IKE_SA fields; bindings follow the IKE_SA only.
    return []
