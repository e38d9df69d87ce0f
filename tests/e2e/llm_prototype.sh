#!/usr/bin/env bash
# The prototype's own sample (../shared/datasets/prototype_test.csv) through
# the full default route table with the LLM stage pointed at the fake
# server: all 10 rows come out in order and the four LegacyCRM rows get the
# right labels from the llm stage; then the seed's seven LegacyCRM rows
# (synthetic_logs.csv, complexity=llm) against their reference labels.
source "$(dirname "$0")/../lib.sh"
need_shared
start_fake_llm
export LOGIFY_LLM_BASE_URL="http://127.0.0.1:$PORT/m/ok/v1" LOGIFY_LLM_CACHE=off LOGIFY_LLM_DEADLINE=20

rc=0
timeout 60 "$LOGIFY" classify "$LOGIFY_SHARED/datasets/prototype_test.csv" --explain \
  -o "$TMP/out.csv" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "exit $rc: $(cat "$TMP/err")"
grep -q "llm stage" "$TMP/err" && fail "llm warning although configured: $(cat "$TMP/err")"
/usr/bin/python3 - "$LOGIFY_SHARED/datasets/prototype_test.csv" "$TMP/out.csv" <<'PY' || fail "prototype sample: $(cat "$TMP/out.csv")"
import csv, sys
src = list(csv.DictReader(open(sys.argv[1]), skipinitialspace=True))
out = list(csv.DictReader(open(sys.argv[2])))
assert len(out) == len(src) == 10, (len(src), len(out))
assert [r["source"] for r in out] == [r["source"] for r in src]
legacy = [(r["target_label"], r["stage"]) for r in out if r["source"] == "LegacyCRM"]
assert legacy == [("Workflow Error", "llm"), ("Workflow Error", "llm"),
                  ("Deprecation Warning", "llm"), ("Deprecation Warning", "llm")], legacy
PY
ok

# the seed's LegacyCRM rows, compared with their reference labels
/usr/bin/python3 - "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$TMP/seed.csv" "$TMP/want.txt" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["source"] == "LegacyCRM"]
with open(sys.argv[2], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["source", "log_message"])
    for r in rows:
        w.writerow([r["source"], r["log_message"]])
open(sys.argv[3], "w").write("".join(r["target_label"] + "\n" for r in rows))
PY
rc=0
timeout 60 "$LOGIFY" classify "$TMP/seed.csv" --explain -o "$TMP/seed_out.csv" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "seed: exit $rc: $(cat "$TMP/err")"
/usr/bin/python3 - "$TMP/seed_out.csv" "$TMP/want.txt" <<'PY' || fail "seed LegacyCRM rows"
import csv, sys
out = list(csv.DictReader(open(sys.argv[1])))
want = open(sys.argv[2]).read().split("\n")[:-1]
assert len(want) == 7 and len(out) == 7, (len(want), len(out))
for r, w in zip(out, want):
    assert r["target_label"] == w and r["stage"] == "llm", (r, w)
PY
ok
done_checks
