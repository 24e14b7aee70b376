"""The demo's lab: network namespaces and the processes in them, all recorded for cleanup.

Every namespace is named ``mipdemo-<tag>-<role>`` with a random tag, so two demos (or the
suite's demo test beside a developer's) never collide; every process runs in its own
session and is stopped by its pid.  What the lab created is written to ``lab.json`` in the
demo directory as it goes, so ``python -m bootstrap.demo clean`` (``make demo-clean``) can
remove a lab that ``--keep`` left running, or one whose demo process was killed.

Addresses only from 2001:db8::/32.  Topology::

    home link 2001:db8:1::/64 (bridge in ``home``)
      ha1 ::1, ha2 ::2, srv ::53 (named) + ::100 (the host the MN pings), rtr ::fe
    visited link 2001:db8:0:1::/64 (veth rtr <-> mn)
      rtr 2001:db8:0:1::1 (ISC dhcrelay), mn 2001:db8:0:1::1:1
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "mipdemo-"
HOME_PREFIX = "2001:db8:1::/64"
VISITED_PREFIX = "2001:db8:0:1::/64"
HA_ADDRESSES = {"ha1": "2001:db8:1::1", "ha2": "2001:db8:1::2"}
RTR_HOME = "2001:db8:1::fe"
RTR_VISITED = "2001:db8:0:1::1"
MN_CARE_OF = "2001:db8:0:1::1:1"
DNS_ADDRESS = "2001:db8:1::53"
CN_ADDRESS = "2001:db8:1::100"
STATE_FILE = "lab.json"


class LabError(RuntimeError):
    """A lab step failed; the message is one sentence for the operator."""


def run(*args: str, check: bool = True, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run one command; a failure becomes a :class:`LabError` naming the command."""
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise LabError(f"'{' '.join(args[:6])}' failed: {(r.stderr or r.stdout).strip()[:300]}")
    return r


def in_ns(ns: str, *args: str) -> list[str]:
    """The argv that runs ``args`` inside namespace ``ns``."""
    return ["ip", "netns", "exec", ns, *args]


@dataclass
class Process:
    """One process of the lab, started in its own session, stopped by pid."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """``kill -9`` of the process group (the netns/unshare wrappers and the daemon)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill9()


@dataclass
class Lab:
    """The namespaces and processes of one demo run."""

    root: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    namespaces: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def ns(self, role: str) -> str:
        return f"{PREFIX}{self.tag}-{role}"

    def save(self) -> None:
        """Write what exists now, so a later ``clean`` finds it."""
        state = {
            "tag": self.tag,
            "namespaces": self.namespaces,
            "pids": [p.pid for p in self.processes if p.alive()],
        }
        (self.root / STATE_FILE).write_text(json.dumps(state, indent=1))

    # -- namespaces -------------------------------------------------------------------------

    def add_ns(self, role: str, forwarding: bool = False) -> str:
        name = self.ns(role)
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.save()
        run("ip", "-n", name, "link", "set", "lo", "up")
        sysctls = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
        if forwarding:
            sysctls += ["net.ipv6.conf.all.forwarding=1", "net.ipv6.conf.all.proxy_ndp=1"]
        run(*in_ns(name, "sysctl", "-qw", *sysctls))
        return name

    def plug(self, ns: str, dev: str, bridge_ns: str, port: str, addresses: Sequence[str]) -> None:
        """A veth from ``bridge_ns``'s ``br0`` (port ``port``) to ``dev`` in ``ns``."""
        run("ip", "-n", bridge_ns, "link", "add", port, "type", "veth",
            "peer", "name", dev, "netns", ns)
        run("ip", "-n", bridge_ns, "link", "set", port, "master", "br0", "up")
        self._addresses(ns, dev, addresses)

    @staticmethod
    def _addresses(ns: str, dev: str, addresses: Sequence[str]) -> None:
        run("ip", "-n", ns, "link", "set", dev, "up")
        for a in addresses:
            run("ip", "-n", ns, "addr", "add", f"{a}/64", "dev", dev, "nodad")

    def build(self) -> None:
        """Create the topology of the module docstring."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        home = self.add_ns("home")
        run("ip", "-n", home, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", home, "link", "set", "br0", "up")
        for role, addr in HA_ADDRESSES.items():
            ns = self.add_ns(role, forwarding=True)
            self.plug(ns, "eth0", home, f"p{role}", [addr])
            run("ip", "-n", ns, "-6", "route", "add", VISITED_PREFIX, "via", RTR_HOME)
        srv = self.add_ns("srv")
        self.plug(srv, "eth0", home, "psrv", [DNS_ADDRESS, CN_ADDRESS])
        run("ip", "-n", srv, "-6", "route", "add", VISITED_PREFIX, "via", RTR_HOME)
        rtr = self.add_ns("rtr", forwarding=True)
        self.plug(rtr, "eth0", home, "prtr", [RTR_HOME])
        mn = self.add_ns("mn")
        run("ip", "-n", rtr, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0",
            "netns", mn)
        self._addresses(rtr, "eth1", [RTR_VISITED])
        self._addresses(mn, "eth0", [MN_CARE_OF])
        run("ip", "-n", mn, "-6", "route", "add", "default", "via", RTR_VISITED)

    # -- processes --------------------------------------------------------------------------

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Process:
        """Start ``argv`` in its own session with stdout+stderr into ``logs/<name>.log``."""
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, env={**os.environ, **(env or {})},
            )
        proc = Process(name, popen, log)
        self.processes.append(proc)
        self.save()
        return proc

    def wait_log(self, proc: Process, needle: str, timeout: float) -> None:
        """Wait until ``needle`` shows in the process's log; a death or timeout is a LabError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in proc.log.read_text(errors="replace"):
                return
            if not proc.alive():
                break
            time.sleep(0.1)
        tail = proc.log.read_text(errors="replace")[-400:].strip().replace("\n", " | ")
        raise LabError(f"{proc.name} did not say {needle!r} within {timeout:.0f} s: {tail}")

    def teardown(self) -> None:
        """Stop every process by pid, then delete every namespace; never raises."""
        for proc in reversed(self.processes):
            with contextlib.suppress(Exception):
                proc.stop()
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.processes.clear()
        self.namespaces.clear()
        with contextlib.suppress(OSError):
            (self.root / STATE_FILE).unlink()


def clean(root: Path) -> list[str]:
    """Remove what a previous run recorded in ``root/lab.json``; the names of what it removed."""
    path = root / STATE_FILE
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    removed: list[str] = []
    for pid in state.get("pids", []):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)
            removed.append(f"pid {pid}")
    for ns in state.get("namespaces", []):
        if not str(ns).startswith(PREFIX):
            continue
        if run("ip", "netns", "del", str(ns), check=False).returncode == 0:
            removed.append(f"namespace {ns}")
    path.unlink()
    return removed


def namespaces_of(tag: str) -> list[str]:
    """The namespaces of tag ``tag`` that exist now (for the leftover check)."""
    out = run("ip", "netns", "list").stdout.splitlines()
    return [line.split()[0] for line in out if line.startswith(f"{PREFIX}{tag}-")]
