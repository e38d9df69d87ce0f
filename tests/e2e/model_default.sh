#!/usr/bin/env bash
# With no --model, `logify classify` and `logify eval` use the shipped
# bundle (<binary dir>/../models/default, or $LOGIFY_MODEL); a damaged
# default bundle leaves rows Unclassified with the reason, while a damaged
# bundle given with --model is an error.
source "$(dirname "$0")/../lib.sh"
unset LOGIFY_MODEL
BUNDLE="$(dirname "$LOGIFY")/../models/default"
if [[ ! -f "$BUNDLE/meta.json" ]]; then
  echo "SKIP: no default bundle beside the binary ($BUNDLE); build inside the repository" >&2
  exit 77
fi
cat >"$TMP/in.csv" <<'CSV'
source,log_message
ModernCRM,Email service experiencing issues with sending
BillingSystem,User User12 logged in.
ModernHR,Multiple bad login attempts detected on user 8538 account
AnalyticsEngine,Shard 6 replication task ended in failure
CSV
"$LOGIFY" classify "$TMP/in.csv" --explain >"$TMP/out.csv" 2>"$TMP/err" || fail "classify: $(cat "$TMP/err")"
python3 - "$TMP/out.csv" <<'PY' || fail "classify with the default bundle: $(cat "$TMP/out.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
got = [(r["target_label"], r["stage"]) for r in rows]
assert got == [("Critical Error", "model"), ("User Action", "rules"), ("Security Alert", "model"),
               ("Error", "model")], got
assert rows[0]["detail"].startswith("model p="), rows[0]
assert 0.5 <= float(rows[0]["confidence"]) <= 1.0
PY
ok
# the same through $LOGIFY_MODEL
LOGIFY_MODEL="$LOGIFY_ROOT/models/default" "$LOGIFY" classify "$TMP/in.csv" >"$TMP/out2.csv" 2>/dev/null
grep -q "Critical Error" "$TMP/out2.csv" || fail "LOGIFY_MODEL"
ok
# a line unlike any training line is passed on (open set); a low-confidence
# guess is passed on with its best guess in detail
printf 'source,log_message\nS,hello world\nS,memory\n' >"$TMP/hello.csv"
"$LOGIFY" classify "$TMP/hello.csv" --explain 2>/dev/null >"$TMP/h.csv"
grep -q '^S,hello world,Unclassified,none,,unlike any training line: similarity 0\.[0-9]* < 0\.[0-9]*,[0-9a-f]\{16\}$' "$TMP/h.csv" || fail "open set: $(cat "$TMP/h.csv")"
grep -q '^S,memory,Unclassified,none,,model below threshold: .* p=0\.[0-9]* < 0\.50' "$TMP/h.csv" || fail "below threshold: $(cat "$TMP/h.csv")"
"$LOGIFY" classify "$TMP/hello.csv" --explain --threshold 0 2>/dev/null >"$TMP/h0.csv"
grep -q '^S,memory,.*,model,' "$TMP/h0.csv" || fail "threshold 0 should let the model answer: $(cat "$TMP/h0.csv")"
grep -q '^S,hello world,Unclassified,none,,unlike any' "$TMP/h0.csv" || fail "threshold 0 keeps the open set: $(cat "$TMP/h0.csv")"
ok
# a damaged default bundle: rows Unclassified with the reason, a warning
mkdir -p "$TMP/bad" && cp "$BUNDLE"/* "$TMP/bad/"
printf 'x' | dd of="$TMP/bad/weights.bin" bs=1 seek=5000 conv=notrunc 2>/dev/null
LOGIFY_MODEL="$TMP/bad" "$LOGIFY" classify "$TMP/in.csv" --explain >"$TMP/out3.csv" 2>"$TMP/err3" || fail "damaged default"
grep -q "checksum mismatch" "$TMP/out3.csv" && grep -q "checksum mismatch" "$TMP/err3" ||
  fail "damaged default bundle: $(cat "$TMP/out3.csv" "$TMP/err3")"
ok
expect_fail 1 "checksum mismatch" -- "$LOGIFY" classify "$TMP/in.csv" --model "$TMP/bad"
# eval defaults to the bundle too
printf 'source,log_message,target_label\nModernCRM,Email service experiencing issues with sending,Critical Error\n' >"$TMP/l.csv"
"$LOGIFY" eval --data "$TMP/l.csv" --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["per_stage"]["model"]["rows"] == 1 and j["accuracy"] == 1.0, j
' || fail "eval with the default bundle"
ok
done_checks
