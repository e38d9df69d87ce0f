#!/usr/bin/env bash
# run.sh GROUP - runs tests/browser/console.test.mjs GROUP (playwright-core
# driving Debian's Chromium headless) against $LOGIFY; sourced setup from
# tests/lib.sh. Skips (exit 77) saying what is missing: Chromium
# (scripts/install-deps.sh installs Debian's `chromium`), node, or the pinned
# playwright-core (`make browser-deps`: npm ci in tests/browser). Screenshots
# go to $LOGIFY_BUILD/browser-screenshots/.
source "$(dirname "$0")/../lib.sh"
group=$1
DIR=$LOGIFY_ROOT/tests/browser
CHROMIUM=${LOGIFY_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[[ -n $CHROMIUM && -x $CHROMIUM ]] || { echo "SKIP: no Chromium (Debian's 'chromium' package; scripts/install-deps.sh installs it)" >&2; exit 77; }
command -v node >/dev/null || { echo "SKIP: no node (Debian's 'nodejs'; scripts/install-deps.sh installs it)" >&2; exit 77; }
[[ -f $DIR/node_modules/playwright-core/package.json ]] ||
  { echo "SKIP: playwright-core is not installed in tests/browser (run 'make browser-deps')" >&2; exit 77; }
clean_llm_env
SHOTS=${LOGIFY_BUILD:-$TMP}/browser-screenshots
# Chromium wants a writable home for its profile and crash dumps
export HOME=$TMP XDG_CONFIG_HOME=$TMP/.config XDG_CACHE_HOME=$TMP/.cache
CHROMIUM=$CHROMIUM SHOTS=$SHOTS WORK=$TMP node "$DIR/console.test.mjs" "$group"
