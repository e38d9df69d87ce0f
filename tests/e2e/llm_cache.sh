#!/usr/bin/env bash
# The LLM stage's template cache: a thousand lines of one pattern cost one
# call; the cache persists to a file, so a second run over new lines of
# known patterns makes no call at all; the file never holds the key; a full
# cache evicts its least recently used template.
source "$(dirname "$0")/../lib.sh"
start_fake_llm
KEY="gsk_cache_test_$$_SECRET"
served() {
  /usr/bin/python3 -c '
import json, sys, urllib.request
st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/stats" % sys.argv[1], timeout=10))
print(st.get(sys.argv[2], {}).get("requests", 0))' "$PORT" "$1"
}
# lines SEED: 1000 lines of two patterns with varying ids and addresses
lines() {
  echo "source,log_message"
  for i in $(seq 500); do
    echo "LegacyCRM,Lead conversion failed for prospect ID $((i * $1)) from 10.0.$((i % 250)).$1 due to missing contact information."
    echo "LegacyCRM,API endpoint 'getCustomerDetails' is deprecated and will be removed in version $((i % 9)).$1. Request $(printf '%08x' $((i * 7919 + $1)))ab failed."
  done
}
lines 3 >"$TMP/a.csv"
lines 7 >"$TMP/b.csv"
export LOGIFY_LLM_API_KEY="$KEY" LOGIFY_LLM_CACHE="$TMP/llm-cache.jsonl" LOGIFY_LLM_DEADLINE=20
# one fixed form: no probe, no remembered form in the file (llm_constrain.sh)
export LOGIFY_LLM_CONSTRAIN=json

# run 1: a thousand lines, two templates -> one request (batched)
rc=0
LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok+id=run1/v1" timeout 60 "$LOGIFY" classify \
  "$TMP/a.csv" --explain --stats >"$TMP/out1.csv" 2>"$TMP/err1" || rc=$?
[[ $rc -eq 0 ]] || fail "run 1: exit $rc: $(cat "$TMP/err1")"
[[ "$(served ok+id=run1)" == 1 ]] || fail "run 1: $(served ok+id=run1) requests, want 1"
[[ $(grep -c ",Workflow Error,llm," "$TMP/out1.csv") -eq 500 ]] || fail "run 1 labels"
[[ $(grep -c ",Deprecation Warning,llm," "$TMP/out1.csv") -eq 500 ]] || fail "run 1 labels"
grep -q "998 deduplicated" "$TMP/err1" || fail "run 1 counters: $(cat "$TMP/err1")"
[[ -s "$TMP/llm-cache.jsonl" ]] || fail "no cache file written"
[[ $(wc -l <"$TMP/llm-cache.jsonl") -eq 2 ]] || fail "cache file: $(cat "$TMP/llm-cache.jsonl")"
ok

# run 2: other ids, same templates -> answered from the file, no request
rc=0
LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok+id=run2/v1" timeout 60 "$LOGIFY" classify \
  "$TMP/b.csv" --explain --stats >"$TMP/out2.csv" 2>"$TMP/err2" || rc=$?
[[ $rc -eq 0 ]] || fail "run 2: exit $rc: $(cat "$TMP/err2")"
[[ "$(served ok+id=run2)" == 0 ]] || fail "run 2 made $(served ok+id=run2) requests"
[[ $(grep -c ",llm,,llm (cached template),[0-9a-f]\{16\}$" "$TMP/out2.csv") -eq 1000 ]] || fail "run 2 details"
grep -q "0 calls" "$TMP/err2" || fail "run 2 counters: $(cat "$TMP/err2")"
grep -q "1000 cache hits, 0 deduplicated" "$TMP/err2" || fail "run 2 counters: $(cat "$TMP/err2")"
ok

# the key is nowhere: output, messages, cache file
if grep -qF -- "$KEY" "$TMP"/out*.csv "$TMP"/err* "$TMP/llm-cache.jsonl"; then fail "key leaked"; fi
ok
# a corrupt cache file is reported and ignored, not fatal
echo "{broken" >"$TMP/llm-cache.jsonl"
rc=0
LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok+id=run3/v1" timeout 60 "$LOGIFY" classify \
  "$TMP/b.csv" >"$TMP/out3.csv" 2>"$TMP/err3" || rc=$?
[[ $rc -eq 0 ]] || fail "run 3: exit $rc: $(cat "$TMP/err3")"
grep -q "1 malformed lines ignored" "$TMP/err3" || fail "run 3: $(cat "$TMP/err3")"
[[ "$(served ok+id=run3)" == 1 ]] || fail "run 3 requests"
ok

# a full cache evicts the least recently used template: with cache_size 1
# the two patterns of b.csv (one request, the deprecation one second) leave
# only the second in the file, and --stats counts one eviction
printf 'llm:\n  cache_size: 1\n' >"$TMP/cfg.yaml"
rm -f "$TMP/llm-cache.jsonl"
rc=0
LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok+id=run4/v1" timeout 60 "$LOGIFY" classify \
  "$TMP/b.csv" --config "$TMP/cfg.yaml" --stats >"$TMP/out4.csv" 2>"$TMP/err4" || rc=$?
[[ $rc -eq 0 ]] || fail "run 4: exit $rc: $(cat "$TMP/err4")"
grep -q "1 cache evictions" "$TMP/err4" || fail "run 4 counters: $(cat "$TMP/err4")"
[[ $(wc -l <"$TMP/llm-cache.jsonl") -eq 1 ]] || fail "run 4 file: $(cat "$TMP/llm-cache.jsonl")"
grep -q "is deprecated" "$TMP/llm-cache.jsonl" || fail "run 4 kept: $(cat "$TMP/llm-cache.jsonl")"
ok
done_checks
