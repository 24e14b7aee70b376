"""The proxy neighbour executor against a real kernel: both families, sysctls, idempotence.

Runs ``ikev2_glue.neigh.ProxyTable`` inside a network namespace this test
creates (``mipp-<tag>``, a veth pair ``eth0``/``peer0``) and checks the result
with ``ip neigh show proxy``, the operator's view.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

SCRIPT = """
import ipaddress, sys
from ikev2_glue.neigh import ProxyTable, ProxyError
from ikev2_glue.proxy import plan_proxies, parse_addresses
t = ProxyTable("eth0")
print("failed-sysctls", t.enable())
nets = [ipaddress.ip_network("2001:db8:1::/64"), ipaddress.ip_network("192.0.2.0/24")]
want = parse_addresses(sys.argv[1].split(","))
for _ in range(2):  # the second round changes nothing
    t.apply(plan_proxies(want, t.current(), nets))
print("current", ",".join(sorted(str(a) for a in t.current())))
try:
    ProxyTable("nosuch0").current()
except ProxyError as exc:
    print("error", exc)
"""


def sh(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


@pytest.fixture
def ns() -> Iterator[str]:
    name = f"mipp-{secrets.token_hex(3)}"
    sh("ip", "netns", "add", name)
    try:
        sh("ip", "-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0")
        sh("ip", "-n", name, "link", "set", "eth0", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def run_table(ns: str, want: str) -> str:
    return sh("ip", "netns", "exec", ns, sys.executable, "-c", SCRIPT, want)


def test_entries_follow_the_plan_in_both_families(ns: str) -> None:
    # an operator's entry outside the home network, and a stale one of ours
    sh("ip", "-n", ns, "-6", "neigh", "add", "proxy", "2001:db8:99::1", "dev", "eth0")
    sh("ip", "-n", ns, "-6", "neigh", "add", "proxy", "2001:db8:1::dead", "dev", "eth0")
    out = run_table(ns, "2001:db8:1::42,192.0.2.66")
    assert "failed-sysctls []" in out
    assert "current 192.0.2.66,2001:db8:1::42,2001:db8:99::1" in out
    assert "error home interface 'nosuch0' does not exist" in out
    six = sh("ip", "-n", ns, "-6", "neigh", "show", "proxy", "dev", "eth0").split()
    four = sh("ip", "-n", ns, "-4", "neigh", "show", "proxy", "dev", "eth0").split()
    assert sorted(a for a in six if ":" in a) == ["2001:db8:1::42", "2001:db8:99::1"]
    assert [a for a in four if "." in a] == ["192.0.2.66"]
    for key in ("net.ipv6.conf.eth0.proxy_ndp", "net.ipv4.conf.eth0.proxy_arp"):
        assert sh("ip", "netns", "exec", ns, "sysctl", "-n", key).strip() == "1"
    # nothing desired any more: ours go, the operator's stays
    out = run_table(ns, "")
    assert "current 2001:db8:99::1" in out
