"""``mip6-mn``: discover the home agents, point charon at the best, move on when it fails.

Usage: ``mip6-mn --bundle DIR [--interface IF] [--nameserver ADDR[#PORT]] [--vici SOCKET]``.
``DIR`` is the bundle ``bootstrapctl export`` wrote (``swanctl.conf``, credentials and
``mip6-mn.toml`` with the identity and home domain).  The decisions are
:func:`mn_agent.choice.step`; this module only carries them out and logs one
line per event.  ``--status FILE`` keeps a JSON line with the phase, HA and HoA
for scripts (written atomically on every change).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import time
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import choice, discover
from .charon import Charon, CharonError

log = logging.getLogger("mip6-mn")
AGENT_FILE = "mip6-mn.toml"


class UsageError(Exception):
    """A bad option or bundle (one sentence, exit 2)."""


@dataclass(frozen=True, slots=True)
class Options:
    bundle: Path
    identity: str
    home_domain: str
    conn: str
    child: str
    interface: str | None
    nameserver: str | None
    vici: str
    run_dir: Path
    status: Path | None
    use_dhcp: bool
    use_srv: bool
    dpd_delay: float | None
    connect_timeout: float
    poll: float
    discovery_timeout: float
    tuning: choice.Tuning
    verbose: bool = False


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mip6-mn",
        description="Mobile node agent: finds the home agents by DHCPv6 home information and "
                    "_mip6._ipv6 SRV, points charon at the best one and moves on when it fails.")
    p.add_argument("--bundle", required=True, metavar="DIR",
                   help="the bundle directory from 'bootstrapctl export' (with mip6-mn.toml)")
    p.add_argument("--interface", metavar="IF",
                   help="access interface for DHCPv6 (ff02::1:2); without it only DNS is asked")
    p.add_argument("--nameserver", metavar="ADDR[#PORT]",
                   help="DNS server for the SRV and AAAA lookups (default: /etc/resolv.conf)")
    p.add_argument("--vici", default="/var/run/charon.vici", metavar="SOCKET",
                   help="charon's VICI socket (default %(default)s)")
    p.add_argument("--run-dir", default="/run/mip6-mn", metavar="DIR",
                   help="where the agent writes its swanctl overlay (default %(default)s)")
    p.add_argument("--status", metavar="FILE", help="keep a JSON status line in FILE")
    p.add_argument("--no-dhcp", action="store_true", help="do not ask DHCPv6")
    p.add_argument("--no-srv", action="store_true", help="do not ask DNS SRV")
    p.add_argument("--dpd-delay", type=float, metavar="S",
                   help="override the bundle's dpd_delay (seconds): how soon a dead HA is noticed")
    p.add_argument("--connect-timeout", type=float, default=15.0, metavar="S",
                   help="seconds one IKE setup may take (default %(default)s)")
    p.add_argument("--poll", type=float, default=0.5, metavar="S",
                   help="seconds between looks at charon's SAs (default %(default)s)")
    p.add_argument("--discovery-timeout", type=float, default=1.0, metavar="S",
                   help="seconds to wait for one DHCPv6 reply or DNS answer (default %(default)s)")
    p.add_argument("--holdoff", type=float, default=30.0, metavar="S",
                   help="seconds a failed HA is avoided while others are named (default 30)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def options(argv: list[str] | None) -> Options:
    a = parser().parse_args(argv)
    bundle = Path(a.bundle)
    try:
        agent = tomllib.loads((bundle / AGENT_FILE).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {bundle / AGENT_FILE}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{bundle / AGENT_FILE} is not valid TOML: {exc}") from None
    try:
        identity, home = str(agent["identity"]), str(agent["home_domain"])
    except KeyError as exc:
        raise UsageError(f"{bundle / AGENT_FILE} lacks the key {exc.args[0]}") from None
    if not (bundle / "swanctl.conf").is_file():
        raise UsageError(f"{bundle} holds no swanctl.conf (is it a bundle?)")
    if a.nameserver is not None:
        _check_nameserver(a.nameserver)
    if a.interface is not None and not (Path("/sys/class/net") / a.interface).exists():
        raise UsageError(f"no interface named {a.interface!r} on this host")
    if a.no_dhcp and a.no_srv:
        raise UsageError("--no-dhcp and --no-srv leave no way to find a home agent")
    return Options(
        bundle=bundle, identity=identity, home_domain=home.rstrip(".").lower(),
        conn=str(agent.get("connection", "home")), child=str(agent.get("child", "home")),
        interface=a.interface, nameserver=a.nameserver, vici=a.vici, run_dir=Path(a.run_dir),
        status=Path(a.status) if a.status else None, use_dhcp=not a.no_dhcp,
        use_srv=not a.no_srv, dpd_delay=a.dpd_delay, connect_timeout=a.connect_timeout,
        poll=a.poll, discovery_timeout=a.discovery_timeout,
        tuning=choice.Tuning(holdoff=a.holdoff), verbose=a.verbose,
    )


def _check_nameserver(text: str) -> None:
    host, sep, port = text.rpartition("#")
    host = host if sep else text
    try:
        ipaddress.ip_address(host)
        if sep and not 1 <= int(port) <= 65535:
            raise ValueError(port)
    except ValueError:
        raise UsageError(f"--nameserver must be ADDRESS or ADDRESS#PORT, not {text!r}") from None


class Agent:
    """Carries out :func:`choice.step`'s actions against charon and the network."""

    def __init__(self, opts: Options) -> None:
        self.o = opts
        self.charon = Charon(opts.vici, opts.bundle, opts.run_dir, opts.conn, opts.child,
                             opts.dpd_delay, timeout=opts.connect_timeout)
        self.state = choice.State()
        self.events: deque[choice.Event] = deque()
        self.stopping = False
        self._last_status: dict[str, Any] = {}

    def feed(self, event: choice.Event) -> None:
        self.state, actions = choice.step(self.state, event, time.monotonic(), self.o.tuning)
        for action in actions:
            self._do(action)
        self._status()

    def _do(self, action: choice.Action) -> None:
        if isinstance(action, choice.Discover):
            found = discover.discover(self.o.interface, self.o.home_domain, self.o.nameserver,
                                      self.o.use_dhcp, self.o.use_srv, self.o.discovery_timeout)
            log.info("discovery: DHCPv6 %s (%s), SRV %s (%s)",
                     list(found.dhcp) or "none", _secs(found.dhcp_seconds),
                     list(found.srv) or "none", _secs(found.srv_seconds))
            self.events.append(choice.Discovered(found.dhcp, found.srv))
        elif isinstance(action, choice.Connect):
            self.events.append(self._connect(action.ha))

    def _connect(self, ha: str) -> choice.Event:
        t0 = time.monotonic()
        try:
            self.charon.terminate_all()
            self.charon.load(ha)
            self.charon.initiate(self.o.connect_timeout)
            sas = [sa for sa in self.charon.sas() if sa.established]
        except CharonError as exc:
            log.warning("home agent %s: %s", ha, exc)
            return choice.ConnectFailed(ha, str(exc))
        if not sas or not sas[0].vips:
            return choice.ConnectFailed(ha, "no IKE_SA with a home address after initiate")
        hoa = sas[0].vips[0]
        log.info("up on home agent %s with home address %s (%.2f s)", sas[0].remote,
                 ", ".join(sas[0].vips), time.monotonic() - t0)
        return choice.Up(sas[0].remote, hoa)

    def watch(self) -> choice.Event:
        """One look at charon while up: lost, moved (redirect), or nothing new."""
        if self.state.phase != "up" or self.state.current is None:
            return choice.Tick()
        try:
            sas = [sa for sa in self.charon.sas() if sa.established]
        except CharonError as exc:
            return choice.Lost(self.state.current, str(exc))
        if not sas:
            log.warning("IKE_SA with %s is gone (DPD timeout or IKE down)", self.state.current)
            return choice.Lost(self.state.current, "IKE_SA gone")
        if sas[0].remote != self.state.current:
            log.info("redirected from %s to %s", self.state.current, sas[0].remote)
            return choice.Moved(sas[0].remote)
        return choice.Tick()

    def run(self) -> None:
        self.feed(choice.Tick())
        while not self.stopping:
            while self.events and not self.stopping:
                self.feed(self.events.popleft())
            time.sleep(self.o.poll)
            self.events.append(self.watch())

    def _status(self) -> None:
        if self.o.status is None:
            return
        st = {"phase": self.state.phase, "ha": self.state.current, "hoa": self.state.hoa,
              "candidates": list(self.state.candidates)}
        if st == self._last_status:
            return
        self._last_status = st
        tmp = self.o.status.with_suffix(".tmp")
        tmp.write_text(json.dumps(st) + "\n")
        os.replace(tmp, self.o.status)


def _secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def main(argv: list[str] | None = None) -> None:
    try:
        opts = options(argv)
    except UsageError as exc:
        print(f"mip6-mn: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=logging.DEBUG if opts.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s")
    agent = Agent(opts)

    def stop(_sig: int, _frame: object) -> None:
        agent.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("agent for %s (home domain %s), charon at %s", opts.identity, opts.home_domain,
             opts.vici)
    with contextlib.suppress(KeyboardInterrupt):
        agent.run()
    sys.exit(0)
