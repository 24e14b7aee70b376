"""A real BIND 9 ``named`` on loopback for the DNS tests and the benchmark.

Each instance gets its own directory (config, zones, journals, keys made by
``tsig-keygen``), a port in 15300-15399, no rndc control channel, and an
update-policy like a production primary's: the publisher key may touch only
``_mip6._ipv6`` SRV, AAAA/A under the forward zone and PTR in the reverse
zones.  ``www`` and a TXT record are operator data we must never touch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

FORWARD = "example.com."
REVERSE6 = "8.b.d.0.1.0.0.2.ip6.arpa."
REVERSE4 = "2.0.192.in-addr.arpa."
ZONES = (FORWARD, REVERSE6, REVERSE4)
PORTS = range(15300, 15400)


def free_port() -> int:
    """A port of our range free on 127.0.0.1 for both UDP and TCP."""
    start = (os.getpid() * 7) % len(PORTS)
    for i in range(len(PORTS)):
        port = PORTS[(start + i) % len(PORTS)]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(
                socket.AF_INET, socket.SOCK_DGRAM
            ) as u:
                t.bind(("127.0.0.1", port))
                u.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port in 15300-15399")


def keygen(name: str, path: Path) -> Path:
    out = subprocess.run(
        ["tsig-keygen", "-a", "hmac-sha256", name], check=True, capture_output=True, text=True
    ).stdout
    path.write_text(out)
    return path


class Named:
    """One named process; ``start``/``stop`` keep the zone data (journals) between runs."""

    def __init__(self, workdir: Path, port: int | None = None, update_quota: int = 100) -> None:
        if shutil.which("named") is None:
            raise RuntimeError("named (BIND 9) is not installed: apt-get install bind9")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.proc: subprocess.Popen[bytes] | None = None
        self.key_file = keygen("mip6-pub.", self.dir / "mip6-pub.key")
        self.wrong_secret_file = keygen("mip6-pub.", self.dir / "wrong-secret.key")
        self.stranger_file = keygen("stranger.", self.dir / "stranger.key")
        self._write_config(update_quota)

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"

    def _write_config(self, update_quota: int) -> None:
        d = self.dir
        zones = ""
        files = {FORWARD: "forward.zone", REVERSE6: "reverse6.zone", REVERSE4: "reverse4.zone"}
        policy = {
            FORWARD: f"grant mip6-pub. name _mip6._ipv6.{FORWARD} SRV;\n"
            f"        grant mip6-pub. subdomain {FORWARD} AAAA A;",
            REVERSE6: f"grant mip6-pub. subdomain {REVERSE6} PTR;",
            REVERSE4: f"grant mip6-pub. subdomain {REVERSE4} PTR;",
        }
        for zone, fname in files.items():
            zones += (
                f'zone "{zone}" {{\n    type primary;\n    file "{d / fname}";\n'
                f"    update-policy {{\n        {policy[zone]}\n    }};\n"
                f"    allow-transfer {{ key mip6-pub.; }};\n}};\n"
            )
            extra = ""
            if zone == FORWARD:
                extra = 'www IN AAAA 2001:db8::80\nwww IN TXT "operator data"\n'
            (d / fname).write_text(
                "$TTL 300\n@ IN SOA ns1.example.com. hostmaster.example.com. "
                "( 1 3600 600 604800 300 )\n  IN NS ns1.example.com.\n" + extra
                + ("ns1 IN AAAA 2001:db8::53\n" if zone == FORWARD else "")
            )
        (d / "named.conf").write_text(
            f"""options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 port {self.port} {{ ::1; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-query {{ localhost; }};
    allow-transfer {{ none; }};
    update-quota {update_quota};
    max-journal-size unlimited;
}};
controls {{ }};
include "{self.key_file}";
logging {{
    channel main {{ file "{d}/named.log" versions 2 size 20m; severity info; print-time yes;
                   print-category yes; print-severity yes; }};
    category default {{ main; }}; category update {{ main; }};
    category update-security {{ main; }}; category security {{ main; }};
    category lame-servers {{ null; }};
}};
{zones}"""
        )
        subprocess.run(["named-checkconf", str(d / "named.conf")], check=True)

    def start(self, timeout: float = 20.0) -> None:
        assert self.proc is None, "named already running"
        self.proc = subprocess.Popen(
            ["named", "-f", "-c", str(self.dir / "named.conf"), "-n", "2"],
            stdout=open(self.dir / "named.stderr", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.dir / "named.stderr").read_text(errors="replace")[-2000:]
                self.proc = None
                raise RuntimeError(f"named exited at start: {err}")
            if all(self._soa_ok(z) for z in ZONES):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("named did not serve its zones within 20 s")

    def _soa_ok(self, zone: str) -> bool:
        try:
            q = dns.message.make_query(zone, "SOA")
            r = dns.query.udp(q, self.host, port=self.port, timeout=0.5)
        except Exception:
            return False
        return r.rcode() == dns.rcode.NOERROR and bool(r.answer)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def query(self, name: str, rdtype: str) -> list[str]:
        """Sorted rdata texts of (name, rdtype) as a resolver would see them."""
        q = dns.message.make_query(name, rdtype)
        r = dns.query.tcp(q, self.host, port=self.port, timeout=5)
        out: list[str] = []
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.from_text(rdtype):
                out += [rd.to_text() for rd in rrset]
        return sorted(out)

    def dig(self, name: str, rdtype: str) -> list[str]:
        """The same through ``dig +short`` (the operator's tool)."""
        out = subprocess.run(
            ["dig", "+short", "+tcp", "-p", str(self.port), "@" + self.host, name, rdtype],
            check=True, capture_output=True, text=True, timeout=10,
        ).stdout
        return sorted(line for line in out.splitlines() if line)

    def log(self) -> str:
        p = self.dir / "named.log"
        return p.read_text(errors="replace") if p.exists() else ""


