"""Helpers of the strongSwan bridge tests: lab start/stop, stores, a running bridge."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap import config, migrate
from bootstrap.config import Settings
from bootstrap.services import credentials, home_agents, networks
from bootstrap.services.actor import Actor
from bootstrap.store.engine import Store
from ikev2_glue.bridge import Bridge
from ikev2_glue.service import bridge_for
from tests.support import netlab as nl

ACTOR = Actor("pytest", "cli")
HA_FQDN = "ha1.example.com"
HA_ADDR = "2001:db8:1::1"
HA_ADDR4 = "192.0.2.1"


@dataclass
class HaLab:
    topo: nl.Topology
    ha: nl.Charon
    mn_charons: list[nl.Charon]
    root: Path

    @property
    def mns(self) -> list[nl.Mn]:
        return [nl.Mn(c) for c in self.mn_charons]


def reset_ha(charon: nl.Charon) -> None:
    """Empty an HA charon: SAs, connections, credentials, pools."""
    if charon.proc is None:
        return
    nl.Mn(charon).reset()


def start_lab(root: Path, n_mn: int = 2, ha_role_conf: dict[str, Any] | None = None) -> HaLab:
    topo = nl.Topology(nl.new_tag())
    charons: list[nl.Charon] = []
    try:
        topo.create(n_mn, [HA_ADDR, HA_ADDR4])
        ha = nl.Charon(topo.ha, root / "ha", "ha", **(ha_role_conf or {}))
        charons.append(ha)
        ha.start()
        mns = []
        for k, ns in enumerate(topo.mns, start=1):
            c = nl.Charon(ns, root / f"mn{k}", "mn", threads=12)
            charons.append(c)
            c.start()
            mns.append(c)
        return HaLab(topo, ha, mns, root)
    except BaseException:
        for c in charons:
            c.stop()
        topo.delete()
        raise


def stop_lab(lab: HaLab) -> None:
    for c in [lab.ha, *lab.mn_charons]:
        with contextlib.suppress(Exception):
            c.stop()
    lab.topo.delete()


@dataclass
class IkeEnv:
    store: Store
    settings: Settings
    tmp: Path


def ike_settings(tmp: Path, url: str, socket: str, **vici: Any) -> Settings:
    raw: dict[str, Any] = {
        "vici": {"enabled": True, "socket": socket, "home_agent": HA_FQDN, **vici},
        "ha": {"heartbeat_interval": 1.0},
        "store": {"snapshot_poll_interval": 0.2},
    }
    s = config.from_mapping(raw, tmp, "test")
    return dataclasses.replace(s, database=dataclasses.replace(s.database, url=url))


def populate(store: Store, settings: Settings, zones: tuple[str, ...] = ()) -> None:
    """Network example.com (2001:db8:1::/64 + 192.0.2.0/24), HA ha1, the store's CA."""
    networks.add(store, ACTOR, "example.com", "2001:db8:1::/64", "192.0.2.0/24", zones)
    home_agents.add(store, ACTOR, HA_FQDN, "example.com", HA_ADDR, HA_ADDR4, settings=settings)
    credentials.ca_init(store, settings)


def sqlite_env(tmp: Path, socket: str, **vici: Any) -> Iterator[IkeEnv]:
    store = Store(f"sqlite:///{tmp / 'store.db'}")
    migrate.upgrade(store)
    settings = ike_settings(tmp, store.url, socket, **vici)
    populate(store, settings)
    try:
        yield IkeEnv(store, settings, tmp)
    finally:
        store.dispose()


@contextlib.asynccontextmanager
async def running_bridge(settings: Settings, store: Store) -> AsyncIterator[Bridge]:
    bridge = bridge_for(settings, store, poll_interval=0.2)
    task = asyncio.create_task(bridge.run(), name="bridge")
    try:
        await wait_until(bridge.synced.is_set, 20, "bridge never synced with charon")
        yield bridge
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        bridge.link.close()


async def wait_until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``pred`` (run in a thread) until truthy; fail with ``what`` on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await asyncio.to_thread(pred)
        if value:
            return value
        if loop.time() >= deadline:
            raise AssertionError(f"{what} (after {timeout} s)")
        await asyncio.sleep(0.1)


def bootstrapctl(env: IkeEnv, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``bootstrapctl`` against the test's store (config file in ``env.tmp``)."""
    config = env.tmp / "bootstrap.toml"
    if not config.exists():
        config.write_text(
            f'[database]\nurl = "{env.store.url}"\n'
            f'[vici]\nassign = "{env.settings.vici.assign}"\n'
            f'home_agent = "{env.settings.vici.home_agent}"\n'
        )
    exe = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "bootstrapctl"
    return subprocess.run([str(exe), "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60)
