"""The six acts of ``make demo``, each a function of the running :class:`Demo`.

An act returns what it checked (one line) or raises :class:`~.lab.LabError` with one
sentence saying what did not happen; :mod:`.runner` times it and stops at the first
failure.  The operator side is driven only through ``bootstrapctl``, as an operator would;
the MN side is what a mobile node does on its own: DHCPv6 through the relay, DNS, IKEv2 to
the HA it was told, and, when its SA dies, the same discovery again.
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import peers
from .lab import CN_ADDRESS, DNS_ADDRESS, HA_ADDRESSES, Lab, LabError, Process, in_ns, run

IDENTITY = "mn@example.com"
HNP, HAA = 71, 72  # RFC 6610 sub-options: home network prefix, home agent address
MN_FQDN_RE = re.compile(r"^[a-z0-9.-]+$")


@dataclass
class SaSample:
    """One look at the MN's IKE SAs: seconds since the start, the HA serving it (or None)."""

    t: float
    ha: str | None


@dataclass
class Demo:
    """Everything the acts share: the lab, the peers, what the MN learned."""

    lab: Lab
    t0: float = field(default_factory=time.monotonic)
    operator_config: Path | None = None
    ha_charons: dict[str, peers.Charon] = field(default_factory=dict)
    bootstrapds: dict[str, Process] = field(default_factory=dict)
    mn: peers.Charon | None = None
    hoa: str = ""
    fqdn: str = ""
    bundle: Path | None = None
    told_has: list[str] = field(default_factory=list)
    home_prefix: str = ""
    samples: list[SaSample] = field(default_factory=list)
    agent: Process | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def cli(self, *args: str) -> dict[str, Any]:
        """``bootstrapctl ... --json``; a failure is one sentence with the CLI's own."""
        assert self.operator_config is not None
        r = peers.bootstrapctl(self.operator_config, *args, "--json")
        if r.returncode != 0:
            raise LabError(f"bootstrapctl {' '.join(args[:3])} failed: {r.stderr.strip()[:300]}")
        out: dict[str, Any] = json.loads(r.stdout) if r.stdout.strip() else {}
        return out

    # -- the MN's SA, sampled for the timeline ------------------------------------------------

    def serving_ha(self) -> str | None:
        """The HA role (``ha1``/``ha2``) of the MN's established SA with the HoA, or None."""
        if self.mn is None or self.mn.proc is None or not self.mn.proc.alive():
            return None
        try:
            sas = self.mn.sas()
        except OSError:
            return None
        for sa in sas:
            if sa.get("state") == "ESTABLISHED" and self.hoa in sa.get("local-vips", []):
                for role, addr in HA_ADDRESSES.items():
                    if sa.get("remote-host") == addr:
                        return role
        return None

    def start_sampler(self) -> None:
        def loop() -> None:
            while not self._stop.wait(0.25):
                self.samples.append(SaSample(time.monotonic() - self.t0, self.serving_ha()))
        threading.Thread(target=loop, name="sa-sampler", daemon=True).start()

    def stop_sampler(self) -> None:
        self._stop.set()

    # -- the MN's own behaviour ----------------------------------------------------------------

    def discover(self, name: str) -> list[str]:
        """UDINF, then IDINF for example.com, through the relay; the HA addresses, best first."""
        ud = peers.dhclient(self.lab, f"{name}-udinf", None)
        if not any("mip6" in k for k in ud):
            raise LabError("the MN's dhclient got no home information (UDINF) through dhcrelay")
        idinf = peers.dhclient(self.lab, f"{name}-idinf", "example.com")
        haa = _suboptions(idinf.get("new_dhcp6_mip6_idinf", ""), HAA)
        hnp = _suboptions(idinf.get("new_dhcp6_mip6_idinf", ""), HNP)
        if not haa or not hnp:
            raise LabError(f"the IDINF answer for example.com named no HA or prefix: {idinf}")
        self.home_prefix = f"{ipaddress.IPv6Address(hnp[0][1:17])}/{hnp[0][0]}"
        return [str(ipaddress.IPv6Address(a)) for a in haa]

    def start_agent(self) -> None:
        """``mip6-mn``, the MN's agent: it discovers the HAs and points charon at the best one."""
        assert self.mn is not None and self.bundle is not None
        d = self.lab.root / "mn"
        self.agent = self.lab.start("mip6-mn", in_ns(
            self.lab.ns("mn"), str(peers.BIN / "mip6-mn"), "--bundle", str(self.bundle),
            "--interface", "eth0", "--nameserver", DNS_ADDRESS, "--vici",
            str(self.mn.socket_path), "--run-dir", str(d / "agent"), "--status",
            str(d / "status.json"), "--dpd-delay", "1", "--holdoff", "10", "-v"))

    def ha_state(self, role: str) -> str | None:
        """The state of HA ``role`` as ``bootstrapctl ha list`` shows it."""
        assert self.operator_config is not None
        r = peers.bootstrapctl(self.operator_config, "ha", "list", "--json")
        if r.returncode != 0:
            return None
        for ha in json.loads(r.stdout):
            if ha.get("fqdn", "").rstrip(".") == f"{role}.example.com":
                return str(ha.get("state"))
        return None

    def tunnel_packets(self) -> int:
        """ESP packets the MN sent through its child SA (the ping went through the tunnel)."""
        assert self.mn is not None
        total = 0
        for sa in self.mn.sas():
            for child in (sa.get("child-sas") or {}).values():
                total += int(child.get("packets-out", 0))
        return total

    def proxied_by(self) -> list[str]:
        """The HA hosts whose home-link interface answers ND for the HoA (proxy entries)."""
        out = []
        for role in HA_ADDRESSES:
            r = run("ip", "-n", self.lab.ns(role), "-6", "neigh", "show", "proxy", "dev", "eth0",
                    check=False)
            if any(line.split()[:1] == [self.hoa] for line in r.stdout.splitlines()):
                out.append(role)
        return out

    def wait(self, pred: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = pred()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise LabError(what)
            time.sleep(0.2)

    def binding_ha(self) -> str | None:
        """The HA of the MN's open binding in the store, as ``bootstrapctl show`` reports it."""
        shown = self.cli("show", IDENTITY)
        for b in shown.get("bindings", []):
            if b.get("down_at") is None and b.get("hoa") == self.hoa:
                return str(b.get("ha", "")).split(".")[0] or None
        return None

    def through_tunnel(self, role: str, alone: bool = True) -> None:
        """Ping the home host from the HoA while the MN is served by ``role``.

        ``alone``: no other HA host proxies the HoA (false after a kill -9, whose host
        keeps its kernel's entry: nothing of it runs to remove it).
        """
        self.wait(lambda: self.proxied_by() == [role] if alone else role in self.proxied_by(),
                  10,
                  f"{role} does not answer ND for the HoA on the home link (proxy entry)")
        before = self.tunnel_packets()
        self.wait(lambda: peers.ping(self.lab, self.hoa), 10,
                  f"no echo reply from {CN_ADDRESS} to the HoA {self.hoa} through {role}")
        if self.tunnel_packets() <= before:
            raise LabError(f"the ping to {CN_ADDRESS} did not go through the tunnel to {role}")


# -- the acts -----------------------------------------------------------------------------------


def act_operator(d: Demo) -> str:
    lab = d.lab
    peers.have("named", "dhcrelay", "dhclient", "swanctl", peers.CHARON, "dig", "tsig-keygen")
    lab.build()
    _named, key = peers.start_named(lab)
    db = f"sqlite:///{lab.root / 'store' / 'bootstrap.db'}"
    d.operator_config = peers.bootstrap_config(lab, db, "operator", None, key)
    d.cli("db", "upgrade")
    d.cli("ca", "init")
    d.cli("network", "add", "example.com", "--prefix", "2001:db8:1::/64", "--zone",
          "example.com", "--zone", peers.REVERSE)
    for role, addr in HA_ADDRESSES.items():
        d.cli("ha", "add", f"{role}.example.com", "--network", "example.com", "--address", addr)
    for role in HA_ADDRESSES:
        charon = peers.Charon(lab, role, lab.ns(role))
        charon.start()
        d.ha_charons[role] = charon
        cfg = peers.bootstrap_config(lab, db, role, charon.socket_path, key)
        d.bootstrapds[role] = peers.start_bootstrapd(lab, role, cfg)
    for proc in d.bootstrapds.values():
        peers.wait_ready(lab, proc)
    peers.start_relay(lab)
    enrolled = d.cli("enroll", IDENTITY)
    sub = enrolled.get("subscriber", enrolled)
    hoas = sub.get("hoas") or []
    d.hoa, d.fqdn = str(hoas[0]) if hoas else "", str(sub.get("fqdn", ""))
    if not d.hoa or not MN_FQDN_RE.match(d.fqdn):
        raise LabError(f"enroll {IDENTITY} returned no HoA or FQDN: {enrolled}")
    d.bundle = lab.root / "bundle"
    d.cli("export", IDENTITY, "--out", str(d.bundle))
    if not (d.bundle / "swanctl.conf").exists():
        raise LabError("bootstrapctl export wrote no swanctl.conf")
    wait_srv = d.wait(lambda: len(peers.dig(lab, "_mip6._ipv6.example.com", "SRV", "srv")) == 2,
                      15, "named never got the SRV records of the two HAs")
    assert wait_srv
    return (f"named + 2 HA hosts (charon, bootstrapd, one SQLite store) + dhcrelay; "
            f"{IDENTITY} enrolled, HoA {d.hoa}, bundle exported")


def act_discover(d: Demo) -> str:
    lab = d.lab
    includes = tuple(sorted((d.bundle or Path()).glob("strongswan.d/*.conf")))
    d.mn = peers.Charon(lab, "mn", lab.ns("mn"), includes=includes)
    d.mn.start()
    d.start_sampler()
    d.told_has = d.discover("boot")
    if sorted(d.told_has) != sorted(HA_ADDRESSES.values()):
        raise LabError(f"DHCP named {d.told_has}, not the two HA hosts")
    if d.home_prefix != "2001:db8:1::/64":
        raise LabError(f"DHCP gave the home prefix {d.home_prefix}, not 2001:db8:1::/64")
    srv = peers.dig(lab, "_mip6._ipv6.example.com", "SRV")
    if len(srv) != 2:
        raise LabError(f"_mip6._ipv6.example.com SRV did not name both HAs: {srv}")
    for role, addr in HA_ADDRESSES.items():
        aaaa = peers.dig(lab, f"{role}.example.com", "AAAA")
        if aaaa != [addr]:
            raise LabError(f"{role}.example.com AAAA is {aaaa}, not {addr}")
    return (f"dhclient -6 -S via dhcrelay: UDINF, then IDINF(example.com): HAs "
            f"{', '.join(d.told_has)}, prefix {d.home_prefix}; SRV + both AAAA resolved")


def act_ikev2(d: Demo) -> str:
    d.start_agent()
    role = d.wait(d.serving_ha, 30, f"mip6-mn did not bring up an SA with the HoA {d.hoa}")
    took = HA_ADDRESSES[role]
    d.wait(lambda: d.proxied_by() == [role], 10,
           f"{role} does not answer ND for the HoA {d.hoa} on the home link")
    d.wait(lambda: d.binding_ha() == role, 10, f"no open binding on {role} in the store")
    d.wait(lambda: peers.dig(d.lab, d.fqdn, "AAAA") == [d.hoa], 15,
           f"{d.fqdn} AAAA {d.hoa} did not appear in named")
    rev = _reverse_name(d.hoa)
    d.wait(lambda: peers.dig(d.lab, rev, "PTR") == [d.fqdn.rstrip(".") + "."], 15,
           f"the PTR of {d.hoa} did not appear in named")
    d.through_tunnel(role)
    return (f"mip6-mn: SA to {role} {took}, virtual IP = store HoA {d.hoa}; AAAA+PTR of "
            f"{d.fqdn} in named; {role} proxies ND for it; ping {CN_ADDRESS} from the HoA ok")


def act_drain(d: Demo) -> str:
    before = d.serving_ha()
    if before is None:
        raise LabError("the MN had no SA before the drain")
    other = "ha2" if before == "ha1" else "ha1"
    out = d.cli("ha", "drain", f"{before}.example.com", "--wait", "--timeout", "30")
    d.wait(lambda: d.serving_ha() == other, 20,
           f"the MN did not move to {other} with its HoA after the drain of {before}")
    d.wait(lambda: d.binding_ha() == other, 10, f"no open binding on {other} after the drain")
    d.through_tunnel(other)
    d.cli("ha", "activate", f"{before}.example.com")
    return (f"drain {before}: moved {out.get('moved')}, MN on {other} with HoA {d.hoa}, "
            f"ping ok; {before} active again")


def act_failover(d: Demo) -> str:
    serving = d.serving_ha()
    if serving is None:
        raise LabError("the MN had no SA before the HA host failed")
    other = "ha2" if serving == "ha1" else "ha1"
    d.ha_charons[serving].proc.kill9()  # type: ignore[union-attr]
    d.bootstrapds[serving].kill9()
    d.wait(lambda: d.ha_state(serving) == "failed", 20,
           f"no live host marked {serving} failed in the store")
    d.wait(lambda: d.serving_ha() == other, 40,
           f"the MN did not come back through {other} with its HoA {d.hoa}")
    d.wait(lambda: d.binding_ha() == other, 10, f"no open binding on {other} after the takeover")
    d.through_tunnel(other, alone=False)
    stale = [r for r in d.proxied_by() if r != other]
    note = f" ({', '.join(stale)} kernel still proxies the HoA: stale entry)" if stale else ""
    return (f"kill -9 of {serving}'s charon+bootstrapd: store marks it failed, {other} took "
            f"over, mip6-mn moved the MN back through {other} with HoA {d.hoa}, ping ok{note}")


def _suboptions(raw: str, code: int) -> list[bytes]:
    """The values of sub-option ``code`` in dhclient's hex dump of an RFC 6610 option."""
    data = bytes(int(x, 16) for x in raw.split(":") if x)
    out, i = [], 0
    while i + 4 <= len(data):
        c, n = int.from_bytes(data[i:i + 2], "big"), int.from_bytes(data[i + 2:i + 4], "big")
        if c == code:
            out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def act_revoke(d: Demo) -> str:
    d.cli("revoke", IDENTITY)
    d.wait(lambda: d.serving_ha() is None, 15, "the MN's SA stayed up after the revocation")
    d.wait(lambda: not peers.dig(d.lab, d.fqdn, "AAAA"), 15,
           f"{d.fqdn} AAAA stayed in named after the revocation")
    d.wait(lambda: not peers.dig(d.lab, _reverse_name(d.hoa), "PTR"), 15,
           f"the PTR of {d.hoa} stayed in named after the revocation")
    if peers.ping(d.lab, d.hoa):
        raise LabError("the revoked MN still reaches the home link")
    d.wait(lambda: d.binding_ha() is None, 10, "the revoked MN's binding stayed open")
    shown = d.cli("show", IDENTITY)
    state = shown.get("subscriber", shown).get("state")
    if state != "revoked":
        raise LabError(f"the subscriber is {state}, not revoked")
    return "revoked: SA gone, AAAA+PTR gone, binding closed, no ping"


def _reverse_name(addr: str) -> str:
    return ipaddress.IPv6Address(addr).reverse_pointer + "."


ACTS: list[tuple[str, Callable[[Demo], str]]] = [
    ("1 operator side", act_operator),
    ("2 MN discovers its HA", act_discover),
    ("3 IKEv2 + DNS + tunnel", act_ikev2),
    ("4 ha drain", act_drain),
    ("5 HA host kill -9", act_failover),
    ("6 revoke", act_revoke),
]

__all__ = ["ACTS", "IDENTITY", "Demo", "SaSample", "in_ns"]
