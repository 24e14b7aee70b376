"""Radius mode, store side: NT hashes and the generated FreeRADIUS + charon config.

In radius mode charon asks FreeRADIUS 3.2, whose rlm_sql reads the store's
PostgreSQL views ``radius_check`` / ``radius_reply`` (migration 0002) — no
copy of the subscriber data, no sync lag.  EAP-MSCHAPv2 needs the NT hash
(MD4 of the UTF-16LE secret) of each secret subscriber: Python's hashlib has
no MD4 under OpenSSL 3 and ``cryptography`` has none at all, so it comes
from pycryptodomex (actively maintained, MD4 in C, independent of OpenSSL's
legacy provider; passlib, the other option, is unmaintained).

:func:`raddb_files` is a pure function from options to files; it encodes
every lesson of REPORT-radius.md: ``0x`` hex NT hashes (P1), an
``Auth-Type MS-CHAP`` section (P2), the HoA read only in post-auth (P3), an
rlm_sql pool as large as the thread pool (P4), ``check_cert_cn`` (P7),
``prefix``/``localstatedir`` (P9), and the HA's own certificate as EAP-TLS
server certificate (P6).  ``freeradius -f -d DIR/raddb`` starts it as is.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from Cryptodome.Hash import MD4
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ..config import Settings
from ..errors import ConfigError, NotFound
from ..store.engine import Store
from ..store.models import HomeAgent, Subscriber
from . import bundle, credentials

Files = dict[str, tuple[bytes, int]]
THREADS = 32


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


def radius_secret(settings: Settings) -> str:
    """The charon <-> FreeRADIUS shared secret, created (0600) on first use."""
    path = Path(settings.vici.radius_secret_file)
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
    host = u.query.get("host") or u.host or "/var/run/postgresql"
    if isinstance(host, tuple):
        host = host[0]
    parts = {
        "host": host,
        "port": u.port,
        "dbname": u.database,
        "user": user or u.username,
        "password": None if user else u.password,
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


def _listen(address: str, port: int) -> str:
    key = "ipv6addr" if ":" in address else "ipaddr"
    return f"""    listen {{
        type = auth
        {key} = {address}
        port = {port}
    }}"""


def _client(name: str, address: str, secret: str) -> str:
    key = "ipv6addr" if ":" in address else "ipaddr"
    return f"""client {name} {{
    {key} = {address}
    secret = "{secret}"
    shortname = {name}
    require_message_authenticator = yes
}}
"""


def _q(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def raddb_files(
    opts: RadiusOptions, ca_pem: str, server_cert_pem: str, server_key_pem: bytes
) -> Files:
    """``raddb/...`` plus empty ``run/`` and ``log/`` markers, relative to the output dir."""
    ha = opts.home_agent.replace("'", "")
    loopbacks = [opts.address] + (["127.0.0.1"] if opts.address == "::1" else [])
    radiusd = f"""# generated by 'bootstrapctl radius config' for home agent {ha}
# start: freeradius -f -d <this directory>   (-X for debugging)
name = freeradius
prefix = /usr
localstatedir = /var
libdir = /usr/lib/freeradius
certdir = ${{confdir}}/certs
modconfdir = ${{confdir}}/mods-config
run_dir = ${{confdir}}/../run
logdir = ${{confdir}}/../log
pidfile = ${{run_dir}}/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no
log {{
    destination = files
    file = ${{logdir}}/radius.log
    auth = no
    auth_badpass = no
    auth_goodpass = no
}}
security {{
    # runs as the invoking user; to run as freerad add user/group here and chown
    # certs/server.key.pem, ../run and ../log to freerad
    allow_core_dumps = no
    max_attributes = 200
    reject_delay = 1
    status_server = yes
}}
proxy_requests = no
thread pool {{
    start_servers = 8
    max_servers = {THREADS}
    min_spare_servers = 4
    max_spare_servers = 16
    max_requests_per_server = 0
    auto_limit_acct = no
}}
$INCLUDE clients.conf
modules {{
    $INCLUDE mods-enabled/
}}
$INCLUDE sites-enabled/
"""
    clients = "# the only client: charon on this HA\n" + "".join(
        _client(f"charon{i}", a, _q(opts.secret)) for i, a in enumerate(loopbacks)
    )
    db = _q(opts.conninfo)
    where = (
        f"WHERE username = '%{{SQL-User-Name}}' AND home_agent_id = {int(opts.home_agent_id)}"
        " ORDER BY id"
    )
    sql = f"""# rlm_sql over the store's views (migration 0002); two instances, one pool
sql {{
    dialect = "postgresql"
    driver = "rlm_sql_postgresql"
    postgresql {{
        send_application_name = yes
    }}
    radius_db = "{db}"
    read_groups = no
    read_profiles = no
    read_clients = no
    pool {{
        start = 8
        min = 4
        max = {THREADS}
        spare = 16
        uses = 0
        retry_delay = 1
        lifetime = 0
        idle_timeout = 0
        connect_timeout = 3.0
    }}
    sql_user_name = "%{{User-Name}}"
    authorize_check_query = "SELECT id, username, attribute, value, op FROM radius_check {where}"
}}
sql sql_hoa {{
    dialect = "postgresql"
    driver = "rlm_sql_postgresql"
    radius_db = "{db}"
    pool = sql
    read_groups = no
    read_profiles = no
    sql_user_name = "%{{User-Name}}"
    authorize_reply_query = "SELECT id, username, attribute, value, op FROM radius_reply {where}"
}}
"""
    eap = """eap {
    default_eap_type = mschapv2
    timer_expire = 60
    ignore_unknown_eap_types = no
    cisco_accounting_username_bug = no
    max_sessions = ${max_requests}
    tls-config tls-common {
        certificate_file = ${certdir}/server.cert.pem
        private_key_file = ${certdir}/server.key.pem
        ca_file = ${certdir}/ca.pem
        check_cert_cn = %{User-Name}
        cipher_list = "DEFAULT"
        cipher_server_preference = yes
        ecdh_curve = "prime256v1"
        tls_min_version = "1.2"
        tls_max_version = "1.2"
        fragment_size = 1024
        include_length = yes
        cache {
            enable = no
        }
        ocsp {
            enable = no
        }
    }
    tls {
        tls = tls-common
    }
    mschapv2 {
        send_error = no
    }
}
"""
    mschap = """mschap {
    use_mppe = yes
    require_encryption = no
    require_strong = no
}
"""
    always = """always reject {
    rcode = reject
}
always ok {
    rcode = ok
}
"""
    listens = "\n".join(_listen(a, opts.port) for a in loopbacks)
    site = f"""server mip6 {{
{listens}
    authorize {{
        sql
        if (notfound) {{
            reject
        }}
        eap {{
            ok = return
        }}
    }}
    authenticate {{
        Auth-Type EAP {{
            eap
        }}
        Auth-Type MS-CHAP {{
            mschap
        }}
    }}
    post-auth {{
        sql_hoa.authorize
        if (notfound) {{
            reject
        }}
        Post-Auth-Type REJECT {{
            ok
        }}
        Post-Auth-Type Challenge {{
            update reply {{
                &Framed-IPv6-Address !* ANY
                &Framed-IP-Address !* ANY
            }}
        }}
    }}
}}
"""
    return {
        "raddb/radiusd.conf": (radiusd.encode(), 0o644),
        "raddb/clients.conf": (clients.encode(), 0o600),
        "raddb/mods-enabled/sql": (sql.encode(), 0o600),
        "raddb/mods-enabled/eap": (eap.encode(), 0o644),
        "raddb/mods-enabled/mschap": (mschap.encode(), 0o644),
        "raddb/mods-enabled/always": (always.encode(), 0o644),
        "raddb/sites-enabled/mip6": (site.encode(), 0o644),
        "raddb/certs/ca.pem": (ca_pem.encode(), 0o644),
        "raddb/certs/server.cert.pem": (server_cert_pem.encode(), 0o644),
        "raddb/certs/server.key.pem": (server_key_pem, 0o600),
    }


def eap_radius_conf(opts: RadiusOptions) -> str:
    """``strongswan.d/eap-radius.conf``: include it from charon's strongswan.conf."""
    return f"""# generated by 'bootstrapctl radius config' for home agent {opts.home_agent}
# include from strongswan.conf; charon must also load eap-identity and eap-radius
charon {{
  plugins {{
    eap-radius {{
      servers {{
        mip6 {{
          address = {opts.address}
          auth_port = {opts.port}
          secret = {opts.secret}
          sockets = 32
        }}
      }}
      accounting = no
      station_id_with_port = yes
      retransmit_tries = 4
      retransmit_timeout = 2.0
    }}
  }}
}}
"""


def options(store: Store, settings: Settings) -> RadiusOptions:
    v = settings.vici
    fqdn = v.home_agent.lower().rstrip(".")
    with store.session() as s:
        ha_id = s.scalars(select(HomeAgent.id).where(HomeAgent.fqdn == fqdn)).first()
    if ha_id is None:
        raise NotFound(f"home agent {fqdn!r} ([vici] home_agent) does not exist")
    return RadiusOptions(
        home_agent=fqdn,
        home_agent_id=ha_id,
        conninfo=conninfo(settings.database.url, v.radius_db_user),
        secret=radius_secret(settings),
        address=v.radius_address,
        port=v.radius_port,
    )


def config_files(store: Store, settings: Settings) -> Files:
    """Everything ``bootstrapctl radius config`` writes, relative to ``--out``."""
    opts = options(store, settings)
    ha = bundle.ha_credentials(store, settings, opts.home_agent)
    fill_nt_hashes(store, settings)
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
