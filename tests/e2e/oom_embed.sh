#!/usr/bin/env bash
# Allocation failure in `logify embed` and `logify model tokenize` (the
# committed tiny BERT fixtures: vocab.txt with mean pooling, and a
# tokenizer.json model), every
# allocation of a run failed in turn, one thread and two: each run exits 0
# with the same vectors, or 1 naming memory (standard output is a stream:
# the lines before the failure may be out). OpenBLAS's dlopen is spared
# (oom.sh, dynlib_spare). tests/faults/sweep.py.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"
need_failalloc
FX="$LOGIFY_ROOT/tests/fixtures/bert"

printf 'User User12 logged in.\nDisk usage at 91%% on node3\nfirst\n\nna\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 ok\n' >"$TMP/in.txt"
mkdir "$TMP/out"
# sweep LABEL ARGS...: one sweep of `logify ARGS` over in.txt
sweep() {
  local label=$1
  shift
  "${SWEEP[@]}" --spare "$(jansson_spare),$(dynlib_spare)" --stdout --stdin "$TMP/in.txt" --out "$TMP/out/marker" \
    --label "$label" "${PLAN[@]}" -- "$LOGIFY" "$@" >"$TMP/sweep.out" 2>&1 ||
    fail "$(cat "$TMP/sweep.out")"
  cat "$TMP/sweep.out"
  grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
  ok
}
PLAN=(--head 100000 --tail 0 --mid 0 --from 20) # every allocation (~1,100)
for threads in 1 2; do
  sweep "embed tiny_mean --threads $threads" embed --no-progress --model "$FX/tiny_mean" --batch 2 --threads "$threads"
done
# tokenizer.json's vocabulary makes ~10,000 allocations: its first and last
# 400 and 200 between
PLAN=(--head 400 --tail 400 --mid 200 --from 20)
sweep "embed tiny_tokjson" embed --no-progress --model "$FX/tiny_tokjson" --batch 2 --threads 1
# model tokenize reads its lines the same way (getline's buffer: an error, not the end)
PLAN=(--head 100000 --tail 0 --mid 0 --from 20)
sweep "model tokenize tiny_mean" model tokenize "$FX/tiny_mean"
done_checks
