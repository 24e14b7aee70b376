"""A home link with two HA hosts, a visited link behind a relaying router, an MN with mip6-mn.

Namespaces ``mipr-<tag>-*`` (addresses only from 2001:db8::/32):

* ``sw``: the two links as bridges ``home`` and ``visit``;
* home link 2001:db8:1::/64 (the home prefix, so HoAs are on-link here):
  ``ha1`` ::1, ``ha2`` ::2 (charon + bootstrapd each, one PostgreSQL store),
  ``dns`` ::53 (named), ``cn`` ::c (a correspondent), ``rt`` ::fe (the router);
* visited link 2001:db8:2::/64: ``rt`` ::1 (ISC dhcrelay towards ha1's DHCPv6
  responder), ``vh`` ::5 (a host of the visited network), ``mn`` ::100 (care-of
  address; charon with kernel-libipsec, the agent).

Every process is started here, in its own session, and stopped by PID; the
namespaces, the per-namespace resolv.conf (``/etc/netns/NAME``) and the
processes go in :meth:`Lab.close`, also after a failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "mipr-"
HOME_NET, VISIT_NET = "2001:db8:1::", "2001:db8:2::"
HA1, HA2, DNS, CN, RT_HOME = "2001:db8:1::1", "2001:db8:1::2", "2001:db8:1::53", \
    "2001:db8:1::c", "2001:db8:1::fe"
RT_VISIT, VH, MN_COA = "2001:db8:2::1", "2001:db8:2::5", "2001:db8:2::100"
ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv" / "bin"

HOSTS = {  # name -> (link, address)
    "ha1": ("home", HA1), "ha2": ("home", HA2), "dns": ("home", DNS), "cn": ("home", CN),
    "vh": ("visit", VH), "mn": ("visit", MN_COA),
}


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True,
                          timeout=timeout)


def wait_for(pred: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} (after {timeout} s)")
        time.sleep(interval)


@dataclass
class Proc:
    """A process of the lab, in its own session, its output in ``log``."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, env=self.env,
            )

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
            try:
                proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Lab:
    root: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    procs: list[Proc] = field(default_factory=list)

    def ns(self, host: str) -> str:
        return f"{PREFIX}{self.tag}-{host}"

    # ------------------------------------------------------------ topology
    def create(self) -> None:
        sw = self.ns("sw")
        run("ip", "netns", "add", sw)
        run("ip", "-n", sw, "link", "set", "lo", "up")
        for br in ("home", "visit"):
            run("ip", "-n", sw, "link", "add", br, "type", "bridge")
            run("ip", "-n", sw, "link", "set", br, "up")
        for host, (link, addr) in HOSTS.items():
            self._host(host, [(link, "eth0", addr)])
        self._host("rt", [("home", "eth0", RT_HOME), ("visit", "eth1", RT_VISIT)])
        run("ip", "netns", "exec", self.ns("rt"), "sysctl", "-qw",
            "net.ipv6.conf.all.forwarding=1")
        for host in ("ha1", "ha2"):  # HAs forward what they tunnel
            run("ip", "netns", "exec", self.ns(host), "sysctl", "-qw",
                "net.ipv6.conf.all.forwarding=1")
        for host, (link, _addr) in HOSTS.items():
            gw = RT_HOME if link == "home" else RT_VISIT
            run("ip", "-n", self.ns(host), "-6", "route", "add", "default", "via", gw)
        for host in ("cn", "vh", "mn"):
            d = Path("/etc/netns") / self.ns(host)
            d.mkdir(parents=True, exist_ok=True)
            (d / "resolv.conf").write_text(f"nameserver {DNS}\n")

    def _host(self, host: str, links: list[tuple[str, str, str]]) -> None:
        ns, sw = self.ns(host), self.ns("sw")
        run("ip", "netns", "add", ns)
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0",
            "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.default.accept_ra=0")
        for link, ifname, addr in links:
            peer = f"{host}-{ifname}"
            run("ip", "-n", sw, "link", "add", peer, "type", "veth", "peer", "name", ifname,
                "netns", ns)
            run("ip", "-n", sw, "link", "set", peer, "master", link, "up")
            run("ip", "-n", ns, "link", "set", ifname, "up")
            run("ip", "-n", ns, "addr", "add", f"{addr}/64", "dev", ifname, "nodad")

    # ------------------------------------------------------------ processes
    def spawn(self, host: str, name: str, *argv: str, env: dict[str, str] | None = None) -> Proc:
        p = Proc(name, ["ip", "netns", "exec", self.ns(host), *argv], self.root / f"{name}.log",
                 env)
        p.start()
        self.procs.append(p)
        return p

    def exec(self, host: str, *argv: str, check: bool = False,
             timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.ns(host), *argv, check=check, timeout=timeout)

    def ping(self, host: str, target: str, count: int = 1, wait: float = 2) -> bool:
        r = self.exec(host, "ping", "-6", "-n", "-c", str(count), "-W", f"{wait:g}", target)
        return r.returncode == 0

    def dig(self, host: str, name: str, rdtype: str) -> list[str]:
        r = self.exec(host, "dig", "+short", "+tcp", "+time=2", "+tries=1", f"@{DNS}", name,
                      rdtype, check=True)
        return sorted(line for line in r.stdout.splitlines() if line)

    def proxies(self, host: str) -> list[str]:
        out = self.exec(host, "ip", "-6", "neigh", "show", "proxy", "dev", "eth0",
                        check=True).stdout
        return sorted(line.split()[0] for line in out.splitlines() if line.strip())

    def close(self) -> None:
        for p in reversed(self.procs):
            with contextlib.suppress(Exception):
                p.stop()
        out = run("ip", "netns", "list", check=False).stdout.splitlines()
        for line in out:
            name = line.split()[0] if line.strip() else ""
            if name.startswith(f"{PREFIX}{self.tag}-"):
                run("ip", "netns", "del", name, check=False)
        for host in HOSTS:
            shutil.rmtree(Path("/etc/netns") / self.ns(host), ignore_errors=True)


def status(path: Path) -> dict[str, Any]:
    """The agent's JSON status line (empty before its first write)."""
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


FORWARD, REVERSE = "example.com.", "8.b.d.0.1.0.0.2.ip6.arpa."


def start_named(lab: Lab) -> tuple[Proc, Path]:
    """BIND named on the home link (2001:db8:1::53 port 53), primary for the two zones,
    RFC 2136 updates allowed for the TSIG key the DNS publisher holds (returned)."""
    d = lab.root / "named"
    d.mkdir(parents=True, exist_ok=True)
    key = d / "mip6-pub.key"
    key.write_text(run("tsig-keygen", "-a", "hmac-sha256", "mip6-pub.").stdout)
    zones = ""
    policy = {FORWARD: f"grant mip6-pub. name _mip6._ipv6.{FORWARD} SRV;\n"
                       f"        grant mip6-pub. subdomain {FORWARD} AAAA A;",
              REVERSE: f"grant mip6-pub. subdomain {REVERSE} PTR;"}
    for i, zone in enumerate((FORWARD, REVERSE)):
        (d / f"z{i}.zone").write_text(
            "$TTL 60\n@ IN SOA ns1.example.com. hostmaster.example.com. (1 3600 600 604800 60)\n"
            "  IN NS ns1.example.com.\n" + (f"ns1 IN AAAA {DNS}\n" if i == 0 else ""))
        zones += (f'zone "{zone}" {{ type primary; file "{d}/z{i}.zone";\n'
                  f"  update-policy {{ {policy[zone]} }};\n"
                  f"  allow-transfer {{ key mip6-pub.; }}; }};\n")
    (d / "named.conf").write_text(f"""options {{
    directory "{d}"; pid-file "{d}/named.pid"; session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on {{ none; }}; listen-on-v6 port 53 {{ {DNS}; }};
    recursion no; dnssec-validation no; notify no; allow-query {{ any; }};
    max-journal-size unlimited;
}};
controls {{ }};
include "{key}";
logging {{ channel main {{ file "{d}/named.log"; severity info; print-time yes; }};
          category default {{ main; }}; category update {{ main; }}; }};
{zones}""")
    run("named-checkconf", str(d / "named.conf"))
    p = lab.spawn("dns", "named", "named", "-f", "-c", str(d / "named.conf"), "-n", "1")
    wait_for(lambda: lab.exec("cn", "dig", "+short", "+time=1", "+tries=1", f"@{DNS}",
                              FORWARD, "SOA").stdout.strip(), 20, "named did not answer")
    return p, key
