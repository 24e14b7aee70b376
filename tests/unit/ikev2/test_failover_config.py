"""keepalived files from the store's HAs (pure): priorities follow the network's HA order."""

from __future__ import annotations

import ipaddress

import pytest

from bootstrap.domain import HomeAgent
from ikev2_glue import failover_config


def ha(i: int, prio: int = 10, net: int = 1) -> HomeAgent:
    return HomeAgent(id=i, fqdn=f"ha{i}.example.com",
                     address=ipaddress.IPv6Address(f"2001:db8:{net}::{i}"),
                     network_id=net, network=f"n{net}.example", priority=prio)


def test_own_address_is_master_and_the_others_follow_the_srv_order() -> None:
    agents = [ha(1), ha(2, prio=5), ha(3), ha(9, net=2)]
    got = {i.address: (i.priority, i.owner, i.vrid)
           for i in failover_config.instances(agents[0], agents)}
    assert got == {
        "2001:db8:1::2": (200, False, 1),  # priority 5 first in the network's order
        "2001:db8:1::1": (250, True, 2),
        "2001:db8:1::3": (190, False, 3),
    }
    assert failover_config.TRACK_WEIGHT > failover_config.OWN_PRIORITY - failover_config.BACKUP_TOP


def test_files_name_the_track_script_and_the_charon_socket() -> None:
    agents = [ha(1), ha(2)]
    f = failover_config.host_files(agents[1], agents, "eth0", "/run/charon.vici",
                                   "/usr/bin/bootstrapctl", "/etc/mip6/b.toml", "/etc/k/t.sh")
    assert 'script "/etc/k/t.sh"' in f.keepalived_conf and "interface eth0" in f.keepalived_conf
    assert "2001:db8:1::2/128 dev lo" in f.keepalived_conf
    assert "--uri unix:///run/charon.vici" in f.track_script
    assert "/usr/bin/bootstrapctl --config /etc/mip6/b.toml db current" in f.track_script


def test_too_many_has_for_the_router_ids_is_refused() -> None:
    agents = [ha(1), ha(2)]
    with pytest.raises(ValueError, match="router ids"):
        failover_config.instances(agents[0], agents, vrid_base=255)
