"""Radius mode, store side: the NT hashes and the HA id FreeRADIUS' queries filter on.

In radius mode FreeRADIUS 3.2 reads the store's PostgreSQL views
``radius_check`` / ``radius_reply`` (migration 0002) directly; the strongSwan
face writes its configuration (``ikev2_glue.radius_config``).  What the store
must provide: the NT hash (MD4 of the UTF-16LE secret) of each EAP secret,
which EAP-MSCHAPv2 checks against, and the HA's row id.  Python's hashlib
has no MD4 under OpenSSL 3 and ``cryptography`` has none at all, so it comes
from pycryptodomex (actively maintained, MD4 in C, independent of OpenSSL's
legacy provider; passlib, the other option, is unmaintained).
"""

from __future__ import annotations

from Cryptodome.Hash import MD4
from sqlalchemy import select

from ..config import Settings
from ..domain import dns_name
from ..errors import NotFound
from ..store.engine import Store
from ..store.models import HomeAgent, Subscriber
from . import credentials


def nt_hash(secret: str) -> str:
    """MD4(UTF-16LE(secret)) as 32 lower-case hex digits (what ``nt_hash`` stores)."""
    return MD4.new(secret.encode("utf-16-le")).hexdigest()


def fill_nt_hashes(store: Store, settings: Settings, batch: int = 1000) -> int:
    """Compute the NT hash of every EAP subscriber that lacks one; returns how many."""
    done = 0
    while True:
        with store.session() as s:
            rows = s.scalars(
                select(Subscriber)
                .where(Subscriber.secret_enc.is_not(None), Subscriber.nt_hash.is_(None))
                .limit(batch)
            ).all()
            for row in rows:
                assert row.secret_enc is not None
                row.nt_hash = nt_hash(credentials.decrypt_secret(settings, row.secret_enc))
            done += len(rows)
        if len(rows) < batch:
            return done


def home_agent_id(store: Store, fqdn: str) -> int:
    """The row id of HA ``fqdn``: the views' ``home_agent_id`` that its FreeRADIUS filters on."""
    name = dns_name(fqdn)
    with store.session() as s:
        ha_id = s.scalars(select(HomeAgent.id).where(HomeAgent.fqdn == name)).first()
    if ha_id is None:
        raise NotFound(f"home agent {name!r} ([vici] home_agent) does not exist")
    return ha_id
