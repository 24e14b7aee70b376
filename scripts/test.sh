#!/usr/bin/env bash
# Run the whole suite (as root: the network-namespace tests need it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    echo "the test suite creates network namespaces and starts charon/named/dhclient: run it as root" >&2
    exit 1
fi
exec .venv/bin/python -m pytest "$@"
