#!/usr/bin/env bash
# `logify cluster --out DIR` into a DIR holding an earlier run's outputs is
# all or nothing: a run that fails part-way leaves every earlier file as it
# was (never some replaced and some old) and nothing of its own behind; a
# run that succeeds replaces the whole set. Forced failures: a file of the
# set that cannot be replaced (map.html is a directory), and, outside the
# sanitizer builds, a rename of the commit (FAILALLOC_RENAME) and each
# allocation of a run in turn (tests/faults/failalloc.c through
# tests/faults/sweep.py --keep DIR).
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/faults/oom.sh"

rows_csv "$TMP/in.csv"
head -61 "$TMP/in.csv" >"$TMP/in60.csv"
head -41 "$TMP/in.csv" >"$TMP/in40.csv"
names=(points.csv embeddings.npy clusters.csv map.svg map.html suggested_rules.yaml)

# no stage directory (.logify-cluster.*) and no temporary file left in DIR
nothing_left() {
  local extra
  extra=$(find "$1" -mindepth 1 \( -name '.logify-cluster.*' -o -name '*.tmp*' \) -print)
  [[ -z $extra ]] || fail "left behind in $1: $extra"
}

"$LOGIFY" cluster --data "$TMP/in60.csv" --out "$TMP/old" --no-progress 2>"$TMP/err" || fail "$(cat "$TMP/err")"
for f in "${names[@]}"; do [[ -s $TMP/old/$f ]] || fail "first run: no $f"; done
nothing_left "$TMP/old"
ok

# a file of the set that cannot be replaced: the run fails, saying which,
# and the other five earlier files are byte for byte the earlier ones
cp -r "$TMP/old" "$TMP/out"
rm "$TMP/out/map.html"
mkdir "$TMP/out/map.html"
cp -r "$TMP/out" "$TMP/before"
rc=0
"$LOGIFY" cluster --data "$TMP/in40.csv" --out "$TMP/out" --no-progress 2>"$TMP/err" || rc=$?
[[ $rc -eq 1 ]] || fail "exit $rc, want 1: $(cat "$TMP/err")"
grep -q "map.html" "$TMP/err" || fail "the error does not name map.html: $(cat "$TMP/err")"
diff -r "$TMP/before" "$TMP/out" >"$TMP/diff" || fail "a failed run changed $TMP/out (a mixed set): $(cat "$TMP/diff")"
nothing_left "$TMP/out"
ok

# a run that succeeds into the earlier DIR replaces every file of the set
# (an earlier file keeps its mode, as -o's files do)
rm -rf "$TMP/out"
cp -r "$TMP/old" "$TMP/out"
chmod 640 "$TMP/out/clusters.csv"
"$LOGIFY" cluster --data "$TMP/in40.csv" --out "$TMP/out" --no-progress 2>"$TMP/err" || fail "$(cat "$TMP/err")"
"$LOGIFY" cluster --data "$TMP/in40.csv" --out "$TMP/fresh" --no-progress 2>"$TMP/err" || fail "$(cat "$TMP/err")"
for f in "${names[@]}"; do
  cmp -s "$TMP/out/$f" "$TMP/fresh/$f" || fail "$f is not the new run's (over an earlier set)"
done
[[ $(stat -c %a "$TMP/out/clusters.csv") == 640 ]] || fail "clusters.csv lost its mode 640: $(stat -c %a "$TMP/out/clusters.csv")"
nothing_left "$TMP/out"
ok

# each allocation failed in turn (a sample): exit 0 with the new set, or
# exit 1 with DIR exactly the earlier set
if sanitized || [[ -z ${LOGIFY_FAILALLOC:-} || ! -f ${LOGIFY_FAILALLOC:-} ]]; then
  echo "note: no allocation-failure sweep here (a sanitizer build, or no failalloc library)"
else
  need_failalloc
  # a rename of the commit that fails after earlier ones succeeded (map.svg,
  # the 4th of the set: points.csv, embeddings.npy and clusters.csv are
  # replaced by then): the earlier files are put back, byte for byte
  rm -rf "$TMP/out"
  cp -r "$TMP/old" "$TMP/out"
  cp -r "$TMP/out" "$TMP/before_rename"
  rc=0
  LD_PRELOAD=$LOGIFY_FAILALLOC FAILALLOC_RENAME="$TMP/out/map.svg" \
    "$LOGIFY" cluster --data "$TMP/in40.csv" --out "$TMP/out" --no-progress 2>"$TMP/err" || rc=$?
  [[ $rc -eq 1 ]] || fail "a failed rename: exit $rc, want 1: $(cat "$TMP/err")"
  grep -q "cannot replace $TMP/out/map.svg" "$TMP/err" || fail "the error does not name map.svg: $(cat "$TMP/err")"
  diff -r "$TMP/before_rename" "$TMP/out" >"$TMP/diff" ||
    fail "a failed rename left $TMP/out changed (the earlier files not put back): $(cat "$TMP/diff")"
  nothing_left "$TMP/out"
  ok
  mkdir "$TMP/sw"
  "${SWEEP[@]}" --out "$TMP/sw/marker" --keep "$TMP/sw/cl" --keep-from "$TMP/old" \
    --result "$TMP/sw/cl/clusters.csv" --result "$TMP/sw/cl/points.csv" \
    --head 150 --tail 400 --every 3 --mid 40 --from 5 --label "cluster into an earlier set" -- \
    "$LOGIFY" cluster --data "$TMP/in40.csv" --out "$TMP/sw/cl" --no-progress >"$TMP/sweep.out" 2>&1 ||
    fail "$(cat "$TMP/sweep.out")"
  cat "$TMP/sweep.out"
  grep -q "allocations in a run" "$TMP/sweep.out" || fail "no sweep: $(cat "$TMP/sweep.out")"
  ok
fi
done_checks
