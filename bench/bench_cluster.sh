#!/usr/bin/env bash
# bench_cluster.sh - `logify cluster` end to end on a large repetitive log
# file: 1,000,000 generated rows (tests/e2e/gen_cluster_logs.py: a few dozen
# templates, numbers/addresses/ids varying on every line, words from small
# vocabularies), hash encoder, DBSCAN (cosine, eps 0.2, min_samples 1) +
# silhouette on the distinct vectors, weighted (exactly those of all rows),
# UMAP of the distinct vectors, templates, rules, maps, every output file.
# Logify: wall time of the whole process.
# The anchor (the prototype's scikit-learn DBSCAN + silhouette_score and
# umap-learn, on Logify's own embeddings.npy of the same rows) is O(n^2) in
# rows and cannot run on 1,000,000 rows in reasonable time; it is timed on
# the first 25,000 rows of the same file against Logify on those rows, and
# the ratio is given there (ratios travel, seconds do not). Its cluster
# count and the adjusted Rand index against Logify's clusters check that
# both found the same clustering.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
PY=/usr/bin/python3
ROWS=${BENCH_CLUSTER_ROWS:-1000000}
SAMPLE=${BENCH_CLUSTER_SAMPLE:-25000}
[[ -x "$LOGIFY" ]] || { echo "bench_cluster: $LOGIFY not built (make build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
"$PY" tests/e2e/gen_cluster_logs.py "$ROWS" "$tmp/big.csv" 1
head -n $((SAMPLE + 1)) "$tmp/big.csv" > "$tmp/sample.csv"

run() { # run NAME CSV: whole-process wall time of logify cluster, in seconds
  local t0 t1
  t0=$(now)
  "$LOGIFY" cluster --data "$2" --out "$tmp/$1" --no-progress 2> "$tmp/$1.log" ||
    { cat "$tmp/$1.log" >&2; exit 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
lb=$(run big "$tmp/big.csv")
ls=$(run sample "$tmp/sample.csv")
summary() { # rows, distinct, clusters, silhouette from a run's log
  local l="$tmp/$1.log"
  printf '%s rows, %s distinct vectors, %s clusters, silhouette %s' \
    "$(sed -n 's/^logify cluster: \([0-9]*\) rows.*/\1/p' "$l")" \
    "$(sed -n 's/^logify cluster: [0-9]* rows, \([0-9]*\) distinct.*/\1/p' "$l")" \
    "$(sed -n 's/^DBSCAN[^:]*: \([0-9]*\) clusters.*/\1/p' "$l")" \
    "$(sed -n 's/.*silhouette \([0-9.n/a ]*\) (.*/\1/p' "$l")"
}
printf 'logify cluster, %s rows: %.2f s end to end (%s)\n' "$ROWS" "$lb" "$(summary big)"
grep -E "^(logify cluster|DBSCAN|UMAP)" "$tmp/big.log" | sed 's/^/    /'
echo "    rows/s: $(echo "$ROWS / $lb" | bc)"

if ! "$PY" -c "import umap, sklearn" 2>/dev/null; then
  echo "anchor: needs Debian's umap-learn and python3-sklearn (apt-get install -y umap-learn python3-sklearn); skipped"
  exit 0
fi
a=$("$PY" bench/cluster_anchor.py "$tmp/sample/embeddings.npy" "$tmp/sample/points.csv")
at=${a#*total=}; at=${at%% *}
adb=${a#dbscan=}; adb=${adb%% *}
asil=${a#*silhouette=}; asil=${asil%% *}
printf 'anchor (scikit-learn DBSCAN + silhouette_score + umap-learn) on %s rows: cannot run in reasonable time\n' "$ROWS"
printf '    (DBSCAN and silhouette are O(n^2) in rows: by n^2 scaling of its %s-row run, ~%.0f s for those two alone)\n' \
  "$SAMPLE" "$(echo "($adb + $asil) * ($ROWS / $SAMPLE)^2" | bc -l)"
printf 'on the first %s rows: logify %.2f s end to end (%s)\n' "$SAMPLE" "$ls" "$(summary sample)"
printf '                      anchor %.2f s (%s), ratio %.1fx\n' "$at" "$a" "$(echo "$at / $ls" | bc -l)"
printf 'logify at %s rows vs anchor at %s rows: %.2f s vs %.2f s\n' "$ROWS" "$SAMPLE" "$lb" "$at"
