"""Credential bundles, store side: what the MN's bundle and the HA's charon are made of.

The strongSwan face (``ikev2_glue``) writes the files; this module only reads
the store and hands out plain values:

* :func:`mn_bundle_input` gathers one subscriber's bundle ingredients
  (:class:`MnBundleInput`); :func:`issue_once` is the one rule "a bundle,
  which holds the subscriber's secret, is handed out once, audited": one
  guarded UPDATE of ``subscribers.bundle_issued_at`` decides, whichever
  face asks (web page, REST API, ``bootstrapctl export``), and the face
  passes the renderer in, so this module knows nothing of swanctl.
* :func:`ha_credentials` gives the HA its certificate (CN and dNSName = the
  HA's FQDN, issued once by the store's CA and kept encrypted in the store),
  used by charon and, in radius mode, as FreeRADIUS' EAP-TLS server
  certificate (the MN checks that it names the HA).
* :func:`ha_subscribers` lists the subscribers assigned to one HA with their
  decrypted EAP secrets, for the per-subscriber sync.  Secrets never reach
  a log.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from ..config import Settings
from ..domain import AuthMethod, SubscriberState, dns_name
from ..errors import Conflict, NotFound, ValidationError
from ..store.engine import Store
from ..store.models import HomeAgent, Setting, Subscriber, utcnow
from . import audit, credentials
from .actor import Actor

Files = dict[str, tuple[bytes, int]]
"""A directory as ``{relative path: (content, file mode)}``."""
HA_CERT_DAYS = 825
ACTION = "subscriber.bundle"
"""The audit action of a handed-out bundle."""


@dataclass(frozen=True, slots=True)
class HaCredentials:
    fqdn: str
    cert_pem: str
    key_pem: bytes = field(repr=False)
    ca_pem: str
    ike_id: str = ""
    """The IKE identity all HAs of the network present: the network's domain."""


def _setting_keys(fqdn: str) -> tuple[str, str]:
    return f"ha.{fqdn}.cert", f"ha.{fqdn}.key"


def _issue_ha_cert(store: Store, settings: Settings, fqdn: str, domain: str) -> tuple[str, bytes]:
    """The HA's server certificate: its FQDN and its network's domain (the shared IKE identity)."""
    names: list[x509.GeneralName] = [x509.DNSName(fqdn), x509.DNSName(domain)]
    with store.session() as s:
        issued = credentials.issue_leaf(
            s, settings, fqdn, names, ExtendedKeyUsageOID.SERVER_AUTH, HA_CERT_DAYS
        )
    return issued.cert_pem.decode(), issued.key_pem


def ha_credentials(store: Store, settings: Settings, fqdn: str) -> HaCredentials:
    """The HA's certificate and key, issued by the store's CA on first use.

    The certificate names the HA's FQDN and its network's domain; the domain
    is the IKE identity every HA of the network presents, so an MN
    redirected to another HA of its network (RFC 5685) still accepts it.
    """
    fqdn = dns_name(fqdn)
    cert_key, key_key = _setting_keys(fqdn)
    ca_pem = credentials.ca_cert_pem(store)
    if ca_pem is None:
        raise NotFound("the store has no CA yet; run 'bootstrapctl ca init' first")
    with store.session() as s:
        ha = s.scalars(select(HomeAgent).where(HomeAgent.fqdn == fqdn)).first()
        if ha is None:
            raise NotFound(f"home agent {fqdn!r} does not exist (see 'bootstrapctl ha list')")
        domain = ha.network.domain
        cert_row, key_row = s.get(Setting, cert_key), s.get(Setting, key_key)
        if cert_row is not None and key_row is not None and cert_row.value and key_row.blob:
            key_pem = credentials.decrypt(settings, key_row.blob)
            return HaCredentials(fqdn, cert_row.value, key_pem, ca_pem, domain)
    cert_pem, key_pem = _issue_ha_cert(store, settings, fqdn, domain)
    with store.session() as s:
        cert_row, key_row = s.get(Setting, cert_key), s.get(Setting, key_key)
        if cert_row is not None and key_row is not None and cert_row.value and key_row.blob:
            # another host issued it meanwhile: use that one
            return HaCredentials(
                fqdn, cert_row.value, credentials.decrypt(settings, key_row.blob), ca_pem, domain
            )
        s.merge(Setting(key=cert_key, value=cert_pem))
        s.merge(Setting(key=key_key, blob=credentials.encrypt(settings, key_pem)))
    return HaCredentials(fqdn, cert_pem, key_pem, ca_pem, domain)


@dataclass(frozen=True, slots=True)
class SubscriberCredentials:
    """One subscriber as charon and the MN need it (secret in clear: keep in memory)."""

    id: int
    identity: str
    fqdn: str
    auth: AuthMethod
    state: SubscriberState
    hoa6: str | None
    hoa4: str | None
    eap_secret: str | None = field(default=None, repr=False)
    cert_pem: str | None = None
    key_pem: bytes | None = field(default=None, repr=False)


def _creds(settings: Settings, row: Subscriber, with_key: bool = False) -> SubscriberCredentials:
    live = [a for a in row.addresses if a.released_at is None]
    v6 = [a.address for a in live if a.family == 6]
    v4 = [a.address for a in live if a.family == 4]
    secret = None
    if row.secret_enc:
        secret = credentials.decrypt_secret(settings, row.secret_enc)
    key = credentials.decrypt(settings, row.key_enc) if with_key and row.key_enc else None
    return SubscriberCredentials(
        id=row.id,
        identity=row.identity,
        fqdn=row.fqdn,
        auth=AuthMethod(row.auth),
        state=SubscriberState(row.state),
        hoa6=v6[0] if v6 else None,
        hoa4=v4[0] if v4 else None,
        eap_secret=secret,
        cert_pem=row.cert_pem,
        key_pem=key,
    )


def ha_subscribers(store: Store, settings: Settings, fqdn: str) -> list[SubscriberCredentials]:
    """The active subscribers assigned to HA ``fqdn`` (what its charon must accept)."""
    with store.session() as s:
        q = (
            select(Subscriber)
            .join(HomeAgent, HomeAgent.id == Subscriber.home_agent_id)
            .where(HomeAgent.fqdn == dns_name(fqdn), Subscriber.state == "active")
            .options(selectinload(Subscriber.addresses))
            .order_by(Subscriber.id)
        )
        return [_creds(settings, row) for row in s.scalars(q)]


@dataclass(frozen=True, slots=True)
class MnBundleInput:
    """Everything an MN bundle is made of, as the store holds it."""

    sub: SubscriberCredentials
    ha_fqdn: str
    ha_address: str
    ca_pem: str
    ha_id: str = ""
    """The network's domain (the HAs' shared IKE identity); empty: unknown."""
    issued_at: dt.datetime | None = None
    """When the bundle was handed out already (None: never)."""


Renderer = Callable[[MnBundleInput], Files]
"""What turns the ingredients into files: the strongSwan face's, passed in by the caller."""


def mn_bundle_input(store: Store, settings: Settings, identity: str) -> MnBundleInput:
    """Read what an MN bundle needs for ``identity`` from the store."""
    ca_pem = credentials.ca_cert_pem(store)
    if ca_pem is None:
        raise NotFound("the store has no CA yet; run 'bootstrapctl ca init' first")
    with store.session() as s:
        row = s.scalars(
            select(Subscriber)
            .where(Subscriber.identity == identity.strip())
            .options(selectinload(Subscriber.addresses))
        ).first()
        if row is None:
            raise NotFound(f"subscriber {identity.strip()!r} does not exist")
        if row.state != "active":
            raise ValidationError(
                f"subscriber {row.identity!r} is {row.state}; only active subscribers get a bundle"
            )
        ha = s.get(HomeAgent, row.home_agent_id) if row.home_agent_id else None
        if ha is None:
            raise NotFound(f"subscriber {row.identity!r} has no home agent")
        creds = _creds(settings, row, with_key=True)
        return MnBundleInput(
            creds, ha.fqdn, ha.address, ca_pem, row.network.domain, row.bundle_issued_at
        )


def issued(store: Store, identity: str) -> bool:
    """Whether ``identity``'s bundle was handed out already (the UI hides the button)."""
    with store.session() as s:
        at = s.scalars(
            select(Subscriber.bundle_issued_at).where(Subscriber.identity == identity.strip())
        ).first()
    return at is not None


@dataclass(frozen=True, slots=True)
class IssuedBundle:
    input: MnBundleInput
    files: Files = field(repr=False)
    again: bool = False
    """An operator override re-issued a bundle handed out before."""


def issue_once(
    store: Store,
    settings: Settings,
    actor: Actor,
    identity: str,
    render: Renderer,
    again: bool = False,
) -> IssuedBundle:
    """Render ``identity``'s bundle and mark it handed out, or refuse if it was already.

    The bundle is rendered first (a subscriber without a stored secret is
    refused before anything is marked); then one guarded UPDATE (``WHERE
    bundle_issued_at IS NULL``) and the audit entry commit together, so of
    two concurrent requests exactly one gets the files.  ``again`` is the
    operator's explicit override (``bootstrapctl export --again``): it
    re-issues and is audited as such.
    """
    inp = mn_bundle_input(store, settings, identity)
    ident = inp.sub.identity
    refused = Conflict(
        f"the configuration bundle of {ident!r} was already downloaded once;"
        " revoke and re-enroll the subscriber to issue a new credential"
        " (or re-export it with 'bootstrapctl export --again')"
    )
    if inp.issued_at is not None and not again:
        raise refused  # early answer; the guarded UPDATE below is what decides
    files = render(inp)
    with store.session() as s:
        q = update(Subscriber).where(Subscriber.id == inp.sub.id)
        if not again:
            q = q.where(Subscriber.bundle_issued_at.is_(None))
        result = s.execute(q.values(bundle_issued_at=utcnow()))
        if not int(getattr(result, "rowcount", 0) or 0):
            raise refused
        audit.record(s, actor, ACTION, ident, files=sorted(files), again=again)
    return IssuedBundle(inp, files, again)


def write_bundle(out: Path, files: Files) -> list[Path]:
    """Write ``files`` under ``out`` with their modes (0600 files never wider)."""
    written = []
    out.mkdir(parents=True, exist_ok=True)
    for rel, (data, mode) in sorted(files.items()):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(path, mode)
        written.append(path)
    return written
