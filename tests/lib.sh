# lib.sh - shared helpers for the end-to-end tests (sourced).
# Environment from CTest: LOGIFY (the binary), LOGIFY_ROOT (the repo),
# LOGIFY_SHARED (../shared), LOGIFY_BUILD (the build directory).
set -euo pipefail
: "${LOGIFY:?run through ctest (LOGIFY is the logify binary)}"
: "${LOGIFY_ROOT:?}"
LOGIFY_SHARED=${LOGIFY_SHARED:-$LOGIFY_ROOT/../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CHECKS=0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

ok() {
  CHECKS=$((CHECKS + 1))
}

# Skips the whole test (exit 77) when ../shared is absent.
need_shared() {
  if [[ ! -f "$LOGIFY_SHARED/datasets/synthetic_logs.csv" ]]; then
    echo "SKIP: ../shared/datasets is absent (a user's clone has no ../shared); this test needs it" >&2
    exit 77
  fi
}

# expect_fail CODE NEEDLE -- cmd...: the command exits CODE and its stderr
# contains NEEDLE.
expect_fail() {
  local code=$1 needle=$2
  shift 3
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc -eq $code ]] || fail "expected exit $code, got $rc: $* ($(cat "$TMP/err"))"
  grep -qF -- "$needle" "$TMP/err" || fail "stderr of '$*' lacks '$needle': $(cat "$TMP/err")"
  ok
}

done_checks() {
  echo "$(basename "$0"): $CHECKS checks passed"
}
