#!/usr/bin/env bash
# Allocation failure in `logify train`, `logify eval` and `logify templates
# --state` (tests/faults/failalloc.c, tests/faults/sweep.py): the Nth
# allocation of a run fails, densely over the start and the end of a run
# (reading, training, writing the bundle or the state), a spread sample of
# the rest (Vectorscan's compiler) and every allocation from N on for a few
# N. Each run exits 0 with the same result, or 1 naming memory with the
# existing result untouched: train --out DIR holds an older bundle before
# each run and a failed run leaves it byte for byte (no partial or replaced
# bundle, no .tmp file); templates --state FILE likewise keeps the older
# state. Jansson's parser is spared (docs/testing.md, "Allocation failure").
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc

# 90 labelled rows, three labels; a rule that matches none of them (the
# built-in rules would make ~130,000 allocations of Vectorscan's compiler)
{ echo source,log_message,target_label
  for i in $(seq 30); do
    echo "ModernCRM,User User$i logged in.,User Action"
    echo "BillingSystem,IP 10.4.7.$i blocked after 14 failed login attempts,Security Alert"
    echo "AnalyticsEngine,Disk usage at $i% on node$i,Resource Usage"
  done; } >"$TMP/train.csv"
printf 'version: 1\nrules:\n  - id: none\n    label: Nothing\n    pattern: %s\n' "'zzqq\\d+ never'" >"$TMP/rules.yaml"
mkdir "$TMP/out"
sweep() {
  "${SWEEP[@]}" "$@" >"$TMP/sweep.out" 2>&1 || fail "$(cat "$TMP/sweep.out")"
  cat "$TMP/sweep.out"
  grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
  ok
}

# train: an older bundle (another split) in --out before every run
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/old" --rules "$TMP/rules.yaml" --seed 7 \
  --test-fraction 0.3 --no-progress >/dev/null 2>&1 || fail "train without faults"
m=$TMP/out/model
sweep --out "$TMP/out/marker" --keep "$m" --keep-from "$TMP/old" --result "$m/meta.json" \
  --result "$m/weights.bin" --result "$m/centroids.bin" --head 300 --tail 1500 --every 2 --mid 60 \
  --from 8 --label train -- "$LOGIFY" train --data "$TMP/train.csv" --out "$m" \
  --rules "$TMP/rules.yaml" --no-progress

# eval of that bundle, its JSON report on stdout
sweep --out "$TMP/out/marker" --stdout --head 300 --tail 600 --every 2 --mid 60 --from 8 \
  --label eval -- "$LOGIFY" eval --data "$TMP/train.csv" --model "$TMP/old" \
  --rules "$TMP/rules.yaml" --json --no-progress

# templates --state: the state of another input is read, extended, written
rows_csv "$TMP/in.csv"
head -31 "$TMP/in.csv" >"$TMP/in30.csv"
"$LOGIFY" templates "$TMP/in30.csv" -o "$TMP/t30.csv" --state "$TMP/old.state" --no-progress \
  >/dev/null 2>&1 || fail "templates --state without faults"
# (the rows on stdout: a state that cannot be saved fails the run with the
# rows out, by design: e2e.output_errors, docs/templates.md)
sweep --out "$TMP/out/marker" --stdout --keep "$TMP/out/st" --keep-from "$TMP/old.state" \
  --result "$TMP/out/st" --head 100000 --tail 0 --mid 0 --from 20 --label "templates --state" -- \
  "$LOGIFY" templates "$TMP/in.csv" --state "$TMP/out/st" --no-progress
done_checks
