"""The MN's swanctl directory, written from the store's :class:`MnBundleInput` and the profile.

``SWANCTL_DIR=DIR swanctl --load-all`` loads it as is; the MN then connects
to its HA's address and asks for its HoA (``vips = ::``, and ``0.0.0.0`` too
for a dual-stack subscriber: our choice is to hand the IPv4 HoA out as
INTERNAL_IP4_ADDRESS in IKEv2 rather than in the RFC 5555 Binding
Acknowledgement, which charon never sees).  Proposals, traffic selectors and
identities come from :mod:`.profile`, the values the HA's connection is built
from too.  Pure: the caller writes the files (``bootstrapctl export``) or
packs them (web download).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from bootstrap.config import Settings
from bootstrap.domain import AuthMethod
from bootstrap.errors import NotFound
from bootstrap.services.bundle import Files, MnBundleInput, Renderer

from . import profile, templating
from .settings import AssignMode, assign_mode


def swanctl_context(
    inp: MnBundleInput, assign: AssignMode, fqdn_id: bool, p: profile.IkeProfile
) -> dict[str, Any]:
    """The template variables of ``swanctl.conf`` (pure, so a test can read the decisions)."""
    sub = inp.sub
    auth = AuthMethod(sub.auth)
    dual = sub.hoa4 is not None
    method = profile.mn_local_auth(auth, assign)
    with_cert = auth is AuthMethod.CERT
    return {
        "p": p,
        "yes_no": profile.yes_no,
        "identity": sub.identity,
        "ha_fqdn": inp.ha_fqdn,
        "ha_address": inp.ha_address,
        "ha_id": profile.ha_identity(inp.ha_id, inp.ha_fqdn),
        "vips": profile.requested_vips(dual),
        "remote_ts": profile.tunnelled(dual),
        "auth": method,
        "ike_id": profile.mn_ike_identity(sub.identity, sub.fqdn, fqdn_id),
        # EAP runs for the RFC 822 identity (the NAI) whatever the IDi is
        "eap_id": sub.identity if method in ("eap-mschapv2", "eap-tls") else "",
        "with_cert": with_cert,
        "secret_owners": [sub.identity, sub.fqdn] if fqdn_id else [sub.identity],
        "secret": sub.eap_secret or "",
        # HA-initiated re-bootstrap: only a certificate MN can answer as IKEv2 responder
        # (charon refuses non-mutual EAP-only authentication)
        "responder": with_cert,
        "responder_id": profile.mn_ike_identity(sub.identity, sub.fqdn, fqdn_id),
        "hoa_ts": ([f"{sub.hoa6}/128"] if sub.hoa6 else []) + ([f"{sub.hoa4}/32"] if dual else []),
    }


def swanctl_conf(
    inp: MnBundleInput,
    assign: AssignMode = AssignMode.PER_SUBSCRIBER,
    fqdn_id: bool = False,
) -> str:
    """The MN's swanctl.conf: one connection ``home`` to its HA, tunnelling everything."""
    ctx = swanctl_context(inp, assign, fqdn_id, profile.current())
    return templating.render("swanctl.conf.j2", **ctx)


def agent_toml(inp: MnBundleInput) -> str:
    """``mip6-mn.toml``: what the MN agent needs besides swanctl.conf (identity, home domain)."""
    p = profile.current()
    return templating.render(
        "mip6-mn.toml.j2", identity=inp.sub.identity, home_domain=inp.ha_id or inp.ha_fqdn,
        connection=p.mn_conn, child=p.mn_child,
    )


def render(
    inp: MnBundleInput,
    assign: AssignMode = AssignMode.PER_SUBSCRIBER,
    fqdn_id: bool = False,
) -> Files:
    """The swanctl directory as ``{relative path: (content, mode)}``; secrets are 0600.

    ``assign`` is the mode of the subscriber's HA (pubkey vs EAP-TLS for a
    certificate subscriber); ``fqdn_id`` makes the MN use its FQDN as IDi.
    """
    files: Files = {
        "swanctl.conf": (swanctl_conf(inp, assign, fqdn_id).encode(), 0o600),
        "x509ca/ca.pem": (inp.ca_pem.encode(), 0o644),
        "strongswan.d/mip6-mn.conf": (templating.render("mip6-mn.conf.j2").encode(), 0o644),
        "mip6-mn.toml": (agent_toml(inp).encode(), 0o644),
        "mip6-hoa-on-lo.sh": (templating.render(
            "mip6-hoa-on-lo.sh.j2", identity=inp.sub.identity,
            hoas=[inp.sub.hoa6] if inp.sub.hoa6 else [], hoa4=inp.sub.hoa4 or "").encode(), 0o755),
    }
    if inp.sub.auth == AuthMethod.CERT:
        if not inp.sub.cert_pem or not inp.sub.key_pem:
            raise NotFound(f"subscriber {inp.sub.identity!r} has no stored certificate and key")
        files["x509/mn.cert.pem"] = (inp.sub.cert_pem.encode(), 0o644)
        files["private/mn.key.pem"] = (inp.sub.key_pem, 0o600)
    else:
        del files["mip6-hoa-on-lo.sh"]  # an EAP MN cannot answer an HA's initiation
        if not inp.sub.eap_secret:
            raise NotFound(f"subscriber {inp.sub.identity!r} has no stored EAP secret")
    return files


def renderer_for(settings: Settings) -> Renderer:
    """The renderer for this host's ``[vici] assign`` (the composition root hands it to
    the web face, which must not import this package)."""
    return partial(render, assign=assign_mode(settings))
