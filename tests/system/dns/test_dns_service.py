"""The publisher as a service: ``serve()`` in bootstrapd and ``bootstrapd --only dns``."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bootstrap import config
from bootstrap.config import Settings
from bootstrap.context import ServiceContext
from bootstrap.services import home_agents, networks, subscribers
from bootstrap.store.engine import Store
from dns_updater.service import serve
from tests.support.dns import ACTOR
from tests.support.named import FORWARD, REVERSE6, Named

SRV = "_mip6._ipv6.example.com."


async def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return True
        await asyncio.sleep(0.1)
    return False


async def test_srv_follows_heartbeats_without_a_store_change(
    sqlite_store: Store, sq_settings: Settings, named: Named
) -> None:
    cfg = dataclasses.replace(
        sq_settings,
        dns=dataclasses.replace(sq_settings.dns, liveness_interval=0.2),
        store=dataclasses.replace(sq_settings.store, heartbeat_timeout=2.0),
    )
    networks.add(sqlite_store, ACTOR, "example.com", "2001:db8:1::/64", zones=(FORWARD,))
    for n in (1, 2):
        home_agents.add(sqlite_store, ACTOR, f"ha{n}.example.com", "example.com",
                        f"2001:db8:1::{n}", settings=cfg)
    home_agents.heartbeat(sqlite_store, "ha2.example.com")  # monitored from now on
    lines: list[str] = []
    task = asyncio.create_task(serve(ServiceContext(cfg, sqlite_store, announce=lines.append)))
    try:
        both = ["10 100 0 ha1.example.com.", "10 100 0 ha2.example.com."]
        assert await wait_for(lambda: named.query(SRV, "SRV") == both, 1.5)
        # ha2's heartbeat ages out: its SRV goes, its address stays (it is not down)
        assert await wait_for(lambda: named.query(SRV, "SRV") == both[:1], 5.0)
        assert named.query("ha2.example.com.", "AAAA") == ["2001:db8:1::2"]
        home_agents.heartbeat(sqlite_store, "ha2.example.com")
        assert await wait_for(lambda: named.query(SRV, "SRV") == both, 3.0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert lines and lines[0].startswith(f"dns: publishing the outbox to {named.server}")


def test_bootstrapd_only_dns(sqlite_store: Store, named: Named, tmp_path: Path) -> None:
    cfg_path = tmp_path / "bootstrap.toml"
    cfg_path.write_text(
        f'[database]\nurl = "{sqlite_store.url}"\n[web]\nenabled = false\n'
        f'[dns]\nenabled = true\nserver = "{named.server}"\n'
        f'tsig_key_file = "{named.key_file}"\npoll_interval = 0.1\n'
    )
    settings = config.load(cfg_path)
    networks.add(sqlite_store, ACTOR, "example.com", "2001:db8:1::/64",
                 zones=(FORWARD, REVERSE6))
    home_agents.add(sqlite_store, ACTOR, "ha1.example.com", "example.com", "2001:db8:1::1",
                    settings=settings)
    bootstrapd = Path(sys.executable).parent / "bootstrapd"
    proc = subprocess.Popen(
        [str(bootstrapd), "--config", str(cfg_path), "--only", "dns"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # ends at EOF if bootstrapd dies
            seen.append(line)
            if line.startswith("dns: publishing the outbox"):
                break
        assert seen and seen[-1].startswith("dns: publishing the outbox"), seen
        e = subscribers.enroll(sqlite_store, settings, ACTOR, "zoe@example.com")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not named.query("zoe.example.com.", "AAAA"):
            time.sleep(0.1)
        assert named.query("zoe.example.com.", "AAAA") == [str(e.subscriber.hoas[0])]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            raise
    assert code == 0
