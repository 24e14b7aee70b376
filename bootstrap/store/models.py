"""The subscriber store's schema: the only definition of its tables.

Addresses are stored as canonical text (``ipaddress`` compressed form) so
that unique constraints compare equal addresses on SQLite and PostgreSQL
alike.  Every constraint has a name from the naming convention, so that
Alembic migrations and downgrades name the same objects on both databases.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only clock the store uses."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Network(Base):
    """A home network: one MSP domain, its IPv6 home prefix, optional IPv4 pool."""

    __tablename__ = "networks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    prefix: Mapped[str] = mapped_column(String(64))
    ipv4_pool: Mapped[str | None] = mapped_column(String(32))
    zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    ha_info: Mapped[str] = mapped_column(String(16), default="both")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    home_agents: Mapped[list[HomeAgent]] = relationship(back_populates="network")


class HomeAgent(Base):
    """A home agent; ``assigned`` counts its subscribers so choosing is O(#HAs)."""

    __tablename__ = "home_agents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fqdn: Mapped[str] = mapped_column(String(253), unique=True)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    ipv4: Mapped[str | None] = mapped_column(String(32))
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    priority: Mapped[int] = mapped_column(Integer, default=10)
    weight: Mapped[int] = mapped_column(Integer, default=100)
    capacity: Mapped[int] = mapped_column(Integer, default=10000)
    assigned: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="active")
    last_heartbeat: Mapped[dt.datetime | None] = mapped_column()
    beating_since: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    network: Mapped[Network] = relationship(back_populates="home_agents")


class Subscriber(Base):
    """A mobile node's subscription.

    ``secret_enc`` holds the EAP secret encrypted with the store's secret key
    (Fernet); ``nt_hash`` is the MD4 of the UTF-16LE secret that FreeRADIUS
    needs for EAP-MSCHAPv2 (filled by the radius mode); ``key_enc`` the
    encrypted private key of a certificate subscriber.
    """

    __tablename__ = "subscribers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity: Mapped[str] = mapped_column(String(320), unique=True)
    fqdn: Mapped[str] = mapped_column(String(253), unique=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"), index=True)
    home_agent_id: Mapped[int | None] = mapped_column(ForeignKey("home_agents.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="active", index=True)
    auth: Mapped[str] = mapped_column(String(8), default="eap")
    credential_ref: Mapped[str | None] = mapped_column(String(512))
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    nt_hash: Mapped[str | None] = mapped_column(String(64))
    cert_pem: Mapped[str | None] = mapped_column(Text)
    key_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    cert_serial: Mapped[str | None] = mapped_column(String(64))
    bundle_issued_at: Mapped[dt.datetime | None] = mapped_column()
    """When the MN bundle (with the secret) was handed out; set once, by a guarded UPDATE."""
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    network: Mapped[Network] = relationship()
    home_agent: Mapped[HomeAgent | None] = relationship()
    addresses: Mapped[list[HomeAddress]] = relationship(
        back_populates="subscriber", order_by="HomeAddress.id"
    )


class HomeAddress(Base):
    """An IPv6 (family 6) or IPv4 (family 4) home address.

    A row outlives its subscriber's revocation: ``subscriber_id`` becomes NULL
    and ``quarantine_until`` is set, and the unique constraint keeps the
    address out of new allocations until :func:`release_quarantined` deletes
    the row.  HoAs are unique within a network; IPv4 pools of different
    networks may not overlap (checked when a network is added), which makes
    IPv4 HoAs unique across the store.
    """

    __tablename__ = "home_addresses"
    __table_args__ = (
        UniqueConstraint("network_id", "address", name="uq_home_addresses_network_address"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL"), index=True
    )
    family: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    released_at: Mapped[dt.datetime | None] = mapped_column()
    quarantine_until: Mapped[dt.datetime | None] = mapped_column(index=True)
    subscriber: Mapped[Subscriber | None] = relationship(back_populates="addresses")


class Ipv4Free(Base):
    """Free IPv4 HoAs of a network's pool, so allocation never scans used ones.

    Filled when a pool is added; allocation takes one row (``FOR UPDATE SKIP
    LOCKED`` on PostgreSQL) and deletes it.  ``available_after`` holds back a
    returned address for the quarantine period.
    """

    __tablename__ = "ipv4_free"
    __table_args__ = (Index("ix_ipv4_free_pick", "network_id", "available_after", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id"))
    address: Mapped[str] = mapped_column(String(32), unique=True)
    available_after: Mapped[dt.datetime | None] = mapped_column()


class Binding(Base):
    """An IKE SA of a subscriber on a home agent, written by the VICI bridge."""

    __tablename__ = "bindings"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    home_agent_id: Mapped[int] = mapped_column(ForeignKey("home_agents.id"), index=True)
    care_of: Mapped[str] = mapped_column(String(64))
    care_of_port: Mapped[int | None] = mapped_column(Integer)
    hoa: Mapped[str] = mapped_column(String(64))
    ike_unique_id: Mapped[str | None] = mapped_column(String(32))
    up_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    down_at: Mapped[dt.datetime | None] = mapped_column(index=True)


class DnsOutbox(Base):
    """One desired DNS change: replace (name, rdtype) by ``rdatas`` (empty = delete).

    Written in the same transaction as the change that causes it; drained in
    ``id`` order per name by the DNS publisher, which claims rows
    (``claimed_by``/``claimed_until``) so that several publishers on one
    PostgreSQL do not send the same row twice at once.
    """

    __tablename__ = "dns_outbox"
    __table_args__ = (
        Index("ix_dns_outbox_pending", "done_at", "next_attempt_at", "id"),
        # Partial indexes over the rows not yet done, however long the history of done
        # rows grows: the claim's id order, the dashboard's depth, oldest and failing.
        Index(
            "ix_dns_outbox_open",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
        Index(
            "ix_dns_outbox_failing",
            "id",
            postgresql_where=text("done_at IS NULL AND attempts > 0"),
            sqlite_where=text("done_at IS NULL AND attempts > 0"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    zone: Mapped[str | None] = mapped_column(String(253), index=True)
    name: Mapped[str] = mapped_column(String(253), index=True)
    rdtype: Mapped[str] = mapped_column(String(10))
    rdatas: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    done_at: Mapped[dt.datetime | None] = mapped_column()


class AuditLog(Base):
    """Who did what, when, from where (cli, ui, api, daemon)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(320), default="", index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Operator(Base):
    """An operator account for the web UI (password hashed with Argon2id)."""

    __tablename__ = "operators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A server-side web session (revocable); the cookie carries only its id."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()


class ApiToken(Base):
    """An API token for scripts; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ChangeVersion(Base):
    """Monotonic counters per scope ('topology', 'subscribers') that services poll.

    Every service-layer write bumps the scope it touches in the same
    transaction, so a poller that sees a new number knows to rebuild.
    """

    __tablename__ = "change_versions"
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Setting(Base):
    """Store-wide values that must be the same for every host (server DUID, CA)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)


class StatSample(Base):
    """One sampled value for the dashboard's time charts (live bindings, DNS outbox depth
    and oldest age, each HA's load and capacity), kept for a few weeks."""

    __tablename__ = "stat_samples"
    __table_args__ = (Index("ix_stat_samples_metric_at", "metric", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column()
    metric: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(253), default="")
    value: Mapped[float] = mapped_column(Float)
