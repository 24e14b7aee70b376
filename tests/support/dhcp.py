"""Shared helpers of the DHCP responder tests: Kea byte vectors, a sample snapshot, tshark."""

from __future__ import annotations

import datetime as dt
import ipaddress as ip
import subprocess
from pathlib import Path

from bootstrap.domain import HAInfo, HAState, HomeAgent, HomeNetwork, Snapshot

# Kea-captured messages kept in the repository (tests/data/dhcp/README.md says how they were made)
VECTORS = Path(__file__).resolve().parents[1] / "data" / "dhcp"
SERVER_DUID = b"\x00\x04" + bytes(range(16))
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def vector(name: str) -> bytes:
    return bytes.fromhex((VECTORS / f"{name}.hex").read_text().strip())


def sample_snapshot(**changes: object) -> Snapshot:
    """home.example (two HAs, one draining), visited.example (address only), fqdn.example."""
    nets = (
        HomeNetwork(1, "home.example", ip.IPv6Network("2001:db8:200::/64")),
        HomeNetwork(
            2, "visited.example", ip.IPv6Network("2001:db8:100::/64"), ha_info=HAInfo.ADDRESS
        ),
        HomeNetwork(3, "fqdn.example", ip.IPv6Network("2001:db8:300::/48"), ha_info=HAInfo.FQDN),
    )
    agents = (
        HomeAgent(
            1,
            "ha.home.example",
            ip.IPv6Address("2001:db8:200::1"),
            1,
            "home.example",
            ipv4=ip.IPv4Address("192.0.2.10"),
        ),
        HomeAgent(
            2,
            "ha2.home.example",
            ip.IPv6Address("2001:db8:200::2"),
            1,
            "home.example",
            ipv4=ip.IPv4Address("192.0.2.11"),
            state=HAState.DRAINING,
        ),
        HomeAgent(
            3,
            "ha1.visited.example",
            ip.IPv6Address("2001:db8:100::1"),
            2,
            "visited.example",
            priority=20,
            ipv4=ip.IPv4Address("192.0.2.12"),
        ),
        HomeAgent(
            4, "ha.fqdn.example", ip.IPv6Address("2001:db8:300::1"), 3, "fqdn.example", priority=30
        ),
    )
    fields: dict[str, object] = {
        "version": 1,
        "networks": nets,
        "home_agents": agents,
        "server_duid": SERVER_DUID,
    }
    fields.update(changes)
    return Snapshot(**fields)  # type: ignore[arg-type]


def tshark_fields(payload: bytes, family: int, fields: list[str], tmp: Path) -> list[str]:
    """Wrap ``payload`` in UDP (text2pcap) and let tshark dissect it; one value list per field."""
    txt = tmp / "frame.txt"
    pcap = tmp / "frame.pcap"
    txt.write_text("000000 " + " ".join(f"{b:02x}" for b in payload) + "\n")
    if family == 6:
        addr = ["-6", "2001:db8::1,2001:db8::2", "-u", "547,546"]
    else:
        addr = ["-4", "192.0.2.1,192.0.2.100", "-u", "67,68"]
    subprocess.run(["text2pcap", "-q", *addr, str(txt), str(pcap)], check=True)
    args = ["tshark", "-r", str(pcap), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return out.rstrip("\n").split("|")
