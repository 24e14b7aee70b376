"""The one IKE profile both ends are built from: the HA's VICI connections and the MN bundle.

An MN and its HA negotiate only if their proposals, traffic selectors and
identities agree, so every such value lives here once: :mod:`.plan` turns it
into the dicts the HA's charon loads over VICI, :mod:`.mn_bundle` into the
MN's ``swanctl.conf``.  Change a proposal here and both sides change
together (``tests/unit`` checks it).  Pure: no I/O.

Rekeying is left at charon's defaults on both sides (IKE_SA every 4 h,
CHILD_SA every 1 h, with jitter): neither side sets ``rekey_time``.
"""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap.domain import AuthMethod

from .settings import AssignMode


@dataclass(frozen=True, slots=True)
class IkeProfile:
    """Proposals, child layout and liveness values shared by the HA and the MN."""

    ike_proposals: tuple[str, ...] = ("aes128-sha256-x25519", "aes256-sha384-ecp384", "default")
    """IKE_SA proposals, most preferred first; ``default`` keeps charon's own list as fallback."""
    esp_proposals: tuple[str, ...] = ("aes128gcm16-x25519", "aes128-sha256", "default")
    """CHILD_SA (ESP) proposals; the DH group gives PFS on CHILD_SA rekeying."""
    version: int = 2
    mobike: bool = True
    """RFC 4555: the MN keeps its SA when its care-of address changes (``ike-update``)."""
    send_certreq: bool = False
    send_cert: str = "always"
    """The HA always sends its certificate: the MN holds only the CA."""
    mode: str = "tunnel"
    ha_child: str = "mip6"
    """The CHILD_SA name in the HA's connections."""
    mn_conn: str = "home"
    mn_child: str = "home"
    """Connection and CHILD_SA name in the MN's bundle (``swanctl --initiate --child home``)."""
    mn_dpd_delay: str = "5s"
    """The MN probes its HA when idle this long; with the retransmission settings of
    ``strongswan.d/mip6-mn.conf`` a dead HA is noticed in about 10 s (30 s and charon's
    default retransmits took 165 s); with ``mn_dpd_action`` it comes back after an HA restart."""
    mn_dpd_action: str = "restart"
    mn_responder_conn: str = "from-ha"
    mn_responder_child: str = "hoa"
    """The MN's responder connection for HA-initiated re-bootstrap after a takeover
    (draft-li-mip6-ha-init-bootstrap §4): any HA of its network certified by the store's
    CA may initiate; the child protects the MN's HoA, which it keeps on ``lo``."""


PROFILE = IkeProfile()
"""The profile in force; builders read it at call time, so one change here reaches both ends."""


def current() -> IkeProfile:
    return PROFILE


def tunnelled(with_v4: bool) -> tuple[str, ...]:
    """What the MN tunnels to its HA: everything (the HA's ``local_ts``, the MN's ``remote_ts``)."""
    return ("::/0", "0.0.0.0/0") if with_v4 else ("::/0",)


def requested_vips(with_v4: bool) -> tuple[str, ...]:
    """The MN's CFG_REQUEST: ``::`` (and ``0.0.0.0`` dual-stack), answered with its HoA(s)."""
    return ("::", "0.0.0.0") if with_v4 else ("::",)


def ha_identity(network_domain: str, ha_fqdn: str) -> str:
    """The IKE identity (IDr) every HA of a network shows: the network's domain.

    Shared by all HAs of the network (their certificates name it besides
    their FQDN), so an MN redirected (RFC 5685) to another HA still accepts
    it; the HA's FQDN when no domain is known.
    """
    return network_domain or ha_fqdn


def mn_ike_identity(identity: str, fqdn: str, use_fqdn: bool) -> str:
    """The MN's IDi: its RFC 822 identity, or its FQDN (RFC 5026 ID_FQDN)."""
    return fqdn if use_fqdn else identity


def ha_remote_auth(auth: AuthMethod) -> str:
    """How the HA authenticates a subscriber in per-subscriber mode."""
    return "eap-mschapv2" if auth is AuthMethod.EAP else "pubkey"


def mn_local_auth(auth: AuthMethod, assign: AssignMode) -> str:
    """How the MN authenticates: EAP-MSCHAPv2 with a secret; with a certificate, pubkey
    towards a per-subscriber HA and EAP-TLS (via FreeRADIUS) towards a radius-mode HA."""
    if auth is AuthMethod.EAP:
        return "eap-mschapv2"
    return "eap-tls" if assign is AssignMode.RADIUS else "pubkey"


def yes_no(flag: bool) -> str:
    """swanctl / VICI boolean spelling."""
    return "yes" if flag else "no"
