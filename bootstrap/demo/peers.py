"""The real peers of the demo, started in the lab: named, charon, bootstrapd, dhcrelay, dhclient.

Each config file is rendered from a Jinja2 template of ``bootstrap/demo/templates``.  charon
runs in a private mount namespace with its own directory bound over ``/run`` (charon
hard-codes ``/run/charon.pid``), so two charons of two namespaces do not see each other's
pid file.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2
import vici

from .lab import (
    CN_ADDRESS,
    DNS_ADDRESS,
    HA_ADDRESSES,
    RTR_HOME,
    VISITED_PREFIX,
    Lab,
    LabError,
    Process,
    in_ns,
    run,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHARON = "/usr/lib/ipsec/charon"
KEY_NAME = "mip6-demo."
FORWARD = "example.com"
REVERSE = "8.b.d.0.1.0.0.2.ip6.arpa"
BIN = Path(sys.executable).parent

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    autoescape=jinja2.select_autoescape(["html.j2", "svg.j2"], default=False),
)


def render(template: str, path: Path, **values: Any) -> Path:
    """Write ``template`` rendered with ``values`` to ``path``."""
    path.write_text(_ENV.get_template(template).render(**values))
    return path


def render_text(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)


def start_named(lab: Lab) -> tuple[Process, Path]:
    """named in ``srv`` on [2001:db8:1::53]:53 with the two zones; returns it and its key file."""
    d = lab.root / "named"
    d.mkdir(exist_ok=True)
    key = d / "mip6-demo.key"
    key.write_text(run("tsig-keygen", "-a", "hmac-sha256", KEY_NAME).stdout)
    key.chmod(0o600)
    zones = []
    for name, forward in ((FORWARD, True), (REVERSE, False)):
        f = render("zone.j2", d / f"{name}.zone", domain=FORWARD, forward=forward,
                   ns_address=DNS_ADDRESS, cn_address=CN_ADDRESS)
        zones.append({"name": name, "file": str(f), "forward": forward})
    conf = render("named.conf.j2", d / "named.conf", dir=str(d), address=DNS_ADDRESS,
                  key_name=KEY_NAME, key_file=str(key), zone_files=zones,
                  zones=[FORWARD, REVERSE])
    run("named-checkconf", str(conf))
    proc = lab.start("named", in_ns(lab.ns("srv"), "named", "-f", "-c", str(conf), "-n", "1"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if dig(lab, "ns1.example.com", "AAAA") == [DNS_ADDRESS]:
            return proc, key
        if not proc.alive():
            break
        time.sleep(0.2)
    raise LabError("named did not answer for example.com within 20 s (see logs/named.log)")


def dig(lab: Lab, name: str, rdtype: str, ns_role: str = "mn") -> list[str]:
    """``dig +short`` from namespace ``ns_role`` against the demo's named."""
    r = run(*in_ns(lab.ns(ns_role), "dig", "+short", "+time=2", "+tries=1", f"@{DNS_ADDRESS}",
                   name, rdtype), check=False)
    return sorted(line for line in r.stdout.splitlines() if line and not line.startswith(";"))


class Charon:
    """One charon in a lab namespace, its files under ``d``."""

    def __init__(self, lab: Lab, role: str, ns: str, includes: tuple[Path, ...] = ()) -> None:
        self.lab = lab
        self.role = role
        self.ns = ns
        self.dir = lab.root / f"charon-{role}"
        self.includes = includes
        self.proc: Process | None = None

    @property
    def socket_path(self) -> Path:
        return self.dir / "charon.vici"

    def start(self, timeout: float = 15.0) -> None:
        d = self.dir
        (d / "run").mkdir(parents=True, exist_ok=True)
        kind = "mn" if self.role == "mn" else "ha"
        render("strongswan.conf.j2", d / "strongswan.conf", role=kind, ns=self.ns, dir=str(d),
               log=str(self.lab.logs / f"charon-{self.role}.log"),
               includes=[str(p) for p in self.includes])
        self.socket_path.unlink(missing_ok=True)
        script = f"mount --bind {d}/run /run && exec {CHARON}"
        self.proc = self.lab.start(
            f"charon-{self.role}",
            in_ns(self.ns, "unshare", "-m", "--propagation", "private", "sh", "-c", script),
            env={"STRONGSWAN_CONF": str(d / "strongswan.conf")},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                s = self.session(2.0)
                s.version()
                s.transport.close()
                return
            if not self.proc.alive():
                break
            time.sleep(0.05)
        raise LabError(f"charon of {self.role} did not open its VICI socket within {timeout:.0f} s")

    def session(self, timeout: float = 30.0) -> vici.Session:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(timeout)
        try:
            sock.connect(str(self.socket_path))
        except OSError:
            sock.close()
            raise
        return vici.Session(sock)

    def sas(self) -> list[dict[str, Any]]:
        """The IKE SAs with their state, remote host and virtual IPs (text values)."""
        s = self.session(5.0)
        try:
            out: list[dict[str, Any]] = []
            for sa in s.list_sas():
                for _name, v in _dec(sa).items():
                    out.append(v)
            return out
        finally:
            s.transport.close()


def _dec(o: Any) -> Any:
    if isinstance(o, bytes):
        return o.decode(errors="replace")
    if isinstance(o, dict):
        return {k: _dec(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_dec(v) for v in o]
    return o


def bootstrap_config(lab: Lab, db_url: str, role: str, vici_socket: Path | None,
                     dns_key: Path, web_listen: str = "127.0.0.1:0") -> Path:
    """The bootstrap.toml of one HA host (``ha1``/``ha2``), of the operator or of the web UI."""
    store = lab.root / "store"
    store.mkdir(exist_ok=True)
    is_ha = role in HA_ADDRESSES
    return render(
        "bootstrap.toml.j2", lab.root / f"bootstrap-{role}.toml",
        ha_fqdn=f"{role}.example.com" if is_ha else "ha1.example.com", ns=role, db_url=db_url,
        secret_key_file=str(store / "bootstrap.secret"),
        credentials_dir=str(store / "credentials"), visited_prefix=VISITED_PREFIX,
        dns_address=DNS_ADDRESS, tsig_key_file=str(dns_key),
        vici_socket=str(vici_socket or "/nonexistent"), dhcp=is_ha, dns=is_ha, vici=is_ha,
        web=role == "web", web_listen=web_listen, home_interface="eth0" if is_ha else "",
    )


def start_bootstrapd(lab: Lab, role: str, config: Path) -> Process:
    """bootstrapd of HA host ``role`` in its namespace: DHCP, DNS publisher, VICI bridge.

    Not waited for: the caller starts both hosts, then waits for each (``wait_ready``).
    """
    proc = lab.start(f"bootstrapd-{role}",
                     in_ns(lab.ns(role), str(BIN / "bootstrapd"), "--config", str(config)))
    return proc


def wait_ready(lab: Lab, proc: Process) -> None:
    """Until bootstrapd's DHCP service and VICI bridge have said they run."""
    lab.wait_log(proc, "dhcp: home information", 40)
    lab.wait_log(proc, "vici: bridge for", 20)


def start_relay(lab: Lab) -> Process:
    """ISC dhcrelay on the visited link, forwarding to both HA hosts' DHCP service."""
    argv = ["dhcrelay", "-6", "-d", "-pf", str(lab.root / "dhcrelay.pid"), "-l", "eth1"]
    for addr in HA_ADDRESSES.values():
        argv += ["-u", f"{addr}%eth0"]
    proc = lab.start("dhcrelay", in_ns(lab.ns("rtr"), *argv))
    time.sleep(0.5)
    if not proc.alive():
        raise LabError("dhcrelay exited at start (see logs/dhcrelay.log)")
    return proc


def dhclient(lab: Lab, name: str, home_domain: str | None, timeout: float = 15.0) -> dict[str, str]:
    """One stateless ``dhclient -6 -S`` exchange in ``mn``; the ``new_*`` values it received."""
    d = lab.root / "mn"
    d.mkdir(exist_ok=True)
    envlog = d / f"{name}.env"
    envlog.unlink(missing_ok=True)
    conf = render("dhclient6.conf.j2", d / f"{name}.conf", home_domain=home_domain)
    script = render("dhclient-script.sh.j2", d / f"{name}.sh", envlog=str(envlog))
    script.chmod(0o755)
    proc = lab.start(f"dhclient-{name}", in_ns(
        lab.ns("mn"), "dhclient", "-6", "-S", "-d", "-v", "-1", "-cf", str(conf), "-sf",
        str(script), "-lf", str(d / f"{name}.leases"), "-pf", str(d / f"{name}.pid"), "eth0"))
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.alive():
            if envlog.exists() and "new_" in envlog.read_text():
                break
            time.sleep(0.1)
    finally:
        proc.stop()
    values: dict[str, str] = {}
    if envlog.exists():
        for line in envlog.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.startswith("new_"):
                values[key] = value.strip("'")
    return values


def bootstrapctl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The operator's CLI, as the operator runs it."""
    return subprocess.run([str(BIN / "bootstrapctl"), "--config", str(config), *args],
                          capture_output=True, text=True, timeout=90)


def ping(lab: Lab, source: str, dest: str = CN_ADDRESS) -> bool:
    """One ICMPv6 echo from ``source`` (the HoA) in ``mn``."""
    r = run(*in_ns(lab.ns("mn"), "ping", "-6", "-c", "1", "-W", "2", "-I", source, dest),
            check=False)
    return r.returncode == 0


def have(*tools: str) -> None:
    """Fail with one sentence when a peer binary is missing."""
    missing = [t for t in tools if shutil.which(t) is None and not Path(t).exists()]
    if missing:
        raise LabError(f"missing {', '.join(missing)}: run 'make deps' (scripts/ensure-deps.sh)")


__all__ = ["RTR_HOME", "Charon", "bootstrap_config", "bootstrapctl", "dhclient", "dig", "have",
           "ping", "render", "render_text", "start_bootstrapd", "start_named", "start_relay"]
