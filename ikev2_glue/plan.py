"""What charon should hold for this HA: pure VICI dicts and the diff to get there.

Per-subscriber mode: one single-address pool per HoA, one EAP secret (EAP
subscribers) and one connection whose remote identity is the subscriber's,
so charon hands each identity exactly its stored HoA (a shared range pool
would hand out addresses in request order).  Radius mode: one generic
connection with ``pools = radius``; FreeRADIUS puts the HoA into the
Access-Accept.  Proposals, traffic selectors and identities come from
:mod:`.profile`, the same values the MN bundle is written from.

The bridge remembers a fingerprint of what it loaded per subscriber;
:func:`plan_sync` compares that with the desired loadouts and returns only
the changes, so syncing twice changes nothing.  Names are derived from the
subscriber's store id (``sub-<id>``, ``hoa-<id>``, ``hoa4-<id>``,
``eap-<id>``): short names keep VICI messages small at scale (a 10,000
subscriber push is 30,000 VICI messages).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bootstrap.domain import AuthMethod

from . import profile

RADIUS_CONN = "mip6-radius"
CONN_PREFIX = "sub-"
FQDN_CONN_PREFIX = "subf-"


@dataclass(frozen=True, slots=True)
class HaSide:
    """This home agent as charon presents it."""

    fqdn: str
    address: str
    cert_pem: str
    ca_pem: str
    ike_id: str = ""
    """IKE identity (IDr), :func:`.profile.ha_identity`: the network's domain, shared
    by its HAs so a redirected MN accepts the new HA."""
    dual_stack: bool = True
    """Also tunnel IPv4 (local_ts 0.0.0.0/0) for subscribers with an IPv4 HoA."""
    fqdn_ids: bool = False
    """Also accept the subscriber's FQDN as IDi (RFC 5026 ID_FQDN): a second
    connection per subscriber, which doubles the connections charon scans."""


@dataclass(frozen=True, slots=True)
class SubscriberCreds:
    """One subscriber of this HA with what charon needs to authenticate it."""

    id: int
    identity: str
    fqdn: str
    auth: AuthMethod
    """EAP-MSCHAPv2 secret or certificate from the store's CA."""
    active: bool
    hoa6: str | None
    hoa4: str | None = None
    eap_secret: str | None = field(default=None, repr=False)


def conn_name(sub_id: int) -> str:
    return f"{CONN_PREFIX}{sub_id}"


def fqdn_conn_name(sub_id: int) -> str:
    return f"{FQDN_CONN_PREFIX}{sub_id}"


def sub_id_of_conn(name: str) -> int | None:
    """The subscriber id a per-subscriber connection name stands for."""
    for prefix in (CONN_PREFIX, FQDN_CONN_PREFIX):
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            return int(rest) if rest.isdigit() else None
    return None


def pool_names(sub_id: int) -> tuple[str, str]:
    return f"hoa-{sub_id}", f"hoa4-{sub_id}"


def secret_id(sub_id: int) -> str:
    return f"eap-{sub_id}"


def local_ts(with_v4: bool) -> list[str]:
    """The MN tunnels everything to its HA (:func:`.profile.tunnelled`)."""
    return list(profile.tunnelled(with_v4))


def _local_auth(ha: HaSide) -> dict[str, Any]:
    ike_id = profile.ha_identity(ha.ike_id, ha.fqdn)
    return {"auth": "pubkey", "id": ike_id, "certs": [ha.cert_pem]}


def _child(p: profile.IkeProfile, with_v4: bool) -> dict[str, Any]:
    return {
        p.ha_child: {
            "local_ts": local_ts(with_v4),
            "remote_ts": ["dynamic"],
            "esp_proposals": list(p.esp_proposals),
            "mode": p.mode,
        }
    }


def _conn_common(p: profile.IkeProfile, ha: HaSide, with_v4: bool) -> dict[str, Any]:
    """What every HA connection shares with the MN's side of the profile."""
    return {
        "version": str(p.version),
        "local_addrs": [ha.address],
        "proposals": list(p.ike_proposals),
        "send_certreq": profile.yes_no(p.send_certreq),
        "send_cert": p.send_cert,
        "mobike": profile.yes_no(p.mobike),
        "local-1": _local_auth(ha),
        "children": _child(p, with_v4),
    }


@dataclass(frozen=True, slots=True)
class Loadout:
    """Everything one subscriber needs in charon (per-subscriber mode)."""

    sub_id: int
    identity: str
    pools: dict[str, dict[str, Any]]
    conn: dict[str, Any]
    shared: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def fingerprint(self) -> str:
        """Stable digest of the loadout: equal digests need no reload."""
        blob = json.dumps([self.pools, self.conn, self.shared], sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def subscriber_loadout(ha: HaSide, sub: SubscriberCreds) -> Loadout | None:
    """The pools, secret and connection of one active subscriber, or None.

    None means "nothing to load": inactive, no IPv6 HoA, or an EAP
    subscriber whose secret is unknown.
    """
    if not sub.active or sub.hoa6 is None:
        return None
    v6_pool, v4_pool = pool_names(sub.id)
    pools = {v6_pool: {"addrs": f"{sub.hoa6}/128"}}
    with_v4 = sub.hoa4 is not None and ha.dual_stack
    if with_v4:
        pools[v4_pool] = {"addrs": f"{sub.hoa4}/32"}
    shared: dict[str, Any] | None = None
    remote = {"auth": profile.ha_remote_auth(sub.auth), "id": sub.identity}
    if sub.auth is AuthMethod.EAP:
        if not sub.eap_secret:
            return None
        shared = {
            "id": secret_id(sub.id),
            "type": "EAP",
            "data": sub.eap_secret,
            "owners": [sub.identity],
        }
    body = {
        **_conn_common(profile.current(), ha, with_v4),
        "pools": list(pools),
        "unique": "replace",
        "remote-1": remote,
    }
    conn = {conn_name(sub.id): body}
    if ha.fqdn_ids:
        # same pools and auth; IDi (and, without an EAP-Identity round, the EAP
        # identity that MSCHAPv2 hashes) = the FQDN, so the secret is owned by both
        conn[fqdn_conn_name(sub.id)] = {**body, "remote-1": {**remote, "id": sub.fqdn}}
        if shared is not None:
            shared["owners"] = [sub.identity, sub.fqdn]
    return Loadout(sub.id, sub.identity, pools, conn, shared)


def radius_conn(ha: HaSide) -> dict[str, Any]:
    """The one generic connection of radius mode: any IDi, FreeRADIUS decides.

    ``eap_id = %any`` makes charon ask for the EAP identity (EAP-Identity
    round), which is what FreeRADIUS looks up; ``pools = radius`` takes the
    HoA from the Access-Accept's Framed-IPv6-Address / Framed-IP-Address.
    """
    return {
        RADIUS_CONN: {
            **_conn_common(profile.current(), ha, ha.dual_stack),
            "pools": ["radius"],
            "remote-1": {"auth": "eap-radius", "id": "%any", "eap_id": "%any"},
        }
    }


@dataclass(frozen=True, slots=True)
class Removal:
    """A subscriber charon must forget (suspended, revoked, moved, deleted)."""

    sub_id: int

    @property
    def conn(self) -> str:
        return conn_name(self.sub_id)

    @property
    def conns(self) -> tuple[str, str]:
        return conn_name(self.sub_id), fqdn_conn_name(self.sub_id)


@dataclass(frozen=True, slots=True)
class SyncPlan:
    load: tuple[Loadout, ...]
    remove: tuple[Removal, ...]

    @property
    def empty(self) -> bool:
        return not self.load and not self.remove


def desired_loadouts(ha: HaSide, subs: Iterable[SubscriberCreds]) -> dict[int, Loadout]:
    out: dict[int, Loadout] = {}
    for sub in subs:
        lo = subscriber_loadout(ha, sub)
        if lo is not None:
            out[sub.id] = lo
    return out


def plan_sync(loaded: Mapping[int, str], desired: Mapping[int, Loadout]) -> SyncPlan:
    """Changes that turn ``loaded`` (sub id -> fingerprint) into ``desired``."""
    load = tuple(
        lo for sid, lo in sorted(desired.items()) if loaded.get(sid) != lo.fingerprint
    )
    remove = tuple(Removal(sid) for sid in sorted(loaded) if sid not in desired)
    return SyncPlan(load, remove)


UNKNOWN = "unknown"
"""Fingerprint of a connection found in charon but not loaded by this bridge: re-pushed."""


@dataclass(frozen=True, slots=True)
class Resync:
    """What to do with the connections a (re)connected charon already holds."""

    loaded: dict[int, str]
    """Per-subscriber mode: sub id -> :data:`UNKNOWN` for each subscriber found, so the
    next :func:`plan_sync` re-pushes the wanted ones and removes the rest."""
    unload: tuple[str, ...]
    """Connections to unload now (an FQDN connection no longer wanted, the other mode's)."""
    remove: tuple[Removal, ...]
    """Radius mode: subscribers a per-subscriber bridge left behind."""


def plan_resync(existing: Iterable[str], radius_mode: bool, fqdn_ids: bool) -> Resync:
    """Whatever an earlier bridge (or the other mode) left in charon is re-pushed or removed."""
    names = list(existing)
    found: dict[int, str] = {}
    unload: list[str] = []
    for name in names:
        sid = sub_id_of_conn(name)
        if sid is None:
            continue
        found[sid] = UNKNOWN
        if name.startswith(FQDN_CONN_PREFIX) and not fqdn_ids:
            unload.append(name)
    if radius_mode:
        return Resync({}, tuple(unload), tuple(Removal(sid) for sid in sorted(found)))
    if RADIUS_CONN in names:
        unload.append(RADIUS_CONN)
    return Resync(found, tuple(unload), ())
