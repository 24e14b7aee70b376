"""Radius mode end to end: charon (eap-radius) + FreeRADIUS 3.2 on the test's PostgreSQL views.

The FreeRADIUS directory and charon's eap-radius include come from
``bootstrapctl radius config``; FreeRADIUS runs in the HA's namespace and
reaches PostgreSQL through its Unix socket.  EAP-MSCHAPv2 and EAP-TLS MNs
get their stored HoA (and IPv4 HoA when dual-stack); suspended, revoked and
identities are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from bootstrap import migrate
from bootstrap.services import bindings, bundle, subscribers
from bootstrap.store.engine import Store
from ikev2_glue import mn_bundle
from tests.support import netlab as nl
from tests.support.ikev2 import (
    ACTOR,
    HaLab,
    IkeEnv,
    ike_settings,
    populate,
    reset_ha,
    running_bridge,
    start_lab,
    stop_lab,
    wait_until,
)

PG_SOCKET = "/var/run/postgresql"


@dataclass
class RadiusLab:
    lab: HaLab
    env: IkeEnv
    radius_dir: Path
    radius: subprocess.Popen[bytes]


def bootstrapctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(os.environ.get("VIRTUAL_ENV", ".venv")) / "bin" / "bootstrapctl"
    if not exe.exists():
        exe = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "bootstrapctl"
    return subprocess.run([str(exe), "--config", str(config), *args],
                          capture_output=True, text=True, timeout=60)


def start_freeradius(ns: str, raddb: Path, out: Path) -> subprocess.Popen[bytes]:
    with open(out, "wb") as log:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "freeradius", "-f", "-d", str(raddb)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, close_fds=True,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("freeradius exited: " + out.read_text(errors="replace")[-2000:])
        ss = nl.run("ip", "netns", "exec", ns, "ss", "-lun").stdout
        if "[::1]:1812" in ss:
            return proc
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("freeradius did not listen on [::1]:1812")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def rlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusLab]:
    root = tmp_path_factory.mktemp("rad")
    db = f"mipi_radius_{os.getpid()}_{nl.new_tag()}"
    with psycopg.connect(host=PG_SOCKET, user="postgres", dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')  # type: ignore[arg-type]
    url = f"postgresql+psycopg://postgres@/{db}?host={PG_SOCKET}"
    store = Store(url)
    lab: HaLab | None = None
    radius: subprocess.Popen[bytes] | None = None
    try:
        migrate.upgrade(store)
        settings = ike_settings(root, url, str(root / "lab" / "ha" / "charon.vici"),
                                assign="radius")
        populate(store, settings)
        config = root / "bootstrap.toml"
        config.write_text(
            f'[database]\nurl = "{url}"\n[store]\nsecret_key_file = "bootstrap.secret"\n'
            f'[vici]\nassign = "radius"\nhome_agent = "ha1.example.com"\n'
        )
        out = bootstrapctl(config, "radius", "config", "--out", str(root / "radius"))
        assert out.returncode == 0, out.stderr
        include = root / "radius" / "strongswan.d" / "eap-radius.conf"
        lab = start_lab(root / "lab", ha_role_conf={"includes": (include,),
                                                     "extra_plugins": "eap-radius"})
        radius = start_freeradius(lab.topo.ha, root / "radius" / "raddb", root / "radius.out")
        yield RadiusLab(lab, IkeEnv(store, settings, root), root / "radius", radius)
    finally:
        if radius is not None:
            stop_process(radius)
        if lab is not None:
            stop_lab(lab)
        store.dispose()
        with psycopg.connect(host=PG_SOCKET, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
def radius_lab(rlab: RadiusLab) -> Iterator[RadiusLab]:
    for c in rlab.lab.mn_charons:
        reset_ha(c)
    try:
        yield rlab
    finally:
        for c in rlab.lab.mn_charons:
            with contextlib.suppress(Exception):
                reset_ha(c)


async def connect(mn: nl.Mn, env: IkeEnv, identity: str, out: Path) -> tuple[bool, str]:
    files = mn_bundle.renderer_for(env.settings)(
        bundle.mn_bundle_input(env.store, env.settings, identity))
    bundle.write_bundle(out, files)
    await asyncio.to_thread(mn.load_bundle, out)
    return await asyncio.to_thread(mn.initiate)


async def test_mschapv2_and_tls_subscribers_get_their_stored_hoas(
    radius_lab: RadiusLab, tmp_path: Path
) -> None:
    env = radius_lab.env
    dual = subscribers.enroll(env.store, env.settings, ACTOR, "dual@example.com", ipv4=True)
    tls = subscribers.enroll(env.store, env.settings, ACTOR, "tls@example.com", auth="cert")
    mn1, mn2 = radius_lab.lab.mns
    async with running_bridge(env.settings, env.store):
        ok, log = await connect(mn1, env, "dual@example.com", tmp_path / "b1")
        assert ok, log
        assert sorted(await asyncio.to_thread(mn1.vips)) == sorted(
            [str(dual.subscriber.hoas[0]), str(dual.subscriber.hoa4)]
        )
        ok, log = await connect(mn2, env, "tls@example.com", tmp_path / "b2")
        assert ok, log
        assert await asyncio.to_thread(mn2.vips) == [str(tls.subscriber.hoas[0])]

        b = await wait_until(
            lambda: bindings.list_for(env.store, "dual@example.com", open_only=True), 10,
            "no binding for dual@example.com",
        )
        assert (b[0].care_of, b[0].hoa) == (nl.care_of(1), str(dual.subscriber.hoas[0]))
        await wait_until(
            lambda: bindings.list_for(env.store, "tls@example.com", open_only=True), 10,
            "no binding for tls@example.com",
        )


async def test_suspended_and_revoked_are_cut_off_and_refused(
    radius_lab: RadiusLab, tmp_path: Path
) -> None:
    env = radius_lab.env
    subscribers.enroll(env.store, env.settings, ACTOR, "sus@example.com")
    subscribers.enroll(env.store, env.settings, ACTOR, "rev@example.com", auth="cert")
    mn1, mn2 = radius_lab.lab.mns
    d1, d2 = tmp_path / "b1", tmp_path / "b2"
    async with running_bridge(env.settings, env.store):
        assert (await connect(mn1, env, "sus@example.com", d1))[0]
        assert (await connect(mn2, env, "rev@example.com", d2))[0]
        subscribers.suspend(env.store, env.settings, ACTOR, "sus@example.com")
        subscribers.revoke(env.store, env.settings, ACTOR, "rev@example.com")
        await wait_until(lambda: not mn1.vips() and not mn2.vips(), 15,
                         "suspended/revoked MNs kept their SAs")
        ok, _ = await asyncio.to_thread(mn1.initiate, "home", "home", 8000)
        assert not ok
        ok, _ = await asyncio.to_thread(mn2.initiate, "home", "home", 8000)
        assert not ok
        await wait_until(
            lambda: not bindings.list_for(env.store, "sus@example.com", open_only=True), 10,
            "binding of the suspended subscriber stayed open",
        )
