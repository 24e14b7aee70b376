"""The DHCPv6 server DUID: created once, kept in the store, shared by every host.

RFC 8415 §11 wants a server's DUID stable across restarts; keeping it in the
``settings`` table (not on one host's disk) also lets several responders
behind one relay answer with the same Server Identifier.  We use DUID-UUID
(RFC 6355): nothing about a host leaks into it.
"""

from __future__ import annotations

import uuid

from sqlalchemy.exc import IntegrityError

from ..store.engine import Store
from ..store.models import Setting
from .snapshot import SERVER_DUID_KEY

DUID_UUID = b"\x00\x04"


def new_duid() -> bytes:
    """A fresh DUID-UUID (type 4 + 16 random octets)."""
    return DUID_UUID + uuid.uuid4().bytes


def ensure_server_duid(store: Store) -> bytes:
    """The stored server DUID, creating it if missing (safe when two hosts race)."""
    with store.session() as s:
        row = s.get(Setting, SERVER_DUID_KEY)
        if row is not None and row.blob:
            return bytes(row.blob)
    try:
        with store.session() as s:
            row = s.get(Setting, SERVER_DUID_KEY)
            if row is None:
                row = Setting(key=SERVER_DUID_KEY, blob=new_duid())
                s.add(row)
            elif not row.blob:
                row.blob = new_duid()
            return bytes(row.blob or b"")
    except IntegrityError:
        pass
    with store.session() as s:
        row = s.get(Setting, SERVER_DUID_KEY)
        assert row is not None and row.blob
        return bytes(row.blob)
