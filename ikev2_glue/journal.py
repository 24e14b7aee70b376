"""The bridge's durable queue: binding events kept while the store cannot take them.

charon does not repeat an event, so an ``ike-updown`` that arrives while the
store is unreachable is appended as one JSON line and fsync'd before the
bridge counts it as taken; when the store is back the lines are applied in
arrival order and the file shrinks (rewritten to a temporary file, fsync'd,
renamed).  The file survives a restart of bootstrapd.  It is bounded by
``[vici] queue_limit``: past it an event is not kept and the journal notes an
overflow, after which the bridge rebuilds the bindings from charon's
``list-sas`` (which it also does after every replay).

The codec (:func:`encode`, :func:`decode`) is pure; :class:`Journal` is the file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from .model import IkeSa, SaDown, SaEvent, SaMoved, SaRekeyed, SaUp


def _sa(sa: IkeSa) -> dict[str, Any]:
    return {
        "conn": sa.conn, "uniqueid": sa.uniqueid, "state": sa.state,
        "local_host": sa.local_host, "remote_host": sa.remote_host,
        "remote_port": sa.remote_port, "remote_id": sa.remote_id,
        "remote_eap_id": sa.remote_eap_id, "vips": list(sa.vips),
    }


def _unsa(d: dict[str, Any]) -> IkeSa:
    return IkeSa(
        conn=str(d["conn"]), uniqueid=str(d["uniqueid"]), state=str(d["state"]),
        local_host=str(d["local_host"]), remote_host=str(d["remote_host"]),
        remote_port=d["remote_port"], remote_id=str(d["remote_id"]),
        remote_eap_id=d["remote_eap_id"], vips=tuple(str(v) for v in d["vips"]),
    )


Entry = tuple[SaEvent, dt.datetime]
"""An event and when charon reported it (bindings open and close at that time on replay)."""


def encode(ev: SaEvent, at: dt.datetime) -> str:
    """One line (no newline) for ``ev`` reported at ``at``."""
    body: dict[str, Any]
    if isinstance(ev, SaUp):
        body = {"kind": "up", "sa": _sa(ev.sa)}
    elif isinstance(ev, SaDown):
        body = {"kind": "down", "sa": _sa(ev.sa)}
    elif isinstance(ev, SaRekeyed):
        body = {"kind": "rekey", "old": ev.old_uniqueid, "sa": _sa(ev.new)}
    else:
        body = {"kind": "move", "uniqueid": ev.uniqueid, "remote_host": ev.remote_host,
                "remote_port": ev.remote_port}
    body["at"] = at.isoformat()
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode(line: str) -> Entry:
    """The entry of one line; ValueError (or KeyError) for a line this module did not write."""
    d = json.loads(line)
    return _event(d), dt.datetime.fromisoformat(str(d["at"]))


def _event(d: dict[str, Any]) -> SaEvent:
    kind = d["kind"]
    if kind == "up":
        return SaUp(_unsa(d["sa"]))
    if kind == "down":
        return SaDown(_unsa(d["sa"]))
    if kind == "rekey":
        return SaRekeyed(str(d["old"]), _unsa(d["sa"]))
    if kind == "move":
        return SaMoved(str(d["uniqueid"]), str(d["remote_host"]), d["remote_port"])
    raise ValueError(f"unknown event kind {kind!r}")


class Journal:
    """``path`` as a bounded queue of events; every method is called from one thread at a time."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.overflowed = False
        self._events: list[Entry] = []
        self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                self._events.append(decode(line))
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash mid-append: the reconcile covers it
        self.overflowed = len(self._events) >= self.limit

    def __len__(self) -> int:
        return len(self._events)

    def pending(self) -> list[Entry]:
        return list(self._events)

    def append(self, events: list[Entry]) -> int:
        """Keep ``events`` durably (fsync'd); returns how many fit under the limit."""
        room = max(0, self.limit - len(self._events))
        kept = events[:room]
        if len(kept) < len(events):
            self.overflowed = True
        if kept:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, "".join(encode(e, at) + "\n" for e, at in kept).encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            self._events.extend(kept)
        return len(kept)

    def done(self, count: int) -> None:
        """The first ``count`` events are in the store: drop them from the file."""
        if count <= 0:
            return
        self._events = self._events[count:]
        if not self._events:
            self.path.unlink(missing_ok=True)
            self.overflowed = False
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, "".join(encode(e, at) + "\n" for e, at in self._events).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
