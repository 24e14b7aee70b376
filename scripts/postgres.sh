#!/usr/bin/env bash
# Make sure the local PostgreSQL answers on 127.0.0.1:5432 for user postgres without a password.
# Starts the cluster when it is installed but stopped.  Trust auth for loopback is configured only
# on a cluster this script's caller has just installed (argument 1 = 1); an existing cluster's
# pg_hba.conf is never touched: we say what to change instead.
set -euo pipefail
fresh=${1:-0}
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
[ -n "$ver" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if [ "$fresh" = 1 ]; then
    hba=/etc/postgresql/$ver/main/pg_hba.conf
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
fi
if ! pg_lsclusters -h 2>/dev/null | awk '$2=="main" && $4=="online"' | grep -q .; then
    echo "starting PostgreSQL $ver" >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
elif [ "$fresh" = 1 ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
fi
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.5
done
if ! psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -w -Atc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL on 127.0.0.1:5432 refuses user postgres without a password; the tests need" >&2
    echo "trust auth for loopback: set 'trust' on the host lines for 127.0.0.1/32 and ::1/128 in" >&2
    echo "/etc/postgresql/$ver/main/pg_hba.conf and run: pg_ctlcluster $ver main reload" >&2
    exit 1
fi
