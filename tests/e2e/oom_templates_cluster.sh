#!/usr/bin/env bash
# Allocation failure in `logify templates` and `logify cluster`, lightly:
# templates on a 300-row CSV and on plain text (--params, JSONL), every
# allocation of a run failed in turn; cluster on 60 rows, its start, its end
# and a sample of the rest (Vectorscan's compiler for the rule checks). Each
# run exits 0 with the same output, or 1 naming memory with no output left
# (cluster: the --out directory it created is removed). tests/faults/sweep.py.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc

rows_csv "$TMP/in.csv"
printf 'hello world\nfoo bar 1\nfoo bar 2\nfoo baz 3\n' >"$TMP/plain.txt"
mkdir "$TMP/out"
sweep() {
  "${SWEEP[@]}" "$@" >"$TMP/sweep.out" 2>&1 || fail "$(cat "$TMP/sweep.out")"
  cat "$TMP/sweep.out"
  grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
  ok
}
sweep --out "$TMP/out/t.csv" --head 100000 --tail 0 --mid 0 --from 20 --label "templates CSV" -- \
  "$LOGIFY" templates "$TMP/in.csv" -o "$TMP/out/t.csv" --summary --no-progress
sweep --out "$TMP/out/t.jsonl" --head 100000 --tail 0 --mid 0 --from 20 --label "templates text" -- \
  "$LOGIFY" templates "$TMP/plain.txt" -o "$TMP/out/t.jsonl" --params --format jsonl --no-progress
head -61 "$TMP/in.csv" >"$TMP/in60.csv"
sweep --out "$TMP/out/marker" --clean "$TMP/out/cl" --result "$TMP/out/cl/clusters.csv" \
  --result "$TMP/out/cl/suggested_rules.yaml" --head 150 --tail 400 --every 3 --mid 40 --from 5 \
  --label cluster -- "$LOGIFY" cluster --data "$TMP/in60.csv" --out "$TMP/out/cl" --no-progress
done_checks
