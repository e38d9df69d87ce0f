#!/usr/bin/env bash
# Live reload of `logify serve` (issue 19, docs/reload.md): POST /admin/reload
# and SIGHUP under load, refused sets, requests in flight, the API key;
# tests/http/test_reload.py against the real binary (Python standard library
# only). Threaded: in the TSan round (Makefile TSAN_TESTS).
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
clean_llm_env # no LLM settings from the caller (the LLM case sets its own)
timeout 500 "$PY" "$LOGIFY_ROOT/tests/http/test_reload.py" >"$TMP/py.out" 2>&1 || true
tail -n 40 "$TMP/py.out"
grep -q '^OK' "$TMP/py.out" || fail "tests/http/test_reload.py"
ok
done_checks
