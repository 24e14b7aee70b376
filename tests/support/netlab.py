"""Network namespaces and charon instances for the strongSwan bridge tests and bench.

Layout (addresses only from 2001:db8::/32 and 192.0.2.0/24, inside namespaces
named ``mipi-<tag>-*`` that this module creates and deletes):

* ``mipi-<tag>-ha``: bridge ``br0`` = the visited link 2001:db8:0:1::/64 with
  the HA's link address 2001:db8:0:1::1; the HA's store address(es) on ``lo``.
* ``mipi-<tag>-mnK``: veth ``eth0`` into ``br0``, care-of address
  2001:db8:0:1::1:K, default route via the HA's link address.

Each charon runs in its namespace *and* a private mount namespace with its
own directory bound over ``/run`` (5.9.8 hard-codes ``/var/run/charon.pid``),
its own ``strongswan.conf`` (``STRONGSWAN_CONF``) and VICI socket, in its own
session so a signal to the test's process group does not reach it; it is
stopped by PID.  kernel-libipsec comes before kernel-netlink: ESP runs in
charon's userspace, so the tests do not depend on the host kernel's XFRM support.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import vici

CHARON = "/usr/lib/ipsec/charon"
PREFIX = "mipi-"
LINK_PREFIX = "2001:db8:0:1::"
HA_LINK = "2001:db8:0:1::1"

PLUGINS = (
    "random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints revocation sha1 sha2 md5"
    " hmac aes gmp curve25519 kdf kernel-libipsec kernel-netlink socket-default vici attr"
    " eap-identity eap-mschapv2 eap-tls counters"
)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True)


def care_of(k: int) -> str:
    return f"2001:db8:0:1::1:{k:x}"


def new_tag() -> str:
    return secrets.token_hex(2)


def our_namespaces(tag: str) -> list[str]:
    out = run("ip", "netns", "list").stdout.split("\n")
    names = [line.split()[0] for line in out if line.strip()]
    return [n for n in names if n.startswith(f"{PREFIX}{tag}-")]


class Topology:
    """One HA namespace with a bridge and ``n`` MN namespaces on it."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.ha = f"{PREFIX}{tag}-ha"
        self.mns: list[str] = []
        self.extra_has: list[str] = []

    def create(self, n_mn: int, ha_addresses: list[str]) -> None:
        ns = self.ha
        run("ip", "netns", "add", ns)
        self._basic(ns, forwarding=True)
        run("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", ns, "link", "set", "br0", "up")
        run("ip", "-n", ns, "addr", "add", f"{HA_LINK}/64", "dev", "br0", "nodad")
        for addr in ha_addresses:
            self.add_ha_address(addr)
        for _ in range(n_mn):
            self.add_mn()

    def add_ha_address(self, addr: str, ns: str | None = None) -> None:
        plen = 32 if "." in addr else 128
        run("ip", "-n", ns or self.ha, "addr", "add", f"{addr}/{plen}", "dev", "lo", "nodad")

    @staticmethod
    def _basic(ns: str, forwarding: bool = False) -> None:
        run("ip", "-n", ns, "link", "set", "lo", "up")
        sysctls = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]
        if forwarding:
            sysctls.append("net.ipv6.conf.all.forwarding=1")
        run("ip", "netns", "exec", ns, "sysctl", "-qw", *sysctls)

    def add_mn(self) -> str:
        k = len(self.mns) + 1
        ns = f"{PREFIX}{self.tag}-mn{k}"
        run("ip", "netns", "add", ns)
        self.mns.append(ns)
        self._basic(ns)
        run("ip", "-n", self.ha, "link", "add", f"vmn{k}", "type", "veth",
            "peer", "name", "eth0", "netns", ns)
        run("ip", "-n", self.ha, "link", "set", f"vmn{k}", "master", "br0", "up")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "addr", "add", f"{care_of(k)}/64", "dev", "eth0", "nodad")
        run("ip", "-n", ns, "-6", "route", "add", "default", "via", HA_LINK, "dev", "eth0")
        return ns

    def add_ha(self, link_addr: str, addresses: list[str]) -> str:
        """A second HA host on the same link (redirect target)."""
        k = len(self.extra_has) + 2
        ns = f"{PREFIX}{self.tag}-ha{k}"
        run("ip", "netns", "add", ns)
        self.extra_has.append(ns)
        self._basic(ns, forwarding=True)
        run("ip", "-n", self.ha, "link", "add", f"vha{k}", "type", "veth",
            "peer", "name", "eth0", "netns", ns)
        run("ip", "-n", self.ha, "link", "set", f"vha{k}", "master", "br0", "up")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "addr", "add", f"{link_addr}/64", "dev", "eth0", "nodad")
        for addr in addresses:
            self.add_ha_address(addr, ns)
        return ns

    def delete(self) -> None:
        for ns in our_namespaces(self.tag):
            run("ip", "netns", "del", ns, check=False)


def strongswan_conf(
    d: Path, role: str, includes: tuple[Path, ...] = (), threads: int = 16,
    loglevel: int = 1, extra_plugins: str = "", extra_charon: str = "",
) -> str:
    """A complete strongswan.conf for one instance living in directory ``d``."""
    mn = role == "mn"
    mn_plugins = """
    kernel-libipsec {
      allow_peer_ts = yes
    }
    kernel-netlink {
      fwmark = !0x42
    }
    socket-default {
      fwmark = 0x42
    }""" if mn else ""
    mn_charon = """
  retransmit_tries = 2
  retransmit_timeout = 1.0
  retransmit_base = 1.4""" if mn else ""
    inc = "\n".join(f"include {p}" for p in includes)
    return f"""# generated by ikev2_netlab for a {role}
charon {{
  load = {PLUGINS} {extra_plugins}
  threads = {threads}
  install_virtual_ip = yes
  cookie_threshold = 100000
  init_limit_half_open = 0{mn_charon}
  {extra_charon}
  filelog {{
    main {{
      path = {d}/charon.log
      time_format = %T
      time_add_ms = yes
      append = yes
      flush_line = yes
      default = {min(loglevel, 1)}
      ike = {loglevel}
      cfg = {loglevel}
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
    auth {{
      default = -1
    }}
  }}
  plugins {{
    vici {{
      socket = unix://{d}/charon.vici
    }}
    openssl {{
      load_legacy = yes
    }}{mn_plugins}
  }}
}}
{inc}
"""


class Charon:
    """One charon process in namespace ``ns`` with its files under ``d``."""

    def __init__(self, ns: str, d: Path, role: str, **conf: Any) -> None:
        self.ns = ns
        self.dir = d
        self.role = role
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None
        d.mkdir(parents=True, exist_ok=True)
        (d / "run").mkdir(exist_ok=True)

    @property
    def socket_path(self) -> str:
        return str(self.dir / "charon.vici")

    @property
    def log_path(self) -> Path:
        return self.dir / "charon.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, timeout: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"charon in {self.ns} already runs (pid {self.proc.pid})")
        d = self.dir
        (d / "strongswan.conf").write_text(strongswan_conf(d, self.role, **self.conf))
        for stale in (d / "charon.vici", d / "run" / "charon.pid"):
            stale.unlink(missing_ok=True)
        script = (
            f"mount --bind {d}/run /run && "
            f"STRONGSWAN_CONF={d}/strongswan.conf exec {CHARON}"
        )
        with open(d / "stdout", "ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, "unshare", "-m", "--propagation", "private",
                 "sh", "-c", script],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"charon in {self.ns} exited with {self.proc.returncode}: "
                    + (d / "stdout").read_text(errors="replace")[-2000:]
                )
            with contextlib.suppress(OSError):
                s = self.session(timeout=2.0)
                s.version()
                s.transport.close()
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"charon in {self.ns} did not answer on {self.socket_path}")

    def session(self, timeout: float | None = 30.0) -> vici.Session:
        sock = socket.socket(socket.AF_UNIX)
        if timeout:
            sock.settimeout(timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        return vici.Session(sock)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.proc = None

    def kill9(self) -> None:
        proc = self.proc
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        self.proc = None

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, pos: int) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(pos)
                return f.read()
        except OSError:
            return ""


def dec(o: Any) -> Any:
    if isinstance(o, bytes):
        return o.decode(errors="replace")
    if isinstance(o, dict):
        return {k: dec(v) for k, v in o.items()}
    if isinstance(o, list):
        return [dec(v) for v in o]
    return o


class Mn:
    """Control of an MN charon: load a swanctl bundle, initiate, read its virtual IPs."""

    def __init__(self, charon: Charon) -> None:
        self.charon = charon

    def swanctl(
        self, *args: str, swanctl_dir: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        if swanctl_dir is not None:
            env["SWANCTL_DIR"] = str(swanctl_dir)
        return subprocess.run(
            ["swanctl", *args, "--uri", f"unix://{self.charon.socket_path}"],
            capture_output=True, text=True, env=env, timeout=60,
        )

    def load_bundle(self, bundle_dir: Path) -> None:
        self.reset()
        r = self.swanctl("--load-all", "--noprompt", swanctl_dir=bundle_dir)
        if r.returncode != 0:
            raise RuntimeError(f"swanctl --load-all failed: {r.stdout}{r.stderr}")

    def reset(self) -> None:
        """Forget every SA, connection and credential (between tests)."""
        s = self.charon.session()
        try:
            for sa in list(s.list_sas()):
                for _name, v in dec(sa).items():
                    with contextlib.suppress(vici.exception.CommandException):
                        for _ in s.terminate({"ike-id": v["uniqueid"], "force": "yes",
                                              "timeout": "-1", "loglevel": "-1"}):
                            pass
            for c in dec(s.get_conns()).get("conns", []):
                s.unload_conn({"name": c})
            s.clear_creds()
            for name in list(dec(s.get_pools()).keys()):
                with contextlib.suppress(vici.exception.CommandException):
                    s.unload_pool({"name": name})
        finally:
            s.transport.close()

    def initiate(
        self, conn: str = "home", child: str = "home", timeout_ms: int = 20000
    ) -> tuple[bool, str]:
        s = self.charon.session(timeout=timeout_ms / 1000 + 10)
        logs = []
        try:
            for ev in s.initiate({"child": child, "ike": conn, "timeout": str(timeout_ms),
                                  "loglevel": "1"}):
                logs.append(str(dec(ev).get("msg")))
            return True, "\n".join(logs)
        except vici.exception.CommandException as exc:
            logs.append(f"CommandException: {exc}")
            return False, "\n".join(logs)
        finally:
            s.transport.close()

    def sas(self) -> list[dict[str, Any]]:
        s = self.charon.session()
        try:
            out = []
            for sa in s.list_sas():
                for name, v in dec(sa).items():
                    v["conn"] = name
                    out.append(v)
            return out
        finally:
            s.transport.close()

    def vips(self) -> list[str]:
        return [v for sa in self.sas() if sa.get("state") == "ESTABLISHED"
                for v in sa.get("local-vips", [])]

    def terminate_all(self, force: bool = False) -> None:
        s = self.charon.session()
        try:
            for sa in self.sas():
                msg = {"ike-id": sa["uniqueid"], "timeout": "5000", "loglevel": "-1"}
                if force:
                    msg.update({"force": "yes", "timeout": "-1"})
                with contextlib.suppress(vici.exception.CommandException):
                    for _ in s.terminate(msg):
                        pass
        finally:
            s.transport.close()


def wait_for(pred: Any, timeout: float, interval: float = 0.1) -> Any:
    """Poll ``pred()`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


@contextlib.contextmanager
def topology(n_mn: int, ha_addresses: list[str]) -> Iterator[Topology]:
    topo = Topology(new_tag())
    try:
        topo.create(n_mn, ha_addresses)
        yield topo
    finally:
        topo.delete()
