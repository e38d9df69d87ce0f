#!/usr/bin/env bash
# bench_llm.sh - the LLM stage against tests/fake_llm_server.py with a fixed
# 50 ms latency per request (no network, no model):
#   1. lines/s one request per line in sequence (the prototype's way) vs
#      concurrency + batching (the defaults, and a wider setting);
#   2. the template cache on LegacyCRM-like lines (the seed's seven
#      LegacyCRM messages with their numbers varied): cache off vs on, and
#      a second run answered from the persisted cache file.
# Usage: bench/bench_llm.sh [path/to/logify]   (default: $LOGIFY, else build/logify;
# `make bench` runs it through bench/run.sh)
# Runs in well under a minute.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGIFY=${1:-${LOGIFY:-$ROOT/build/logify}}
[[ -x "$LOGIFY" ]] || { echo "bench_llm: no logify binary at $LOGIFY (build first)" >&2; exit 1; }
LOGIFY=$(cd "$(dirname "$LOGIFY")" && pwd)/$(basename "$LOGIFY")
LATENCY_MS=${LATENCY_MS:-50}
N_UNIQUE=${N_UNIQUE:-200}    # distinct lines for part 1
N_LEGACY=${N_LEGACY:-2000}   # LegacyCRM-like lines for part 2
TMP=$(mktemp -d)
unset GROQ_API_KEY LOGIFY_LLM_API_KEY LOGIFY_LLM_BASE_URL LOGIFY_LLM_MODEL LOGIFY_LLM_BATCH \
  LOGIFY_LLM_CONCURRENCY LOGIFY_LLM_TIMEOUT LOGIFY_LLM_DEADLINE LOGIFY_LLM_RETRIES \
  LOGIFY_LLM_CACHE LOGIFY_LLM_JSON_MODE LOGIFY_LLM_CONSTRAIN LOGIFY_LLM_ADAPTIVE
# the fixed settings measured as such: JSON mode (no form probe), a fixed
# window (adaptive off) except in the row that says "adaptive"
export LOGIFY_LLM_CONSTRAIN=json LOGIFY_LLM_ADAPTIVE=off
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost # never via a proxy
cd "$TMP"
/usr/bin/python3 "$ROOT/tests/fake_llm_server.py" --port-file "$TMP/port" --exit-with $$ \
  >/dev/null 2>"$TMP/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do [[ -s "$TMP/port" ]] && break; sleep 0.05; done
[[ -s "$TMP/port" ]] || { echo "fake server did not start: $(cat "$TMP/server.err")" >&2; exit 1; }
PORT=$(cat "$TMP/port")

# ---- inputs
/usr/bin/python3 - "$N_UNIQUE" "$N_LEGACY" "${LOGIFY_SHARED:-$ROOT/../shared}/datasets/synthetic_logs.csv" <<'PY'
import csv, itertools, os, random, re, sys
n_unique, n_legacy, seed_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
words = ["invoice", "ticket", "lead", "contact", "report", "export", "campaign", "account",
         "quote", "order", "task", "case", "survey", "contract", "refund", "payment"]
verbs = ["failed", "stalled", "aborted", "was rejected", "timed out", "is deprecated",
         "will be retired", "could not complete", "is no longer supported", "was skipped"]
with open("unique.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["source", "log_message"])
    combos = itertools.product(words, words, verbs)
    for (a, b, v) in itertools.islice(combos, n_unique):
        w.writerow(["LegacyCRM", "The %s step of the %s workflow %s" % (a, b, v)])
if os.path.exists(seed_path):
    seeds = [r["log_message"] for r in csv.DictReader(open(seed_path)) if r["source"] == "LegacyCRM"]
else:  # ../shared absent: the seven messages' shapes
    seeds = ["Lead conversion failed for prospect ID 7842 due to missing contact information.",
             "API endpoint 'getCustomerDetails' is deprecated and will be removed in version 3.2."]
rnd = random.Random(42)
for name in ("legacy_a.csv", "legacy_b.csv"):
    with open(name, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "log_message"])
        for i in range(n_legacy):
            msg = re.sub(r"\d+", lambda m: str(rnd.randrange(10 ** len(m.group()))), seeds[i % len(seeds)])
            w.writerow(["LegacyCRM", msg])
PY

# run NAME INPUT VAR=VALUE...: prints "<lines/s> <requests> <stage seconds>
# <wall seconds>" for one run; lines/s is through the llm stage (--stats).
run() {
  local name=$1 input=$2
  shift 2
  local rc=0 t0 t1
  t0=$(date +%s.%N)
  env LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/lat$LATENCY_MS+id=$name/v1" LOGIFY_LLM_DEADLINE=120 \
    "$@" timeout 300 "$LOGIFY" classify "$input" --route '*=rules' --stats -o "$TMP/$name.csv" \
    2>"$TMP/$name.err" || rc=$?
  t1=$(date +%s.%N)
  [[ $rc -eq 0 ]] || { echo "bench_llm: run $name failed: $(cat "$TMP/$name.err")" >&2; exit 1; }
  local lines requests
  lines=$(($(wc -l <"$input") - 1))
  requests=$(/usr/bin/python3 -c '
import json, sys, urllib.request
st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/stats" % sys.argv[1], timeout=10))
print(st.get(sys.argv[2], {}).get("requests", 0))' "$PORT" "lat$LATENCY_MS+id=$name")
  if grep -q ",Unclassified" "$TMP/$name.csv"; then
    echo "bench_llm: run $name left rows Unclassified: $(grep -m1 ',Unclassified' "$TMP/$name.csv")" >&2
    exit 1
  fi
  # time spent in the llm stage, from --stats ("..., llm 0.123 s, ...")
  local stage
  stage=$(sed -n 's/.*time:.*, llm \([0-9.]*\) s.*/\1/p' "$TMP/$name.err")
  [[ -n "$stage" ]] || { echo "bench_llm: no stage time in: $(cat "$TMP/$name.err")" >&2; exit 1; }
  /usr/bin/python3 -c 'import sys; n, t, r, w = int(sys.argv[1]), max(float(sys.argv[2]), 1e-6), sys.argv[3], float(sys.argv[5]) - float(sys.argv[4]); print("%.1f %s %.3f %.2f" % (n / t, r, t, w))' \
    "$lines" "$stage" "$requests" "$t0" "$t1"
}

echo "LLM stage benchmark: fake OpenAI-compatible server on 127.0.0.1, ${LATENCY_MS} ms per request"
echo
echo "1. $N_UNIQUE distinct LegacyCRM lines (no two share a template), cache off"
printf '   %-44s %10s %9s %9s %8s\n' "setting" "lines/s" "requests" "stage s" "wall s"
read -r seq_rate seq_req seq_t seq_w < <(run seq unique.csv LOGIFY_LLM_CACHE=off LOGIFY_LLM_BATCH=1 LOGIFY_LLM_CONCURRENCY=1)
printf '   %-44s %10s %9s %9s %8s\n' "one request per line, in sequence (prototype)" "$seq_rate" "$seq_req" "$seq_t" "$seq_w"
read -r conc_rate conc_req conc_t conc_w < <(run conc unique.csv LOGIFY_LLM_CACHE=off LOGIFY_LLM_BATCH=1 LOGIFY_LLM_CONCURRENCY=4)
printf '   %-44s %10s %9s %9s %8s\n' "concurrency 4, batch 1" "$conc_rate" "$conc_req" "$conc_t" "$conc_w"
read -r def_rate def_req def_t def_w < <(run def unique.csv LOGIFY_LLM_CACHE=off)
printf '   %-44s %10s %9s %9s %8s\n' "concurrency 4, batch 8 (defaults)" "$def_rate" "$def_req" "$def_t" "$def_w"
read -r wide_rate wide_req wide_t wide_w < <(run wide unique.csv LOGIFY_LLM_CACHE=off LOGIFY_LLM_BATCH=16 LOGIFY_LLM_CONCURRENCY=8)
printf '   %-44s %10s %9s %9s %8s\n' "concurrency 8, batch 16" "$wide_rate" "$wide_req" "$wide_t" "$wide_w"
read -r ad_rate ad_req ad_t ad_w < <(run adaptive unique.csv LOGIFY_LLM_CACHE=off LOGIFY_LLM_BATCH=16 LOGIFY_LLM_CONCURRENCY=8 LOGIFY_LLM_ADAPTIVE=on)
printf '   %-44s %10s %9s %9s %8s\n' "concurrency up to 8 (adaptive), batch 16" "$ad_rate" "$ad_req" "$ad_t" "$ad_w"
/usr/bin/python3 -c 'import sys; print("   ratio defaults / prototype: %.1fx   (concurrency 8, batch 16: %.1fx)" % (float(sys.argv[2]) / float(sys.argv[1]), float(sys.argv[3]) / float(sys.argv[1])))' \
  "$seq_rate" "$def_rate" "$wide_rate"
echo
echo "2. $N_LEGACY LegacyCRM-like lines (the seed's LegacyCRM messages, numbers varied), defaults"
printf '   %-44s %10s %9s %9s %8s\n' "setting" "lines/s" "requests" "stage s" "wall s"
read -r off_rate off_req off_t off_w < <(run off legacy_a.csv LOGIFY_LLM_CACHE=off)
printf '   %-44s %10s %9s %9s %8s\n' "template cache off (exact lines only)" "$off_rate" "$off_req" "$off_t" "$off_w"
read -r on_rate on_req on_t on_w < <(run on legacy_a.csv LOGIFY_LLM_CACHE="$TMP/cache.jsonl")
printf '   %-44s %10s %9s %9s %8s\n' "template cache on, first run" "$on_rate" "$on_req" "$on_t" "$on_w"
read -r warm_rate warm_req warm_t warm_w < <(run warm legacy_b.csv LOGIFY_LLM_CACHE="$TMP/cache.jsonl")
printf '   %-44s %10s %9s %9s %8s\n' "template cache file, second run (new lines)" "$warm_rate" "$warm_req" "$warm_t" "$warm_w"
/usr/bin/python3 -c 'import sys; a = [float(x) for x in sys.argv[1:]]; print("   ratio cache on / off: %.1fx through the stage (first run); whole runs %.2f s -> %.2f s -> %.2f s\n   (the second run'"'"'s stage time is at the 1 ms resolution of --stats: read its wall time)" % (a[1] / a[0], a[2], a[3], a[4]))' \
  "$off_rate" "$on_rate" "$off_w" "$on_w" "$warm_w"
