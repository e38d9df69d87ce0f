#!/usr/bin/env bash
# Allocation failure in `logify classify` (issue 14's principle): the Nth
# allocation of a run fails (tests/faults/failalloc.c), for every N of the
# start-up and of the end of a run (and a spread sample of the rest, mostly
# Vectorscan's compiler), with --threads 1 and 3, and every allocation from
# N on for a few N. Each run must exit 0 with the same output, or exit 1
# naming memory with the existing -o file untouched; never a crash.
# tests/faults/sweep.py checks each run; docs/testing.md has the figures.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc

small_rules "$TMP/rules.yaml"
rows_csv "$TMP/in.csv"
mkdir "$TMP/out"
# rules, then the model (the default hash model) for the rows rules leave
for threads in 1 3; do
  every=1
  [[ $threads -eq 3 ]] && every=3 # a third of them: the time of the sweep stays under a minute
  "${SWEEP[@]}" --out "$TMP/out/out.csv" --every $every --label "classify --threads $threads" -- \
    "$LOGIFY" classify "$TMP/in.csv" -o "$TMP/out/out.csv" --rules "$TMP/rules.yaml" \
    --threads $threads >"$TMP/sweep.out" 2>&1 || fail "$(cat "$TMP/sweep.out")"
  cat "$TMP/sweep.out"
  grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
  ok
done
# the worker threads' allocations only (FAILALLOC_THREAD=others), every one,
# over 21,000 rows (batches in flight on both workers)
{ cat "$TMP/in.csv"; for _ in $(seq 69); do tail -n +2 "$TMP/in.csv"; done; } >"$TMP/in21k.csv"
"${SWEEP[@]}" --out "$TMP/out/out.csv" --thread others --head 100000 --tail 0 --mid 0 --from 10 \
  --label "classify --threads 3, the worker threads" -- "$LOGIFY" classify "$TMP/in21k.csv" \
  -o "$TMP/out/out.csv" --rules "$TMP/rules.yaml" --threads 3 >"$TMP/sweep.out" 2>&1 ||
  fail "$(cat "$TMP/sweep.out")"
cat "$TMP/sweep.out"
ok
done_checks
