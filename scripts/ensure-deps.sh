#!/usr/bin/env bash
# Everything the test suite talks to, installed and running:
# Debian packages of the real peers, and the local PostgreSQL on 127.0.0.1:5432 (trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
    iproute2 procps psmisc iputils-ping            # network namespaces, pids
    postgresql                                     # the shared store
    bind9 bind9-dnsutils                           # named, nsupdate, dig, tsig-keygen
    strongswan-charon strongswan-swanctl           # charon, swanctl
    libstrongswan-standard-plugins libstrongswan-extra-plugins
    libcharon-extauth-plugins libcharon-extra-plugins
    freeradius freeradius-postgresql freeradius-utils
    isc-dhcp-client                                # dhclient as a real DHCP client
    isc-dhcp-relay                                 # dhcrelay: the visited link's DHCPv6 relay
    kea-dhcp6-server kea-dhcp4-server              # the DHCP peer benchmarks compare with
    tshark                                         # second decoder for our DHCP encoder
    chromium chromium-driver                       # browser tests of the web UI
    keepalived                                     # VRRP: HA service addresses move on failure
)
fresh_pg=0
dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed" || fresh_pg=1
echo "wireshark-common wireshark-common/install-setuid boolean false" | \
    { [ "$(id -u)" -eq 0 ] && debconf-set-selections || sudo debconf-set-selections; } 2>/dev/null || true
./scripts/apt.sh "${packages[@]}"
./scripts/postgres.sh "$fresh_pg"
# axe-core for the browser tests: npm from the machine's Node.js, or Debian's npm where none is
# installed (scripts/axe.sh decides; Debian's npm conflicts with a Node.js that bundles its own).
./scripts/axe.sh
