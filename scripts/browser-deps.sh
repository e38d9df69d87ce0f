#!/usr/bin/env bash
# Installs playwright-core for the console's browser tests into
# tests/browser/node_modules (never committed) with `npm ci`, at the version
# pinned in tests/browser/package-lock.json; --ignore-scripts: no install
# script runs and no browser is downloaded (the tests drive Debian's
# chromium, scripts/install-deps.sh). Idempotent: a stamp holds the hash of
# the lock file it installed. Exits non-zero with a message when it cannot.
set -euo pipefail
DIR=$(cd "$(dirname "$0")/../tests/browser" && pwd)
stamp=$DIR/node_modules/.logify-installed
want=$(sha256sum "$DIR/package-lock.json" | cut -c1-16)
[[ -f $stamp && $(cat "$stamp") == "$want" ]] && exit 0
command -v npm >/dev/null || { echo "logify: browser-deps: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
echo "logify: installing playwright-core into tests/browser/node_modules (npm ci)" >&2
(cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
echo "$want" >"$stamp"
