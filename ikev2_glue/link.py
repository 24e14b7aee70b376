"""The thin, blocking VICI transport: one command session and one event pump.

What charon 5.9.8 does that shapes this module (measured, see the README):

* commands and ``listen()`` need separate sessions;
* a dead charon shows up as ``OSError`` (``BrokenPipeError``,
  ``ConnectionRefusedError``, ``FileNotFoundError``): callers catch that;
* the command socket has a timeout (charon silently drops replies over
  512 KiB and the client would wait forever), the event socket has none:
  ``listen(timeout=...)`` ticks instead;
* only streamed ``list-*`` commands are used for bookkeeping, never the
  ``get-*`` ones that break beyond a few thousand entries.

Everything here blocks; the bridge calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import vici
from vici.exception import CommandException, SessionException

from . import model, plan

log = logging.getLogger(__name__)

ViciError = (CommandException, SessionException)
"""Errors charon reports for one command (the session stays usable)."""


def open_session(path: str, timeout: float | None) -> vici.Session:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if timeout:
        sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return vici.Session(sock)


def close_session(session: vici.Session | None) -> None:
    if session is None:
        return
    with contextlib.suppress(OSError):
        session.transport.close()


class CharonLink:
    """Commands to one charon over its VICI socket."""

    def __init__(self, path: str, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._s: vici.Session | None = None

    @property
    def s(self) -> vici.Session:
        if self._s is None:
            raise BrokenPipeError("not connected to charon")
        return self._s

    def connect(self) -> str:
        """Open the command session; returns charon's version string."""
        self.close()
        self._s = open_session(self.path, self.timeout)
        info = model.decode(self._s.version())
        return f"{info.get('daemon', 'charon')} {info.get('version', '?')}"

    def close(self) -> None:
        close_session(self._s)
        self._s = None

    def ping(self) -> None:
        self.s.version()

    # ------------------------------------------------------------ credentials
    def load_base(self, ca_pem: str, cert_pem: str, key_pem: bytes) -> None:
        """The store's CA (trust anchor for MN certificates) and the HA's own cert and key."""
        self.s.load_cert({"type": "x509", "flag": "ca", "data": ca_pem.encode()})
        self.s.load_cert({"type": "x509", "flag": "none", "data": cert_pem.encode()})
        self.s.load_key({"type": "any", "data": key_pem})

    # ------------------------------------------------------------ connections
    def loaded_conns(self) -> list[str]:
        names: list[str] = []
        for item in self.s.list_conns():
            names.extend(str(k) for k in model.decode(item))
        return names

    def load_conn(self, conn: dict[str, Any]) -> None:
        self.s.load_conn(conn)

    def unload_conn(self, name: str) -> None:
        with contextlib.suppress(*ViciError):
            self.s.unload_conn({"name": name})

    def load(self, lo: plan.Loadout) -> None:
        """Pools first, then the secret, then the connection(s) that name them."""
        for name, pool in lo.pools.items():
            self.s.load_pool({name: pool})
        if lo.shared is not None:
            self.s.load_shared(lo.shared)
        for name, conn in lo.conn.items():
            self.s.load_conn({name: conn})

    def remove(self, removal: plan.Removal, terminate: bool = True) -> list[str]:
        """Revoke: unload-conn, unload-shared, terminate, unload-pool; returns pools still
        leased (retry later).  ``unload-conn`` alone leaves live SAs up, and a pool with
        an online lease cannot be unloaded, hence this order.

        ``terminate=False`` (a draining HA) leaves live SAs to be redirected.
        """
        for name in removal.conns:
            self.unload_conn(name)
        with contextlib.suppress(*ViciError):
            self.s.unload_shared({"id": plan.secret_id(removal.sub_id)})
        if terminate:
            for name in removal.conns:
                self.terminate({"ike": name})
        return [p for p in plan.pool_names(removal.sub_id) if not self.unload_pool(p)]

    def unload_pool(self, name: str) -> bool:
        """False only while the pool still has an online lease."""
        try:
            self.s.unload_pool({"name": name})
        except CommandException as exc:
            return "online" not in str(exc)
        return True

    # ------------------------------------------------------------ SAs
    def list_sas(self) -> list[model.IkeSa]:
        out: list[model.IkeSa] = []
        for item in self.s.list_sas({"noblock": "yes"}):
            out.extend(model.sas_of(model.decode(item)))
        return out

    def terminate(self, selector: dict[str, str], wait_ms: int = 3000) -> bool:
        """Terminate matching IKE_SAs; False if none matched."""
        msg = {**selector, "timeout": str(wait_ms), "loglevel": "-1"}
        try:
            for _ in self.s.terminate(msg):
                pass
        except CommandException:
            return False
        return True

    def initiate_async(self, ike: str, child: str) -> bool:
        """Start an IKE_SA + CHILD_SA and return at once (``timeout -1``): no charon worker
        thread waits on a peer that may be dead; the outcome arrives as an ``ike-updown``
        event.  False if charon refused to start it."""
        try:
            for _ in self.s.initiate({"ike": ike, "child": child, "timeout": "-1",
                                      "loglevel": "-1"}):
                pass
        except CommandException:
            return False
        return True

    def redirect(self, ike_id: str, gateway: str) -> bool:
        """Ask the MN to move to ``gateway`` (RFC 5685); success says nothing: charon
        answers ``success`` even for an MN that did not announce redirect support."""
        try:
            self.s.redirect({"ike-id": ike_id, "gateway": gateway})
        except CommandException:
            return False
        return True


class EventPump:
    """A thread that listens for SA events and hands them to ``deliver``.

    ``deliver(name, message)`` is called for every event, and once with
    ``(None, exc)`` when the session ends (charon gone); the pump then stops.
    """

    def __init__(
        self,
        path: str,
        deliver: Callable[[Any, Any], None],
        tick: float = 1.0,
    ) -> None:
        self.path = path
        self.deliver = deliver
        self.tick = tick
        self._stop = threading.Event()
        self._session: vici.Session | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vici-events", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once the event registration is done."""
        self._session = open_session(self.path, None)
        self._thread.start()
        self._ready.wait(timeout)

    def _run(self) -> None:
        error: BaseException | None = None
        assert self._session is not None
        try:
            gen = self._session.listen(list(model.EVENTS), timeout=self.tick)
            for name, msg in gen:
                self._ready.set()
                if self._stop.is_set():
                    break
                if name is None:
                    continue
                self.deliver(name, msg)
        except Exception as exc:  # OSError when charon dies; anything else ends the pump too
            error = exc
        finally:
            self._ready.set()
            close_session(self._session)
        if not self._stop.is_set():
            self.deliver(None, error or BrokenPipeError("event session ended"))

    def stop(self) -> None:
        self._stop.set()
        if self._session is not None:
            with contextlib.suppress(OSError):
                self._session.transport.socket.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(timeout=3)
