"""The ``dhcp`` service in-process on loopback (ports 15470-15473), on SQLite and PostgreSQL:
it creates the server DUID once, answers from the store, follows drains without a restart,
and answers DHCPINFORM with option 68.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress as ip
import socket

import pytest

from bootstrap.config import Settings
from bootstrap.context import ServiceContext
from bootstrap.services import dhcp_identity, home_agents, networks, snapshot
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from dhcp_hinfo import service, wire4, wire6
from tests.support.dhcp import vector

ACTOR = Actor("pytest", "cli")
SERVER6, CLIENT6, SERVER4, CLIENT4 = 15470, 15471, 15472, 15473


def test_server_duid_is_created_once_and_read_by_the_snapshot(store: Store) -> None:
    assert snapshot.load(store).server_duid == b""
    first = dhcp_identity.ensure_server_duid(store)
    assert len(first) == 18 and first[:2] == b"\x00\x04"  # DUID-UUID
    assert dhcp_identity.ensure_server_duid(store) == first
    assert snapshot.load(store).server_duid == first
    assert wire6.Duid.parse(first).fields()["uuid"] == first[2:]


def _settings(base: Settings) -> Settings:
    return dataclasses.replace(
        base,
        store=dataclasses.replace(base.store, snapshot_poll_interval=0.1),
        dhcp6=dataclasses.replace(
            base.dhcp6,
            listen=f"[::1]:{SERVER6}",
            allow_unicast=True,
            reply_port=CLIENT6,
            links=["if:lo=visited.example"],
            rate_limit=0.0,
        ),
        dhcp4=dataclasses.replace(
            base.dhcp4,
            enabled=True,
            listen=f"127.0.0.1:{SERVER4}",
            client_port=CLIENT4,
            rate_limit=0.0,
        ),
    )


async def _exchange(
    family: int, bind: tuple[str, int], dest: tuple[str, int], payload: bytes
) -> bytes:
    def run() -> bytes:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(bind)
            sock.settimeout(2.0)
            sock.sendto(payload, dest)
            return sock.recvfrom(4096)[0]

    return await asyncio.to_thread(run)


def _home_haas(reply: bytes) -> set[str]:
    msg = wire6.decode_message(reply)
    assert isinstance(msg, wire6.ClientServerMessage) and msg.msg_type == wire6.REPLY
    (idinf,) = msg.get(wire6.IDINF)
    assert isinstance(idinf, wire6.Idinf)
    return {str(o.address) for o in idinf.options if isinstance(o, wire6.Haa)}


async def test_service_answers_from_the_store_and_follows_a_drain(
    store: Store, settings: Settings
) -> None:
    networks.add(store, ACTOR, "home.example", "2001:db8:200::/64")
    networks.add(store, ACTOR, "visited.example", "2001:db8:100::/64", ha_info="address")
    home_agents.add(
        store, ACTOR, "ha.home.example", "home.example", "2001:db8:200::1", ipv4="192.0.2.10"
    )
    home_agents.add(
        store,
        ACTOR,
        "ha2.home.example",
        "home.example",
        "2001:db8:200::2",
        ipv4="192.0.2.11",
        priority=20,
    )
    lines: list[str] = []
    ctx = ServiceContext(settings=_settings(settings), store=store, announce=lines.append)
    task = asyncio.create_task(service.serve(ctx))
    try:
        for _ in range(100):
            if lines or task.done():
                break
            await asyncio.sleep(0.05)
        assert lines and "DHCPv6 on [::1]:15470" in lines[0], lines
        assert "DHCPv4 INFORM on 127.0.0.1:15472" in lines[0]
        duid = snapshot.load(store).server_duid
        assert len(duid) == 18

        request = vector("v6-direct-request")
        reply = await _exchange(socket.AF_INET6, ("::1", CLIENT6), ("::1", SERVER6), request)
        msg = wire6.decode_message(reply)
        assert isinstance(msg, wire6.ClientServerMessage)
        assert msg.get(wire6.SERVERID) == [wire6.ServerId(wire6.Duid(duid))]
        assert msg.get(wire6.VDINF) == []  # lo is bound to visited.example: it has no HA
        assert _home_haas(reply) == {"2001:db8:200::1", "2001:db8:200::2"}

        inform = vector("v4-inform-prl1-3-68-request")
        inform = inform[:12] + socket.inet_aton("127.0.0.1") + inform[16:]  # ciaddr
        ack = wire4.decode(
            await _exchange(socket.AF_INET, ("127.0.0.1", CLIENT4), ("127.0.0.1", SERVER4), inform)
        )
        assert ack.message_type == wire4.ACK
        assert ack.get(54) == wire4.ServerIdentifier(ip.IPv4Address("127.0.0.1"))
        assert ack.get(68) == wire4.MobileIpHomeAgent(
            (ip.IPv4Address("192.0.2.10"), ip.IPv4Address("192.0.2.11"))
        )

        home_agents.drain(store, ACTOR, "ha.home.example")
        await asyncio.sleep(0.5)  # > poll interval: the follower rebuilds the snapshot
        reply = await _exchange(socket.AF_INET6, ("::1", CLIENT6), ("::1", SERVER6), request)
        assert _home_haas(reply) == {"2001:db8:200::2"}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_bad_config_stops_the_service_with_one_sentence(
    store: Store, settings: Settings
) -> None:
    from bootstrap.errors import ConfigError

    bad = dataclasses.replace(settings, dhcp6=dataclasses.replace(settings.dhcp6, links=["x"]))
    with pytest.raises(ConfigError, match=r"\[dhcp6\] links entry 'x'"):
        await service.serve(ServiceContext(settings=bad, store=store))


async def test_unknown_interface_and_busy_port_are_one_sentence(
    store: Store, settings: Settings
) -> None:
    from bootstrap.errors import BootstrapError, ConfigError

    nowhere = dataclasses.replace(
        settings,
        dhcp6=dataclasses.replace(settings.dhcp6, listen="[::1]:15474", interfaces=["mipd-none"]),
    )
    with pytest.raises(ConfigError, match=r"\[dhcp6\] interfaces: .* no interface named"):
        await service.serve(ServiceContext(settings=nowhere, store=store))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as taken:
        taken.bind(("::1", 15475))
        busy = dataclasses.replace(
            settings, dhcp6=dataclasses.replace(settings.dhcp6, listen="[::1]:15475")
        )
        with pytest.raises(BootstrapError, match=r"cannot listen on \[::1\]:15475"):
            await service.serve(ServiceContext(settings=busy, store=store))
