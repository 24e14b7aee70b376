"""Home-address allocation that stays O(1) and safe with many writers.

IPv6: the interface identifier is drawn at random from the whole host part
of the prefix (RFC 7721: not a guessable sequence), skipping the all-zero
subnet-router anycast and the reserved IIDs of RFC 5453, and the address is
inserted with ``INSERT ... ON CONFLICT DO NOTHING`` against the unique
``(network_id, address)`` constraint.  Several processes or hosts on one
PostgreSQL therefore never hand out one address twice: the database decides,
and a (vanishingly rare, 2^-64 per pair on a /64) collision just draws again.
No used address is ever scanned, so the cost does not grow with the number of
subscribers.  A revoked subscriber's address row stays (``released_at``,
``quarantine_until``) and keeps blocking the address until
:func:`release_quarantined` deletes it.

IPv4 pools are small, so random probing would slow down as they fill;
instead each pool's free addresses sit in ``ipv4_free`` (inserted in random
order when the pool is created) and allocation takes the first available
row with ``SELECT ... FOR UPDATE SKIP LOCKED`` and deletes it: concurrent
allocators take different rows without waiting.  A released address goes
back with ``available_after`` = end of quarantine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import secrets

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from ..errors import Exhausted
from ..store.engine import Store
from ..store.models import HomeAddress, Ipv4Free, utcnow

MAX_DRAWS = 32

_RESERVED_ANYCAST = (0xFDFF_FFFF_FFFF_FF80, 0xFDFF_FFFF_FFFF_FFFF)  # RFC 2526 / RFC 5453
_RESERVED_IANA = (0x0200_5EFF_FE00_0000, 0x0200_5EFF_FEFF_FFFF)  # RFC 5453 §3 (incl. PMIPv6)

_rng = secrets.SystemRandom()


def iid_acceptable(addr: ipaddress.IPv6Address, prefix: ipaddress.IPv6Network) -> bool:
    """False for the subnet-router anycast and the RFC 5453 reserved IIDs."""
    value = int(addr)
    host = value & ((1 << (128 - prefix.prefixlen)) - 1)
    iid = value & 0xFFFF_FFFF_FFFF_FFFF
    if host == 0 or iid == 0:
        return False
    return all(not lo <= iid <= hi for lo, hi in (_RESERVED_ANYCAST, _RESERVED_IANA))


def draw_v6(prefix: ipaddress.IPv6Network, rng: random.Random = _rng) -> ipaddress.IPv6Address:
    """A random acceptable address inside ``prefix``."""
    bits = 128 - prefix.prefixlen
    while True:
        addr = ipaddress.IPv6Address(int(prefix.network_address) | rng.getrandbits(bits))
        if iid_acceptable(addr, prefix):
            return addr


def _insert_ignoring_conflict(session: Session, values: dict[str, object]) -> bool:
    """Insert a home-address row; False if the address is taken."""
    from sqlalchemy.dialects import postgresql, sqlite  # here: a SQLite store never loads PG

    dialect = session.get_bind().dialect.name
    mod = postgresql if dialect == "postgresql" else sqlite
    stmt = mod.insert(HomeAddress).values(**values).on_conflict_do_nothing()
    result = session.execute(stmt.returning(HomeAddress.id))
    return result.first() is not None


def allocate_v6(
    session: Session,
    network_id: int,
    prefix: ipaddress.IPv6Network,
    subscriber_id: int,
    avoid: frozenset[str] = frozenset(),
    rng: random.Random = _rng,
) -> ipaddress.IPv6Address:
    """Reserve a fresh IPv6 HoA for ``subscriber_id`` in the caller's transaction.

    ``avoid`` holds addresses that are not HoA rows but must not be handed
    out (the network's home-agent addresses).
    """
    for _ in range(MAX_DRAWS):
        addr = draw_v6(prefix, rng)
        if str(addr) in avoid:
            continue
        row = {
            "network_id": network_id,
            "subscriber_id": subscriber_id,
            "family": 6,
            "address": str(addr),
            "assigned_at": utcnow(),
        }
        if _insert_ignoring_conflict(session, row):
            return addr
    raise Exhausted(f"no free IPv6 home address found in {prefix} after {MAX_DRAWS} draws")


def fill_v4_pool(
    session: Session,
    network_id: int,
    pool: ipaddress.IPv4Network,
    avoid: frozenset[str] = frozenset(),
    rng: random.Random = _rng,
) -> int:
    """Insert the pool's usable addresses into ``ipv4_free`` in random order."""
    addrs = [str(a) for a in pool.hosts() if str(a) not in avoid]
    rng.shuffle(addrs)
    if addrs:
        session.execute(insert(Ipv4Free), [{"network_id": network_id, "address": a} for a in addrs])
    return len(addrs)


def withdraw_v4(session: Session, address: str) -> None:
    """Take one address out of the free list (it became an HA's address)."""
    session.execute(delete(Ipv4Free).where(Ipv4Free.address == address))


def allocate_v4(
    session: Session, network_id: int, subscriber_id: int, now: dt.datetime | None = None
) -> ipaddress.IPv4Address:
    """Take the first available pool address for ``subscriber_id``."""
    now = now or utcnow()
    row = session.scalars(
        select(Ipv4Free)
        .where(
            Ipv4Free.network_id == network_id,
            or_(Ipv4Free.available_after.is_(None), Ipv4Free.available_after <= now),
        )
        .order_by(Ipv4Free.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        raise Exhausted("the network's IPv4 home-address pool has no free address left")
    address = row.address
    session.delete(row)
    session.add(
        HomeAddress(
            network_id=network_id,
            subscriber_id=subscriber_id,
            family=4,
            address=address,
            assigned_at=now,
        )
    )
    return ipaddress.IPv4Address(address)


def release(
    session: Session, rows: list[HomeAddress], quarantine: dt.timedelta, now: dt.datetime
) -> None:
    """Mark ``rows`` released; they stay blocked until the quarantine ends."""
    until = now + quarantine
    for row in rows:
        if row.released_at is not None:
            continue
        row.released_at = now
        row.quarantine_until = until
        if row.family == 4:
            # the free-list row's available_after now guards the quarantine
            session.add(
                Ipv4Free(network_id=row.network_id, address=row.address, available_after=until)
            )
            session.delete(row)


def release_quarantined(store: Store, now: dt.datetime | None = None) -> int:
    """Delete IPv6 HoA rows whose quarantine is over, making the addresses free."""
    now = now or utcnow()
    with store.session() as s:
        result = s.execute(
            delete(HomeAddress).where(
                HomeAddress.family == 6,
                HomeAddress.quarantine_until.is_not(None),
                HomeAddress.quarantine_until <= now,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)
