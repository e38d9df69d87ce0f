#!/usr/bin/env bash
# Allocation failure in `logify serve`: one server process, its allocations
# failed during single requests (the Nth of a request, and every one from N
# on) through failalloc's control file: POST /classify/ (CSV), /v1/classify
# (JSON), /v1/classify/stream (NDJSON), /v1/eval (labelled CSV), GET
# /metrics and /healthz. Each
# request gets its normal answer, a 500/503 with a JSON error, or a closed
# connection; the process never dies, and answers normally once the faults
# stop. tests/faults/serve_oom.py does the requests (http.client).
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc

small_rules "$TMP/rules.yaml"
export FAILALLOC FAILALLOC_SPARE RULES="$TMP/rules.yaml" SAMPLES=100000 # every allocation of each request
FAILALLOC_SPARE=$(jansson_spare)
timeout 300 python3 "$LOGIFY_ROOT/tests/faults/serve_oom.py" >"$TMP/py.out" 2>&1 || true
grep -v "access id=" "$TMP/py.out" | tail -n 40
grep -q '^OK' "$TMP/py.out" || fail "tests/faults/serve_oom.py"
ok
done_checks
