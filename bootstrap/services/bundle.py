"""Credential bundles: what the mobile node and the home agent's charon need.

* :func:`mn_bundle` turns one subscriber into a swanctl directory
  (``swanctl.conf``, ``x509/``, ``x509ca/``, ``private/``) as a pure
  ``{relative path: (bytes, mode)}`` mapping; :func:`write_bundle` puts it
  on disk (``bootstrapctl export``), the web UI can serve the same mapping.
  ``SWANCTL_DIR=DIR swanctl --load-all`` loads it as is; the MN then
  connects to its HA's address and asks for its HoA (``vips = ::``, and
  ``0.0.0.0`` too for a dual-stack subscriber: our choice is to hand the
  IPv4 HoA out as INTERNAL_IP4_ADDRESS in IKEv2 rather than in the RFC 5555
  Binding Acknowledgement, which charon never sees).
* :func:`ha_credentials` gives the HA its certificate (CN and dNSName = the
  HA's FQDN, issued once by the store's CA and kept encrypted in the store),
  used by charon and, in radius mode, as FreeRADIUS' EAP-TLS server
  certificate (the MN checks that it names the HA, REPORT-radius.md P6).
* :func:`ha_subscribers` lists the subscribers assigned to one HA with their
  decrypted EAP secrets, for the per-subscriber sync.  Secrets never reach
  a log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..config import Settings
from ..errors import NotFound, ValidationError
from ..store.engine import Store
from ..store.models import HomeAgent, Setting, Subscriber
from . import credentials

Files = dict[str, tuple[bytes, int]]
HA_CERT_DAYS = 825
MODES = ("per-subscriber", "radius")


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
    fqdn = fqdn.lower().rstrip(".")
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
    auth: str
    state: str
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
        auth=row.auth,
        state=row.state,
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
            .where(HomeAgent.fqdn == fqdn.lower().rstrip("."), Subscriber.state == "active")
            .options(selectinload(Subscriber.addresses))
            .order_by(Subscriber.id)
        )
        return [_creds(settings, row) for row in s.scalars(q)]


@dataclass(frozen=True, slots=True)
class MnBundleInput:
    """Everything an MN bundle is made of."""

    sub: SubscriberCredentials
    ha_fqdn: str
    ha_address: str
    ca_pem: str
    mode: str = "per-subscriber"
    ha_id: str = ""
    """The HAs' shared IKE identity (the network's domain); default: ``ha_fqdn``."""
    fqdn_id: bool = False
    """Use the subscriber's FQDN as IKE identity (RFC 5026 ID_FQDN) instead of its
    RFC 822 identity; the EAP identity stays the RFC 822 one."""


def mn_bundle_input(
    store: Store,
    settings: Settings,
    identity: str,
    mode: str | None = None,
    fqdn_id: bool = False,
) -> MnBundleInput:
    """Read what :func:`mn_bundle` needs for ``identity`` from the store."""
    mode = mode or settings.vici.assign
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
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
        return MnBundleInput(creds, ha.fqdn, ha.address, ca_pem, mode, row.network.domain, fqdn_id)


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mn_swanctl_conf(inp: MnBundleInput) -> str:
    """The MN's swanctl.conf: one connection ``home`` to its HA, tunnelling everything."""
    sub = inp.sub
    ike_id = sub.fqdn if inp.fqdn_id else sub.identity
    dual = sub.hoa4 is not None
    vips = "::, 0.0.0.0" if dual else "::"
    remote_ts = "::/0, 0.0.0.0/0" if dual else "::/0"
    if sub.auth == "cert":
        method = "eap-tls" if inp.mode == "radius" else "pubkey"
        eap_id = f"\n      eap_id = {_q(sub.identity)}" if method == "eap-tls" else ""
        local = f"""auth = {method}
      id = {_q(ike_id)}{eap_id}
      certs = mn.cert.pem"""
        secrets = """  private-home {
    file = mn.key.pem
  }"""
    else:
        local = f"""auth = eap-mschapv2
      id = {_q(ike_id)}
      eap_id = {_q(sub.identity)}"""
        owners = (
            f"id-1 = {_q(sub.identity)}\n    id-2 = {_q(sub.fqdn)}"
            if inp.fqdn_id
            else f"id = {_q(sub.identity)}"
        )
        secrets = f"""  eap-home {{
    {owners}
    secret = {_q(sub.eap_secret or "")}
  }}"""
    return f"""# mip6-bootstrap: strongSwan MN configuration for {sub.identity}
# Load with: SWANCTL_DIR=<this directory> swanctl --load-all
# Home agent {inp.ha_fqdn} at {inp.ha_address}, authenticated as {inp.ha_id or inp.ha_fqdn}
# (the identity every HA of the network shows, so an RFC 5685 redirect to another of
# them is accepted); it answers the CFG_REQUEST for ::
# (and 0.0.0.0 when dual-stack) with this subscriber's home address(es).
# The MN tunnels everything to its HA (remote_ts ::/0); with kernel-libipsec add the
# strongswan.conf settings in strongswan.d/mip6-mn.conf of this bundle.
connections {{
  home {{
    version = 2
    remote_addrs = {inp.ha_address}
    vips = {vips}
    proposals = aes128-sha256-x25519, aes256-sha384-ecp384, default
    send_certreq = no
    send_cert = always
    mobike = yes
    dpd_delay = 30s
    local-1 {{
      {local}
    }}
    remote-1 {{
      auth = pubkey
      id = {_q(inp.ha_id or inp.ha_fqdn)}
    }}
    children {{
      home {{
        local_ts = dynamic
        remote_ts = {remote_ts}
        esp_proposals = aes128gcm16-x25519, aes128-sha256, default
        dpd_action = restart
      }}
    }}
  }}
}}
secrets {{
{secrets}
}}
"""


MN_STRONGSWAN_D = """# strongswan.conf settings for an MN that tunnels everything to its HA with
# kernel-libipsec (strongSwan lab REPORT.md section 8): load kernel-libipsec BEFORE
# kernel-netlink, keep routing_table at its default (220), and add:
charon {
  plugins {
    kernel-libipsec {
      allow_peer_ts = yes
    }
    kernel-netlink {
      fwmark = !0x42
    }
    socket-default {
      fwmark = 0x42
    }
  }
}
"""


AGENT_TOML = jinja2.Template(
    """# mip6-bootstrap: the MN agent's settings (mip6-mn --bundle <this directory>)
# The agent finds the home agents by DHCPv6 home information and _mip6._ipv6 SRV of
# home_domain and points the connection of swanctl.conf at the best one (its
# remote_addrs is only the enrollment-time HA, for loading this bundle by hand).
identity = {{ identity | tojson }}
home_domain = {{ home_domain | tojson }}
connection = "home"
child = "home"
""", keep_trailing_newline=True)


def mn_bundle(inp: MnBundleInput) -> Files:
    """The swanctl directory as ``{relative path: (content, mode)}``; secrets are 0600."""
    agent = AGENT_TOML.render(identity=inp.sub.identity, home_domain=inp.ha_id or inp.ha_fqdn)
    files: Files = {
        "swanctl.conf": (mn_swanctl_conf(inp).encode(), 0o600),
        "mip6-mn.toml": (agent.encode(), 0o644),
        "x509ca/ca.pem": (inp.ca_pem.encode(), 0o644),
        "strongswan.d/mip6-mn.conf": (MN_STRONGSWAN_D.encode(), 0o644),
    }
    if inp.sub.auth == "cert":
        if not inp.sub.cert_pem or not inp.sub.key_pem:
            raise NotFound(f"subscriber {inp.sub.identity!r} has no stored certificate and key")
        files["x509/mn.cert.pem"] = (inp.sub.cert_pem.encode(), 0o644)
        files["private/mn.key.pem"] = (inp.sub.key_pem, 0o600)
    elif not inp.sub.eap_secret:
        raise NotFound(f"subscriber {inp.sub.identity!r} has no stored EAP secret")
    return files


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
