"""``bootstrap.toml``: the one configuration file, parsed and checked here only.

Every section is a frozen dataclass; its fields are the keys, their
defaults the documented defaults (``bootstrap.toml.example`` lists them all
with comments).  Loading checks every key: an unknown section or key, a
value of the wrong type, or a bad choice raises :class:`ConfigError` with one
sentence naming ``[section] key``; the CLI and daemon turn that into exit 2.

Relative paths (key files, credential directories, a relative SQLite path)
are resolved against the directory of the config file, so a daemon started
from anywhere finds the same files.  ``BOOTSTRAP_DATABASE_URL`` overrides
``[database] url``.

Faces add keys by adding fields to their own section class here; no other
module reads the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .domain import PublishMode
from .errors import ConfigError
from .rules import DEFAULT_HEARTBEAT_SECONDS

ENV_DATABASE_URL = "BOOTSTRAP_DATABASE_URL"


def _choice(*allowed: str) -> dict[str, Any]:
    return {"choices": allowed}


PATH: dict[str, Any] = {"path": True}


@dataclass(frozen=True)
class DatabaseConfig:
    """[database]: where the store lives."""

    url: str = "sqlite:///bootstrap.db"
    """SQLAlchemy URL of the store: sqlite:///FILE (embedded) or postgresql+psycopg://USER@HOST/DB
    (shared by several HA hosts; postgresql+asyncpg:// is accepted and mapped to psycopg)."""
    read_url: str = ""
    """Optional URL for reads that may lag a little (the DHCP snapshot), usually this host's
    local standby: postgresql+psycopg://USER@/DB?host=127.0.0.1:5433. Empty = use url."""
    retry_for: float = 30.0
    """Seconds a write that lost its connection (a failover) is retried before the caller gets
    "store unavailable: ..."; cover the failover manager's promotion time."""
    echo: bool = False
    """Log every SQL statement (debugging only)."""


@dataclass(frozen=True)
class StoreConfig:
    """[store]: store-wide policy shared by every service."""

    secret_key_file: str = field(default="bootstrap.secret", metadata=PATH)
    """Fernet key that encrypts EAP secrets and private keys (created 0600 if missing)."""
    credentials_dir: str = field(default="credentials", metadata=PATH)
    """Where enrollment writes certificate/key files once (0600)."""
    hoa_quarantine_days: float = 30.0
    """A revoked subscriber's HoA is not handed out again for this long."""
    heartbeat_timeout: float = DEFAULT_HEARTBEAT_SECONDS
    """Seconds after which a monitored HA without heartbeat counts as not live."""
    snapshot_poll_interval: float = 1.0
    """Seconds between change-version polls of the long-running services."""


@dataclass(frozen=True)
class Dhcp6Config:
    """[dhcp6]: the DHCPv6 home-information responder."""

    enabled: bool = True
    """Run the DHCPv6 responder inside bootstrapd."""
    listen: str = "[::]:547"
    """Address and UDP port to bind (tests use high ports)."""
    interfaces: list[str] = field(default_factory=list)
    """Interfaces on which to join ff02::1:2 (clients on these links are answered directly)."""
    allow_unicast: bool = False
    """Answer Information-requests sent to a unicast address (RFC 9915 says drop; lab use only)."""
    links: list[str] = field(default_factory=list)
    """VDINF link bindings "<selector>=<network>": if:<iface>, ifid:<interface-id> or a prefix."""
    rsoo_codes: list[int] = field(default_factory=list)
    """Relay-supplied (RFC 6422 RSOO) option codes to use, e.g. [50, 69, 70]; empty: ignore RSOO."""
    hop_limit: int = 8
    """Relay-forward messages with a larger hop count or deeper nesting are dropped."""
    rate_limit: float = 20.0
    """Requests per second allowed per client (DUID or address); 0 turns the limit off."""
    rate_burst: int = 40
    """Requests a client may send at once before the rate limit applies."""
    refresh_time: int = 0
    """Information Refresh Time (s, >= 600) sent when the client asks for option 32; 0 = never."""
    log_interval: float = 60.0
    """At most one log line per drop reason in this many seconds."""
    reply_port: int = 546
    """UDP port direct Replies go to (546; tests may use another)."""
    relay_port: int = 547
    """UDP port Relay-replies go to (547; tests may use another)."""


@dataclass(frozen=True)
class Dhcp4Config:
    """[dhcp4]: the DHCPv4 home-information responder."""

    enabled: bool = False
    """Run the DHCPv4 DHCPINFORM responder inside bootstrapd."""
    listen: str = "0.0.0.0:67"
    """Address and UDP port to bind (tests use high ports)."""
    interfaces: list[str] = field(default_factory=list)
    """Interfaces to serve (bound with SO_BINDTODEVICE); empty = all."""
    links: list[str] = field(default_factory=list)
    """Link bindings "<selector>=<network>": if:<iface> or a giaddr prefix; unbound = all HAs."""
    server_id: str = ""
    """Server Identifier (option 54); empty = the address the request arrived on."""
    dualstack_code: int = 0
    """Site-specific option code (224-254) for the dual-stack home information option; 0 = off."""
    rate_limit: float = 20.0
    """Requests per second allowed per client (chaddr); 0 turns the limit off."""
    rate_burst: int = 40
    """Requests a client may send at once before the rate limit applies."""
    client_port: int = 68
    """UDP port DHCPACKs go to when not relayed (68; tests may use another)."""
    relay_port: int = 67
    """UDP port DHCPACKs go to when relayed through giaddr (67; tests may use another)."""


@dataclass(frozen=True)
class DnsConfig:
    """[dns]: the RFC 2136 publisher."""

    enabled: bool = False
    """Run the publisher inside ``bootstrapd``."""
    server: str = "127.0.0.1:53"
    """The primary that accepts UPDATEs and zone transfers, ``address:port``."""
    tsig_key_file: str = field(default="mip6-update.key", metadata=PATH)
    """A BIND ``tsig-keygen`` key file (``key "name" { algorithm ...; secret "..."; };``)."""
    publish: str = field(
        default="", metadata=_choice(*(m.value for m in PublishMode))
    )
    """When an MN's records appear: "enroll" (at enrollment) or "registration" (only while it
    has a live binding). One store-wide mode: empty follows the store's (set by
    'bootstrapctl dns publish MODE', enroll if never set); a value is stored at bootstrapd's
    first start and must equal the store's afterwards."""
    ttl: int = 300
    """TTL of every record we publish, in seconds."""
    batch_size: int = 400
    """Records per UPDATE message (one zone each); 100-500 is fastest, 64 KB caps it."""
    max_in_flight: int = 4
    """UPDATE messages awaiting a reply at once; named drops those beyond its update-quota (100)."""
    timeout: float = 10.0
    """Seconds to wait for connecting to the server and for each reply."""
    backoff_initial: float = 1.0
    """Seconds before the first retry of a failed row; doubled after every failure."""
    backoff_cap: float = 60.0
    """Longest wait between retries of a row, in seconds."""
    claim_seconds: float = 120.0
    """How long a publisher's claim on outbox rows lasts before another may take them."""
    poll_interval: float = 0.5
    """Seconds between outbox polls when it was empty."""
    liveness_interval: float = 10.0
    """Seconds between re-derivations of SRV/HA records from the snapshot (heartbeats)."""
    algorithm: str = field(
        default="",
        metadata=_choice("", "hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224"),
    )
    """TSIG algorithm; empty means the one named in the key file (hmac-sha256 by tsig-keygen)."""


@dataclass(frozen=True)
class ViciConfig:
    """[vici]: the strongSwan bridge."""

    enabled: bool = False
    """Run the strongSwan bridge inside bootstrapd."""
    socket: str = "/var/run/charon.vici"
    """charon's VICI socket (plugins.vici.socket, without unix://)."""
    home_agent: str = "ha1.example.com"
    """The FQDN of the home agent this host is (as in 'bootstrapctl ha add')."""
    assign: str = field(default="per-subscriber", metadata=_choice("per-subscriber", "radius"))
    """How a subscriber gets its HoA: one charon connection each, or FreeRADIUS."""
    per_subscriber_limit: int = 2000
    """Warn once above this many subscribers in per-subscriber mode (setup cost grows ~N^2)."""
    fqdn_identities: bool = False
    """Per-subscriber mode: also accept the subscriber's FQDN as IKE identity (RFC 5026
    ID_FQDN) besides its RFC 822 identity; one more charon connection per subscriber."""
    command_timeout: float = 30.0
    """Seconds to wait for one VICI command before treating charon as gone."""
    reconnect_max: float = 5.0
    """Longest wait between reconnect attempts to charon (backoff from 0.2 s)."""
    redirect_wait: float = 5.0
    """Seconds a drained HA waits for a redirected MN to leave before terminating its SA."""
    home_interface: str = ""
    """The HA's interface on the home link: while a binding is up the HA answers for the
    MN's HoA there (proxy ND for IPv6, proxy ARP for an IPv4 HoA; RFC 6275 10.4.1) and
    turns on its proxy_ndp / proxy_arp sysctls (needs CAP_NET_ADMIN). Empty: no proxying."""
    queue_file: str = field(default="vici-queue.jsonl", metadata=PATH)
    """Where charon's binding events wait, appended and fsync'd, while the store is unreachable;
    they are applied in order when it is back (survives a restart of bootstrapd)."""
    queue_limit: int = 100000
    """Most events kept in queue_file; beyond it events are not kept and the bindings are
    rebuilt from charon's list-sas when the store is back."""
    radius_address: str = "::1"
    """Where FreeRADIUS listens for charon (radius mode; same network namespace)."""
    radius_port: int = 1812
    """FreeRADIUS authentication port."""
    radius_secret_file: str = field(default="radius.secret", metadata=PATH)
    """Shared secret between charon and FreeRADIUS (created 0600 by 'radius config')."""
    radius_db_user: str = ""
    """PostgreSQL role FreeRADIUS logs in as; empty = the user of [database] url."""


@dataclass(frozen=True)
class HaConfig:
    """[ha]: home-agent failure detection and takeover, shared by every bootstrapd on one store."""

    heartbeat_interval: float = 1.0
    """Seconds between the heartbeats the bridge writes for its HA while charon answers; every
    bootstrapd also checks the other HAs' heartbeats this often."""
    failure_timeout: float = 5.0
    """An active HA whose last heartbeat is older than this is marked failed (by exactly one
    host) and its subscribers move to the live HAs of its network."""
    recovery_time: float = 10.0
    """A failed HA becomes active again after beating without a gap for this long."""
    reinit_concurrency: int = 8
    """After a takeover, at most this many HA-initiated IKEv2 exchanges in flight per HA."""
    reinit_rate: float = 50.0
    """After a takeover, at most this many HA-initiated IKEv2 exchanges started per second."""
    reinit_timeout: float = 10.0
    """Seconds an HA-initiated exchange may take before that node is given up (it may still
    come back by itself: DPD, re-discovery)."""
    reinit_window: float = 600.0
    """Only nodes whose binding closed on a failed HA this recently are initiated to."""

    def __post_init__(self) -> None:
        for key in ("heartbeat_interval", "failure_timeout", "recovery_time",
                    "reinit_concurrency", "reinit_rate", "reinit_timeout", "reinit_window"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be greater than 0, not {getattr(self, key)!r}")
        if self.failure_timeout <= self.heartbeat_interval:
            raise ValueError(
                f"failure_timeout ({self.failure_timeout}) must be longer than"
                f" heartbeat_interval ({self.heartbeat_interval})"
            )


@dataclass(frozen=True)
class WebConfig:
    """[web]: the operator UI and REST API."""

    enabled: bool = True
    """Serve the operator UI, REST API and /metrics inside bootstrapd."""
    listen: str = "127.0.0.1:8080"
    """Address and TCP port of the HTTP server (IPv6 in brackets)."""
    session_lifetime: float = 8 * 3600.0
    """Seconds a web session lasts after login (sessions are revocable in the store)."""
    session_idle_timeout: float = 3600.0
    """Seconds without a request after which a web session ends."""
    secure_cookies: bool = False
    """Mark cookies Secure; set true when a TLS proxy serves the UI (plain http needs false)."""
    login_attempts: int = 5
    """Failed logins of one name from one address within login_window before it waits.

    The wait doubles with each further lockout of that pair; other addresses (and other
    names from that address) are not held back, except addresses that never logged in
    once failures over all pairs reach 20 x login_attempts in a window.
    """
    login_window: float = 300.0
    """Seconds over which failed logins are counted, and the first wait of a locked pair."""
    api_page_limit: int = 500
    """Largest page size the API and UI accept for list endpoints."""


@dataclass(frozen=True)
class LogConfig:
    """[log]: logging."""

    level: str = field(default="info", metadata=_choice("debug", "info", "warning", "error"))
    """Lowest level of log lines written to stderr."""


@dataclass(frozen=True)
class Settings:
    """The whole configuration; ``path`` is the file it came from, if any."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    dhcp6: Dhcp6Config = field(default_factory=Dhcp6Config)
    dhcp4: Dhcp4Config = field(default_factory=Dhcp4Config)
    dns: DnsConfig = field(default_factory=DnsConfig)
    vici: ViciConfig = field(default_factory=ViciConfig)
    ha: HaConfig = field(default_factory=HaConfig)
    web: WebConfig = field(default_factory=WebConfig)
    log: LogConfig = field(default_factory=LogConfig)
    path: Path | None = None


SECTIONS: dict[str, type[Any]] = {
    f.name: typing.get_type_hints(Settings)[f.name]
    for f in dataclasses.fields(Settings)
    if f.name != "path"
}


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    return True


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is list:
        item = typing.get_args(hint)[0]
        return "a list of " + {str: "strings", int: "integers"}.get(item, str(item))
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )


def _build_section(name: str, cls: type[Any], raw: Any, base: Path, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"{where}: unknown key [{name}] {key} (known keys: {known})")
        hint = hints[key]
        if not _type_ok(value, hint):
            raise ConfigError(f"{where}: [{name}] {key} must be {_type_name(hint)}")
        meta = fields[key].metadata
        unset = value == "" == fields[key].default  # an empty choice key means "not set"
        if "choices" in meta and value not in meta["choices"] and not unset:
            allowed = ", ".join(repr(c) for c in meta["choices"])
            raise ConfigError(f"{where}: [{name}] {key} must be one of {allowed}, not {value!r}")
        if isinstance(hint, type) and hint is float and isinstance(value, int):
            value = float(value)
        if meta.get("path") and isinstance(value, str):
            value = str(base / value) if not os.path.isabs(value) else value
        values[key] = value
    for key, f in fields.items():
        if key not in values and f.metadata.get("path"):
            default = f.default
            if isinstance(default, str) and not os.path.isabs(default):
                values[key] = str(base / default)
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: [{name}] {exc}") from exc


def _resolve_sqlite(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rest = url[len(prefix) :]
        if rest and rest != ":memory:" and not rest.startswith("/"):
            return prefix + str(base / rest)
    return url


def from_mapping(data: dict[str, Any], base: Path, where: str = "config") -> Settings:
    """Build :class:`Settings` from parsed TOML, checking every key."""
    sections: dict[str, Any] = {}
    for name, raw in data.items():
        if name not in SECTIONS:
            known = ", ".join(f"[{s}]" for s in SECTIONS)
            raise ConfigError(f"{where}: unknown section [{name}] (known sections: {known})")
        sections[name] = _build_section(name, SECTIONS[name], raw, base, where)
    for name, cls in SECTIONS.items():
        if name not in sections:
            sections[name] = _build_section(name, cls, {}, base, where)
    db = sections["database"]
    url = os.environ.get(ENV_DATABASE_URL) or _resolve_sqlite(db.url, base)
    sections["database"] = dataclasses.replace(db, url=url)
    return Settings(**sections)


def load(path: str | os.PathLike[str] | None) -> Settings:
    """Read ``path`` (or use the defaults relative to the working directory)."""
    if path is None:
        return from_mapping({}, Path.cwd(), "defaults")
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {where} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {where} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {where} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {where} is not valid TOML: {exc}") from None
    settings = from_mapping(data, p.resolve().parent, where)
    return dataclasses.replace(settings, path=p.resolve())


def with_database(settings: Settings, url: str) -> Settings:
    """``settings`` with the database URL replaced (``--db`` on the command line)."""
    base = settings.path.parent if settings.path else Path.cwd()
    db = dataclasses.replace(settings.database, url=_resolve_sqlite(url, base))
    return dataclasses.replace(settings, database=db)


def split_hostport(value: str, key: str) -> tuple[str, int]:
    """Parse ``host:port`` or ``[v6]:port``; ``key`` names the config key in errors."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{key} must be address:port (IPv6 in brackets), not {value!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ConfigError(f"{key} must be address:port (IPv6 in brackets), not {value!r}")
    return host, int(port)
