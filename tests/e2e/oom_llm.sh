#!/usr/bin/env bash
# Allocation failure in the LLM stage: `logify classify --route '*=llm'`
# (12 rows, batched) against tests/fake_llm_server.py, its Nth allocation
# failed (tests/faults/failalloc.c) over the start and, every 3rd, the last
# 1,200 (the requests, libcurl, the replies), a spread sample of the rest and
# every allocation from N on for a few N. Each run exits 0 with the same
# output, or 0 with every row kept and the rows it could not ask about
# Unclassified with a detail naming memory, or 1 naming memory with the -o
# file untouched; never a crash or a lost row (sweep.py --unclassified-ok).
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc
start_fake_llm

{ echo source,log_message
  for i in $(seq 6); do
    echo "LegacyCRM,Case escalation for ticket ID 73$i failed because the agent is no longer active."
    echo "LegacyCRM,API endpoint 'get$i' is deprecated and will be removed in version 3.2."
  done; } >"$TMP/in.csv"
printf 'version: 1\nrules:\n  - id: none\n    label: Nothing\n    pattern: %s\n' "'zzqq\\d+ never'" >"$TMP/rules.yaml"
mkdir "$TMP/out"
export LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok/v1" LOGIFY_LLM_API_KEY=sk-test-oom \
  LOGIFY_LLM_CACHE=off LOGIFY_LLM_TIMEOUT=2 LOGIFY_LLM_DEADLINE=10 LOGIFY_LLM_CONSTRAIN=json
"${SWEEP[@]}" --out "$TMP/out/out.csv" --unclassified-ok --head 300 --tail 1200 --every 3 --mid 100 \
  --from 10 --timeout 30 --label "classify, the llm stage" -- "$LOGIFY" classify "$TMP/in.csv" \
  -o "$TMP/out/out.csv" --route '*=llm' --rules "$TMP/rules.yaml" --explain --no-progress \
  >"$TMP/sweep.out" 2>&1 || fail "$(cat "$TMP/sweep.out")"
cat "$TMP/sweep.out"
grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
ok
done_checks
