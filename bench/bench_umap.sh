#!/usr/bin/env bash
# bench_umap.sh - Logify's UMAP against umap-learn on the same embeddings.npy
# (issue 7): n_neighbors 15, min_dist 0.1, cosine, seed 42, at the seed's
# 2,410 rows and at 25,000 rows. The vectors are the anchor's
# (../shared/anchors/umap_anchor.py): TF-IDF char 2-4-grams of the seed
# messages reduced by SVD to 384 dims; the 25,000 rows are the 2,410 stacked
# ~10 times plus N(0, 0.01) noise (numpy seed 0). Prints wall time of each,
# their ratio, and trustworthiness (scikit-learn's, k=15, cosine, on the same
# seeded 3,000-row sample for both).
#   Logify: wall time of the whole `logify cluster --umap-only` process
#           (reads the .npy, kNN, graph, spectral start, layout, writes CSV).
#   umap-learn: fit_transform time in-process after a JIT warm-up on 300 rows
#           (the warm-up time is printed too).
# Both run single-threaded apart from OpenBLAS inside Logify's exact kNN
# sgemm (2,410 rows); umap-learn with random_state set runs on one thread.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
LOGIFY_SHARED=${LOGIFY_SHARED:-$PWD/../shared}
data="$LOGIFY_SHARED/datasets/synthetic_logs.csv"
PY=/usr/bin/python3
SIZES=${BENCH_UMAP_SIZES:-"2410 25000"}
[[ -f "$data" ]] || { echo "bench_umap: $data not found" >&2; exit 1; }
[[ -x "$LOGIFY" ]] || { echo "bench_umap: $LOGIFY not built (make build)" >&2; exit 1; }
if ! "$PY" -c "import umap, sklearn" 2>/dev/null; then
  echo "bench_umap: needs Debian's umap-learn and python3-sklearn: apt-get install -y umap-learn python3-sklearn" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
printf '%-7s %10s %12s %8s %12s %12s %8s\n' rows logify_s umap_learn_s ratio tw_logify tw_umaplearn tw_diff
for n in $SIZES; do
  e="$tmp/e$n.npy"
  "$PY" bench/umap_compare.py prep "$data" "$n" "$e"
  t0=$(now)
  "$LOGIFY" cluster --embeddings "$e" --out "$tmp/l$n" --umap-only --no-progress 2> "$tmp/log$n"
  t1=$(now)
  ls=$(echo "$t1 - $t0" | bc -l)
  ul=$("$PY" bench/umap_compare.py umap-learn "$e" "$tmp/u$n.npy")
  us=${ul##*secs=}
  uw=${ul%% *}; uw=${uw#warmup=}
  twl=$("$PY" bench/umap_compare.py trust "$e" "$tmp/l$n/points.csv"); twl=${twl#*=}
  twu=$("$PY" bench/umap_compare.py trust "$e" "$tmp/u$n.npy"); twu=${twu#*=}
  printf '%-7s %10.2f %12.2f %7.1fx %12s %12s %+8.4f\n' "$n" "$ls" "$us" "$(echo "$us / $ls" | bc -l)" \
    "$twl" "$twu" "$(echo "$twl - $twu" | bc -l)"
  echo "        logify phases: $(grep '^UMAP' "$tmp/log$n" | sed 's/^UMAP ([^)]*): //')"
  echo "        umap-learn JIT warm-up (300 rows, not counted): ${uw} s"
done
echo "targets: trustworthiness within 0.01 of umap-learn's; >= 3x faster at 25,000 rows"
