#!/usr/bin/env bash
# axe-core (the accessibility rules engine the browser tests inject into every page), from the
# npm registry with the machine's npm (Debian's npm only when none is installed), at the exact
# version tests/system/web/axe/package.json names, into tests/system/web/axe/node_modules
# (not committed).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tests/system/web/axe"
[ -f node_modules/axe-core/axe.min.js ] && exit 0
command -v npm >/dev/null 2>&1 || "$root/scripts/apt.sh" npm
npm install --no-audit --no-fund --no-package-lock --loglevel=error
test -f node_modules/axe-core/axe.min.js
