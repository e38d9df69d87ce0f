#!/usr/bin/env bash
# `logify train` / `logify eval` on bad input: each a clear error (exit 1,
# or 2 for usage), never a crash, never a half-written bundle.
source "$(dirname "$0")/../lib.sh"

printf 'source,log_message,label\nS,Disk failure on node 3,Error\n' >"$TMP/nolabel.csv"
expect_fail 1 "missing required column 'target_label'" -- "$LOGIFY" train --data "$TMP/nolabel.csv" --out "$TMP/x"
[[ -e "$TMP/x" ]] && fail "a failed run created the bundle directory"
expect_fail 1 "missing required column 'target_label'" -- "$LOGIFY" eval --data "$TMP/nolabel.csv"
expect_fail 1 "cannot open" -- "$LOGIFY" train --data "$TMP/none.csv" --out "$TMP/x"
expect_fail 2 "--data and --out are required" -- "$LOGIFY" train --data "$TMP/nolabel.csv"
expect_fail 2 "--data is required" -- "$LOGIFY" eval
expect_fail 2 "--seed must be" -- "$LOGIFY" train --data a --out b --seed -3
expect_fail 2 "--C must be" -- "$LOGIFY" train --data a --out b --C 0

# every row decided by the rules, or routed to the LLM: nothing to learn
printf 'source,log_message,target_label\nS,User User1 logged in.,User Action\nLegacyCRM,Case 7 failed,Workflow Error\n' >"$TMP/rulesonly.csv"
expect_fail 1 "training set is empty: of 2 rows, 1 are decided by rules, 1 go to the LLM" -- \
  "$LOGIFY" train --data "$TMP/rulesonly.csv" --out "$TMP/x"

# one class only
{
  echo "source,log_message,target_label"
  for i in $(seq 1 20); do echo "S,Shard $i replication task ended in failure,Error"; done
} >"$TMP/one.csv"
expect_fail 1 "single class ('Error')" -- "$LOGIFY" train --data "$TMP/one.csv" --out "$TMP/x"

# rare labels are kept by default (a 1-row label is trained on; it cannot be
# in the held-out split); --min-label-rows N sets labels with fewer rows
# aside, and the count with the first names is said on stderr every time
{
  echo "source,log_message,target_label"
  for i in $(seq 1 12); do echo "S,Shard $i replication task ended in failure,Error"; done
  for i in $(seq 1 12); do echo "S,Disk array $i lost two drives,Critical Error"; done
  echo "S,Escalation rule 4 skipped a step,Workflow Error"
  echo 'S,"",Error'
  printf 'S,"odd \xff\xfe bytes \x01 here",Error\n'
} >"$TMP/rare.csv"
"$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/rare1" --json >"$TMP/rare1.json" 2>"$TMP/rare1.err" ||
  fail "train rare.csv"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["rare_labels"] == [] and j["rare_label_count"] == 0, j["rare_labels"]
assert j["labels"] == ["Critical Error", "Error", "Workflow Error"], j["labels"]
assert j["training_rows"] == 27, j["training_rows"]
' "$TMP/rare1.json" || fail "rare label kept: $(cat "$TMP/rare1.json")"
grep -q "set aside" "$TMP/rare1.err" && fail "nothing set aside, yet stderr says so: $(cat "$TMP/rare1.err")"
ok
"$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/rare" --min-label-rows 10 --json >"$TMP/rare.json" \
  2>"$TMP/rare.err" || fail "train rare.csv --min-label-rows 10"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["rare_labels"] == [{"label": "Workflow Error", "rows": 1}], j["rare_labels"]
assert j["rare_label_count"] == 1, j
assert j["labels"] == ["Critical Error", "Error"], j["labels"]
assert j["training_rows"] == 26, j["training_rows"]
' "$TMP/rare.json" || fail "rare labels: $(cat "$TMP/rare.json")"
grep -q "1 label(s) with fewer than 10 rows set aside (1 rows): Workflow Error (1)" "$TMP/rare.err" ||
  fail "stderr does not list the set-aside label: $(cat "$TMP/rare.err")"
"$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/rare" --min-label-rows 10 >/dev/null 2>"$TMP/rare.err"
grep -q "set aside" "$TMP/rare.err" || fail "text mode: stderr does not list the set-aside label"
ok

# encoders
expect_fail 1 "unknown encoder spec 'word2vec'" -- "$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/x" --encoder word2vec
expect_fail 1 "power of two" -- "$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/x" --encoder hash:dim=1000
expect_fail 1 "sbert" -- "$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/x" --encoder sbert:"$TMP/no-such-model"
"$LOGIFY" train --data "$TMP/rare.csv" --out "$TMP/small" --encoder hash:dim=1024 >/dev/null || fail "hash:dim=1024"
grep -q '"spec": "hash:dim=1024,seed=1"' "$TMP/small/meta.json" || fail "encoder spec not recorded"
ok

# damaged bundles: a clear error when asked for explicitly
printf 'source,log_message,target_label\nS,Disk array 3 lost two drives,Critical Error\n' >"$TMP/one_row.csv"
cp -r "$TMP/rare" "$TMP/trunc"
head -c 1000 "$TMP/rare/weights.bin" >"$TMP/trunc/weights.bin"
expect_fail 1 "truncated" -- "$LOGIFY" eval --data "$TMP/one_row.csv" --model "$TMP/trunc"
cp -r "$TMP/rare" "$TMP/ver"
sed -i 's/"format_version": 2/"format_version": 99/' "$TMP/ver/meta.json"
expect_fail 1 "bundle format version 99, this logify reads versions 2 to 4" -- \
  "$LOGIFY" classify "$TMP/one_row.csv" --model "$TMP/ver"
cp -r "$TMP/rare" "$TMP/v1"
sed -i 's/"format_version": 2/"format_version": 1/' "$TMP/v1/meta.json"
expect_fail 1 "bundle format version 1, this logify reads versions 2 to 4 (re-create it with 'logify train')" -- \
  "$LOGIFY" classify "$TMP/one_row.csv" --model "$TMP/v1"
cp -r "$TMP/rare" "$TMP/json"
echo '{"format": "logify-model", ' >"$TMP/json/meta.json"
expect_fail 1 "invalid JSON" -- "$LOGIFY" eval --data "$TMP/one_row.csv" --model "$TMP/json"
expect_fail 1 "not a directory" -- "$LOGIFY" eval --data "$TMP/one_row.csv" --model "$TMP/nowhere"

# eval: a label the model does not know is counted as a miss, not a crash
printf 'source,log_message,target_label\nS,Disk array 3 lost two drives,Critical Error\nS,Quota of tenant 4 exceeded,Billing Notice\n' >"$TMP/unknown.csv"
"$LOGIFY" eval --data "$TMP/unknown.csv" --model "$TMP/rare" --json >"$TMP/u.json" 2>/dev/null || fail "eval unknown label"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["rows"] == 2 and j["per_label"]["Billing Notice"]["recall"] == 0.0, j
assert j["unknown_to_model"] == {"Billing Notice": 1}, j["unknown_to_model"]
' "$TMP/u.json" || fail "unknown label: $(cat "$TMP/u.json")"
ok
done_checks
