#!/usr/bin/env bash
# Run the whole suite (as root: the network-namespace tests need it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "the test suite creates network namespaces and starts charon/named/dhclient: run it as root" >&2
    exit 1
fi
echo "ruff (lint) and mypy --strict (types) first; then the suite" >&2
.venv/bin/ruff check bootstrap dhcp_hinfo dns_updater ikev2_glue migrations tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
