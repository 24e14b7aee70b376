"""``bootstrapctl db status``: the store's primary, its standbys' lag, and stale services.

The first two come from PostgreSQL (:mod:`bootstrap.services.store_status`);
since when a service of this host's ``bootstrapd`` runs on stale data lives
in that process, so it is read from its ``/healthz`` at ``[web] listen``
(no login needed).  Either part may be unavailable; each says so in a line
and the exit code is 1 when the store cannot be reached.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from ..config import Settings, split_hostport
from .common import emit_json, json_option, kv, state


def daemon_health(settings: Settings, timeout: float = 2.0) -> dict[str, Any] | str:
    """``bootstrapd``'s /healthz document, or one sentence why there is none."""
    import urllib.error  # here: every other command starts without it
    import urllib.request

    if not settings.web.enabled:
        return "[web] is not enabled, so bootstrapd's staleness cannot be asked for"
    host, port = split_hostport(settings.web.listen, "[web] listen")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1" if host != "::" else "::1"
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with urllib.request.urlopen(f"http://{where}/healthz", timeout=timeout) as resp:
            body = resp.read()
    except urllib.error.HTTPError as exc:  # 503: the store is away, the body still says why
        body = exc.read()
    except (OSError, ValueError) as exc:
        return f"bootstrapd does not answer at {where} ({getattr(exc, 'reason', exc)})"
    try:
        doc = json.loads(body)
    except ValueError:
        return f"bootstrapd at {where} answered something else than its health document"
    return doc if isinstance(doc, dict) else f"bootstrapd at {where} answered no document"


@click.command("status")
@json_option
def db_status(as_json: bool) -> int:
    """Show the store's primary, the lag of its standbys and services running on stale data."""
    from ..services import store_status
    from ..store.retry import lost_connection, reason

    st = state()
    store = st.store(check_schema=False)
    daemon = daemon_health(st.settings)
    error = None
    status = None
    try:
        status = store_status.status(store)
    except Exception as exc:
        if not lost_connection(exc):
            raise
        error = f"store unavailable: {reason(exc)}"
    services = daemon.get("services", {}) if isinstance(daemon, dict) else {}
    if as_json:
        doc = dataclasses.asdict(status) if status is not None else None
        emit_json({"store": doc, "error": error, "daemon": daemon})
        return 1 if error else 0
    rows: list[tuple[str, Any]] = []
    if status is not None and status.primary is None:
        rows.append(("store", f"sqlite {status.path}"))
    elif status is not None and status.primary is not None:
        p = status.primary
        role = "standby (read-only!)" if p.in_recovery else "primary"
        rows.append(("writes go to", f"{p.address} ({role}, PostgreSQL {p.version})"))
        for sb in status.standbys:
            lag = "none" if sb.replay_lag_seconds is None else f"{sb.replay_lag_seconds:.1f} s"
            rows.append((f"standby {sb.name}", f"{sb.address or 'local'} {sb.state}"
                         f" {sb.sync_state}, replay lag {lag}, {sb.lag_bytes or 0} bytes behind"))
        if not status.standbys and not p.in_recovery:
            rows.append(("standbys", "none connected"))
        if status.read_server is not None:
            r = status.read_server
            delay = "-" if r.replay_delay_seconds is None else f"{r.replay_delay_seconds:.1f} s"
            rows.append(("reads go to", f"{r.address} ({'standby' if r.in_recovery else 'primary'}"
                         f", last replayed transaction {delay} old)"))
    if error:
        rows.append(("store", error))
    if isinstance(daemon, str):
        rows.append(("bootstrapd", daemon))
    elif not services:
        rows.append(("bootstrapd", f"{daemon.get('status', '?')}, no service reports staleness"))
    for name, f in sorted(services.items()):
        if f.get("stale_since"):
            line = (f"stale since {f['stale_since']} ({f['stale_seconds']} s)"
                    f"{': ' + f['detail'] if f.get('detail') else ''}")
        else:
            line = f"fresh (data {f.get('data_age_seconds')} s old)"
        rows.append((f"service {name}", line))
    kv(rows)
    return 1 if error else 0
