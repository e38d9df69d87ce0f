#!/usr/bin/env bash
# Bad request heads answered by Logify, once, in JSON (issue 14, item 9):
# tests/http/test_heads.py against the real binary (raw sockets, Python
# standard library only).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
timeout 300 "$PY" "$LOGIFY_ROOT/tests/http/test_heads.py" >"$TMP/py.out" 2>&1 || true
tail -n 40 "$TMP/py.out"
grep -q '^OK' "$TMP/py.out" || fail "tests/http/test_heads.py"
ok
done_checks
