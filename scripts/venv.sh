#!/usr/bin/env bash
# Create .venv in the project root with the project installed (editable) and the test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "mip6-bootstrap needs Python 3.11 or newer; '$python' is older or missing." >&2
    exit 1
fi
if ! "$python" -m venv --help >/dev/null 2>&1 || ! "$python" -c 'import ensurepip' 2>/dev/null; then
    echo "installing python3-venv (Debian) ..." >&2
    ./scripts/apt.sh python3-venv
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
echo "venv ready: .venv (mip6-bootstrap installed editable)"
