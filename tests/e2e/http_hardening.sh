#!/usr/bin/env bash
# Hardening of `logify serve` (issue 14): tests/http/test_hardening.py
# against the real binary (Python standard library only).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
timeout 300 "$PY" "$LOGIFY_ROOT/tests/http/test_hardening.py" >"$TMP/py.out" 2>&1 || true
tail -n 40 "$TMP/py.out"
grep -q '^OK' "$TMP/py.out" || fail "tests/http/test_hardening.py"
ok
done_checks
