"""keepalived (VRRP) configuration for the HA hosts, written from the store (pure).

``bootstrapctl ha failover-config --out DIR`` writes ``DIR/<fqdn>/keepalived.conf``
and ``DIR/<fqdn>/mip6-track.sh`` for every HA: one VRRP instance per HA
address of the host's network, so when a host dies keepalived moves its IKE
address to a live host and an MN re-initiating to the address it knows
reaches a live charon (in radius mode that host's FreeRADIUS hands it the
same HoA from the store).  Priorities: 250 for the host's own address, then
200, 190, ... for the other addresses in the network's HA order (SRV
priority, then FQDN), so the fallback order is the one DHCP and DNS give.
The track script fails when charon or the store is gone and takes
``TRACK_WEIGHT`` off every priority: a host cut from the store gives its
addresses up.  VRRP router ids are per network (``vrid_base`` + index; one
link must not carry two networks with the same ids).
"""

from __future__ import annotations

from dataclasses import dataclass

from bootstrap.domain import HomeAgent

from . import templating

OWN_PRIORITY = 250
BACKUP_TOP = 200
BACKUP_STEP = 10
TRACK_WEIGHT = 240
"""Larger than any gap between priorities: a failing host drops below every healthy one."""


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    vrid: int
    address: str
    priority: int
    owner: bool


@dataclass(frozen=True, slots=True)
class HostFiles:
    fqdn: str
    keepalived_conf: str
    track_script: str


def order(agents: list[HomeAgent]) -> list[HomeAgent]:
    """The network's HA order: SRV priority, then FQDN."""
    return sorted(agents, key=lambda h: (h.priority, h.fqdn))


def instances(host: HomeAgent, agents: list[HomeAgent], vrid_base: int = 1) -> list[Instance]:
    """One VRRP instance per HA address of ``host``'s network, with this host's priority."""
    mine = order([h for h in agents if h.network_id == host.network_id])
    others = [h for h in mine if h.id != host.id]
    rank = {h.id: k for k, h in enumerate(others)}
    out = []
    for k, ha in enumerate(mine):
        owner = ha.id == host.id
        prio = OWN_PRIORITY if owner else max(BACKUP_TOP - BACKUP_STEP * rank[ha.id], 1)
        out.append(Instance(f"mip6_{ha.fqdn.replace('.', '_').replace('-', '_')}",
                            vrid_base + k, str(ha.address), prio, owner))
    if vrid_base + len(mine) - 1 > 255:
        raise ValueError(f"network {host.network} has more HAs than VRRP router ids from"
                         f" {vrid_base}")
    return out


def host_files(
    host: HomeAgent,
    agents: list[HomeAgent],
    interface: str,
    vici_socket: str,
    bootstrapctl: str,
    config: str,
    track_path: str,
    vrid_base: int = 1,
    vip_device: str = "lo",
) -> HostFiles:
    conf = templating.render(
        "keepalived.conf.j2", host=host, instances=instances(host, agents, vrid_base),
        interface=interface, vip_device=vip_device, track_script=track_path,
        interval=2, timeout=5, track_weight=TRACK_WEIGHT,
    )
    track = templating.render(
        "mip6-track.sh.j2", fqdn=host.fqdn, vici_uri=f"unix://{vici_socket}",
        bootstrapctl=bootstrapctl, config=config,
    )
    return HostFiles(host.fqdn, conf, track)
