#!/usr/bin/env bash
# make run: an example store (SQLite) with a home network and a home agent, then bootstrapd in
# the foreground with the example config.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p run
[ -f run/bootstrap.toml ] || cp examples/run.toml run/bootstrap.toml
export BOOTSTRAP_CONFIG="$PWD/run/bootstrap.toml"
ctl=.venv/bin/bootstrapctl
$ctl db upgrade
if [ "$($ctl network list --json)" = "[]" ]; then
    $ctl network add example.com --prefix 2001:db8:1::/64 --ipv4-pool 192.0.2.0/24 \
        --zone example.com --zone 1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa
    $ctl ha add ha1.example.com --network example.com --address 2001:db8:1::1 --ipv4 192.0.2.1
    $ctl ca init >/dev/null
    echo "example store created in run/bootstrap.db: network example.com, home agent ha1.example.com, CA"
    echo "try: BOOTSTRAP_CONFIG=run/bootstrap.toml .venv/bin/bootstrapctl enroll mn@example.com"
fi
echo "config: run/bootstrap.toml"
exec .venv/bin/bootstrapd --config run/bootstrap.toml
