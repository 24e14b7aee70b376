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

from .errors import ConfigError

ENV_DATABASE_URL = "BOOTSTRAP_DATABASE_URL"


def _choice(*allowed: str) -> dict[str, Any]:
    return {"choices": allowed}


PATH: dict[str, Any] = {"path": True}


@dataclass(frozen=True)
class DatabaseConfig:
    """[database]: where the store lives."""

    url: str = "sqlite:///bootstrap.db"
    echo: bool = False


@dataclass(frozen=True)
class StoreConfig:
    """[store]: store-wide policy shared by every service."""

    secret_key_file: str = field(default="bootstrap.secret", metadata=PATH)
    """Fernet key that encrypts EAP secrets and private keys (created 0600 if missing)."""
    credentials_dir: str = field(default="credentials", metadata=PATH)
    """Where enrollment writes certificate/key files once (0600)."""
    hoa_quarantine_days: float = 30.0
    """A revoked subscriber's HoA is not handed out again for this long."""
    heartbeat_timeout: float = 90.0
    """Seconds after which a monitored HA without heartbeat counts as not live."""
    snapshot_poll_interval: float = 1.0
    """Seconds between change-version polls of the long-running services."""


@dataclass(frozen=True)
class Dhcp6Config:
    """[dhcp6]: the DHCPv6 home-information responder."""

    enabled: bool = True
    listen: str = "[::]:547"
    interfaces: list[str] = field(default_factory=list)
    allow_unicast: bool = False


@dataclass(frozen=True)
class Dhcp4Config:
    """[dhcp4]: the DHCPv4 home-information responder."""

    enabled: bool = False
    listen: str = "0.0.0.0:67"


@dataclass(frozen=True)
class DnsConfig:
    """[dns]: the RFC 2136 publisher."""

    enabled: bool = False
    server: str = "127.0.0.1:53"
    tsig_key_file: str = field(default="mip6-update.key", metadata=PATH)
    publish: str = field(default="enroll", metadata=_choice("enroll", "registration"))
    ttl: int = 300


@dataclass(frozen=True)
class ViciConfig:
    """[vici]: the strongSwan bridge."""

    enabled: bool = False
    socket: str = "/var/run/charon.vici"
    home_agent: str = "ha1.example.com"
    assign: str = field(default="per-subscriber", metadata=_choice("per-subscriber", "radius"))
    per_subscriber_limit: int = 2000


@dataclass(frozen=True)
class WebConfig:
    """[web]: the operator UI and REST API."""

    enabled: bool = True
    listen: str = "127.0.0.1:8080"


@dataclass(frozen=True)
class LogConfig:
    """[log]: logging."""

    level: str = field(default="info", metadata=_choice("debug", "info", "warning", "error"))


@dataclass(frozen=True)
class Settings:
    """The whole configuration; ``path`` is the file it came from, if any."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    dhcp6: Dhcp6Config = field(default_factory=Dhcp6Config)
    dhcp4: Dhcp4Config = field(default_factory=Dhcp4Config)
    dns: DnsConfig = field(default_factory=DnsConfig)
    vici: ViciConfig = field(default_factory=ViciConfig)
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
        return f"a list of {_type_name(typing.get_args(hint)[0])}s"
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
        if "choices" in meta and value not in meta["choices"]:
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
