"""Radius mode, face side: the FreeRADIUS directory and charon's eap-radius include.

charon (eap-radius) relays each EAP conversation to a FreeRADIUS 3.2 in the
HA's network namespace; FreeRADIUS' rlm_sql reads the store's PostgreSQL
views ``radius_check`` / ``radius_reply`` (migration 0002), so there is no
copy of the subscriber data and no sync lag.  The files come from the Jinja2
templates in ``templates/raddb/``; what they encode, each measured with
FreeRADIUS 3.2.1 and charon 5.9.8 (see the README):

* ``Auth-Type MS-CHAP { mschap }`` in the virtual server: without it
  EAP-MSCHAPv2 fails to initialise and FreeRADIUS does not start;
* the HoA is read in ``post-auth`` only (a second rlm_sql instance sharing
  the pool), so no address leaks into an Access-Challenge;
* an rlm_sql pool as large as the thread pool (32): with ``max = 2``, 15 % of
  logins failed under 50 concurrent MNs;
* ``check_cert_cn = %{User-Name}``: EAP-TLS binds the certificate's CN to the
  EAP identity; the HA's own certificate is the EAP-TLS server certificate,
  because the MN checks that it names the HA's IKE identity;
* ``prefix`` / ``localstatedir`` in radiusd.conf (``freeradius -f`` needs them).

``freeradius -f -d DIR/raddb`` starts the result as is.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from bootstrap.config import Settings
from bootstrap.context import Store
from bootstrap.errors import ConfigError
from bootstrap.services import bundle, credentials, radius

from . import templating
from .settings import ViciSettings, from_settings

Files = bundle.Files
THREADS = 32
"""FreeRADIUS threads, rlm_sql connections and charon eap-radius sockets: one each per request."""


def radius_secret(path: Path) -> str:
    """The charon <-> FreeRADIUS shared secret, created (0600) on first use."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(24)
        credentials.write_private(path, (value + "\n").encode())
    except OSError as exc:
        raise ConfigError(
            f"[vici] radius_secret_file {path} cannot be read: {exc.strerror}"
        ) from None
    if not value:
        raise ConfigError(f"[vici] radius_secret_file {path} is empty")
    return value


def conninfo(url: str, user: str = "") -> str:
    """A libpq conninfo string for ``[database] url`` (Unix-socket hosts included)."""
    u = make_url(url)
    if u.get_backend_name() != "postgresql":
        raise ConfigError(
            "radius mode needs a PostgreSQL store: FreeRADIUS reads its views;"
            f" [database] url uses {u.get_backend_name()!r}"
        )
    raw = u.query.get("host") or u.host or "/var/run/postgresql"
    hosts = list(raw) if isinstance(raw, tuple) else str(raw).split(",")
    port: object = u.port
    if any(":" in h and not h.startswith("/") for h in hosts):  # h1:p1,h2:p2 (multi-host)
        pairs = [h.rpartition(":") if ":" in h else (h, "", "5432") for h in hosts]
        hosts = [p[0] for p in pairs]
        port = ",".join(p[2] for p in pairs)
    attrs = u.query.get("target_session_attrs")
    parts = {
        "host": ",".join(hosts),
        "port": port,
        "dbname": u.database,
        "user": user or u.username,
        "password": None if user else u.password,
        "target_session_attrs": attrs if isinstance(attrs, str) else None,
    }
    out = []
    for key, value in parts.items():
        if value in (None, ""):
            continue
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        out.append(f"{key}='{text}'" if " " in text or not text else f"{key}={text}")
    return " ".join(out)


@dataclass(frozen=True, slots=True)
class RadiusOptions:
    home_agent: str
    home_agent_id: int
    conninfo: str = field(repr=False)
    secret: str = field(repr=False)
    address: str = "::1"
    port: int = 1812


def _loopbacks(address: str) -> list[str]:
    """Where FreeRADIUS listens and charon may come from (both loopbacks for ``::1``)."""
    return [address] + (["127.0.0.1"] if address == "::1" else [])


def raddb_files(
    opts: RadiusOptions, ca_pem: str, server_cert_pem: str, server_key_pem: bytes
) -> Files:
    """``raddb/...`` relative to the output dir (pure)."""
    common = {
        "ha": opts.home_agent.replace("'", ""),
        "threads": THREADS,
        "loopbacks": _loopbacks(opts.address),
        "port": opts.port,
        "secret": opts.secret,
        "conninfo": opts.conninfo,
        "home_agent_id": int(opts.home_agent_id),
    }

    def text(name: str) -> bytes:
        return templating.render(f"raddb/{name}.j2", **common).encode()

    return {
        "raddb/radiusd.conf": (text("radiusd.conf"), 0o644),
        "raddb/clients.conf": (text("clients.conf"), 0o600),
        "raddb/mods-enabled/sql": (text("sql"), 0o600),
        "raddb/mods-enabled/eap": (text("eap"), 0o644),
        "raddb/mods-enabled/mschap": (text("mschap"), 0o644),
        "raddb/mods-enabled/always": (text("always"), 0o644),
        "raddb/sites-enabled/mip6": (text("site-mip6"), 0o644),
        "raddb/certs/ca.pem": (ca_pem.encode(), 0o644),
        "raddb/certs/server.cert.pem": (server_cert_pem.encode(), 0o644),
        "raddb/certs/server.key.pem": (server_key_pem, 0o600),
    }


def eap_radius_conf(opts: RadiusOptions) -> str:
    """``strongswan.d/eap-radius.conf``: include it from charon's strongswan.conf."""
    return templating.render(
        "eap-radius.conf.j2",
        ha=opts.home_agent,
        address=opts.address,
        port=opts.port,
        secret=opts.secret,
        threads=THREADS,
    )


def options(store: Store, settings: Settings, vici: ViciSettings | None = None) -> RadiusOptions:
    """The options of this HA (``[vici] home_agent``) from the store and the config."""
    v = vici or from_settings(settings)
    return RadiusOptions(
        home_agent=v.home_agent,
        home_agent_id=radius.home_agent_id(store, v.home_agent),
        # a local standby when [database] read_url names one: IKE logins only read the views
        conninfo=conninfo(settings.database.read_url or settings.database.url, v.radius_db_user),
        secret=radius_secret(Path(v.radius_secret_file)),
        address=v.radius_address,
        port=v.radius_port,
    )


def config_files(store: Store, settings: Settings) -> Files:
    """Everything ``bootstrapctl radius config`` writes, relative to ``--out``."""
    opts = options(store, settings)
    ha = bundle.ha_credentials(store, settings, opts.home_agent)
    radius.fill_nt_hashes(store, settings)
    files = raddb_files(opts, ha.ca_pem, ha.cert_pem, ha.key_pem)
    files["strongswan.d/eap-radius.conf"] = (eap_radius_conf(opts).encode(), 0o600)
    return files


def write_config(store: Store, settings: Settings, out: Path) -> list[Path]:
    """Write the FreeRADIUS directory, ``run/``, ``log/`` and the charon include."""
    written = bundle.write_bundle(out, config_files(store, settings))
    for sub in ("run", "log"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(out / sub, 0o750)
    return written
