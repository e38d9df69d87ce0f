#!/usr/bin/env bash
# Adaptive concurrency (docs/llm.md, "Concurrency") against
# tests/fake_llm_server.py: requests in flight start at 2 and grow while
# latency holds; a server that takes only 2 at a time (more get 503) makes
# the window shrink, so it sees far fewer rejected requests than with the
# window fixed at `concurrency`, and every row still gets its label.
source "$(dirname "$0")/../lib.sh"
start_fake_llm
{
  echo "source,log_message"
  for i in $(seq 60); do echo "LegacyCRM,Workflow step $i failed for case ${i}z."; done
} >"$TMP/in.csv"
# short backoffs, and a breaker that does not open on the 503s
printf 'llm:\n  backoff: 0.02\n  max_backoff: 0.1\n  breaker_failures: 100000\n' >"$TMP/cfg.yaml"
run() { # MODE ADAPTIVE
  local rc=0
  env LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/$1/v1" LOGIFY_LLM_API_KEY=k LOGIFY_LLM_CACHE=off \
    LOGIFY_LLM_BATCH=1 LOGIFY_LLM_CONCURRENCY=8 LOGIFY_LLM_RETRIES=20 LOGIFY_LLM_CONSTRAIN=json \
    LOGIFY_LLM_ADAPTIVE="$2" LOGIFY_LLM_DEADLINE=60 \
    timeout 90 "$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --explain --stats --threads 1 >"$TMP/out.csv" 2>"$TMP/err" || rc=$?
  [[ $rc -eq 0 ]] || fail "$1: exit $rc: $(cat "$TMP/err")"
  [[ $2 == off ]] && return 0 # may run out of retries: only its 503s are compared
  [[ $(grep -c ",Workflow Error,llm," "$TMP/out.csv") -eq 60 ]] || fail "$1: rows: $(cat "$TMP/err")"
}
served() { fake_served "$@"; }
# grows: a server whose latency holds sees more than the 2 it starts with
run lat30+id=grow on
m=$(served lat30+id=grow max_inflight)
[[ $m -gt 2 && $m -le 8 ]] || fail "window did not grow: max in flight $m"
ok
# shrinks: at most 2 at a time, else 503
run cap2+lat30+id=fixed off
fixed=$(served cap2+lat30+id=fixed rejected)
run cap2+lat30+id=adaptive on
adaptive=$(served cap2+lat30+id=adaptive rejected)
echo "503s: window fixed at 8: $fixed, adaptive: $adaptive (max in flight grow run: $m)"
[[ $fixed -ge 6 ]] || fail "fixed window: only $fixed rejected"
[[ $((adaptive * 2)) -lt $fixed ]] || fail "adaptive: $adaptive rejected, fixed window $fixed"
ok
done_checks
