#!/usr/bin/env bash
# bench_bert.sh - Logify's BERT (`logify embed`) on a random model at
# all-MiniLM-L6-v2's exact shape (6 layers, hidden 384, 12 heads, ffn 1536,
# vocab 30522, max_seq_length 256, mean pooling + Normalize) over the seed
# messages, side by side in the same run with the PyTorch anchor
# (../shared/anchors/torch_minilm.py, same shape) and the OpenBLAS sgemm
# peak (../shared/anchors/sgemm_peak.c); prints the ratios and the
# single-message latency.
#
# Needs /usr/bin/python3 with python3-torch (the anchor, and the generator
# of the ~90 MB model, which is never committed: it is written once to
# $LOGIFY_BERT_BENCH_DIR, default ${TMPDIR:-/tmp}/logify_minilm_bench).
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the machine sets them.
# Env: LOGIFY (binary), LOGIFY_SHARED, THREADS (default 2), BATCH (32),
#      EVERY (1: every seed row; k: every k-th row, for both Logify and the
#      anchor, for a quicker run), REPS (1: Logify and the anchor alternate
#      REPS times and the best of each is reported; the machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
SHARED=${LOGIFY_SHARED:-$PWD/../shared}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
EVERY=${EVERY:-1}
REPS=${REPS:-1}
MODEL=${LOGIFY_BERT_BENCH_DIR:-${TMPDIR:-/tmp}/logify_minilm_bench}
PY=/usr/bin/python3
[[ -x "$LOGIFY" ]] || { echo "bench_bert: $LOGIFY not built" >&2; exit 1; }
[[ -f "$SHARED/datasets/synthetic_logs.csv" ]] || { echo "bench_bert: ../shared is absent" >&2; exit 1; }
$PY -c 'import torch' 2>/dev/null || { echo "bench_bert: needs python3-torch (apt-get install python3-torch)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ ! -f "$MODEL/model.safetensors" ]]; then
  echo "bench_bert: writing a random MiniLM-L6-shaped model to $MODEL (~90 MB, once)"
  $PY scripts/gen_bert_fixtures.py minilm "$MODEL"
fi
# the seed rows (every EVERY-th): a CSV for the anchor, one line each for Logify
$PY -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))[:: int(sys.argv[2])]
w = csv.DictWriter(open(sys.argv[3], "w", newline=""), fieldnames=list(rows[0].keys()))
w.writeheader(); w.writerows(rows)
with open(sys.argv[4], "w") as f:
    for r in rows:
        f.write(r["log_message"].replace("\n", " ").replace("\r", " ") + "\n")' \
  "$SHARED/datasets/synthetic_logs.csv" "$EVERY" "$WORK/seed.csv" "$WORK/seed.txt"

echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
"$LOGIFY" model info "$MODEL"

# 1. Logify (tokenization excluded from the timed part, as in the anchor)
# 2. PyTorch anchor, same shape, same threads; alternated REPS times
for r in $(seq 1 "$REPS"); do
  "$LOGIFY" embed --model "$MODEL" --threads "$THREADS" --batch "$BATCH" --stats <"$WORK/seed.txt" \
    >/dev/null 2>>"$WORK/logify.txt"
  tail -1 "$WORK/logify.txt"
  $PY "$SHARED/anchors/torch_minilm.py" "$WORK/seed.csv" "$THREADS" | tee -a "$WORK/torch.txt"
done
# 3. sgemm peak
gcc -O2 "$SHARED/anchors/sgemm_peak.c" -lopenblas -o "$WORK/sgemm"
OPENBLAS_NUM_THREADS=$THREADS "$WORK/sgemm" 1024 1536 384 | tee "$WORK/sgemm.txt"
# for context only: OpenBLAS's own AVX-512 kernel, forced for this one
# command (the machine's detection may pick an older kernel, see docs/bert.md)
if grep -q avx512f /proc/cpuinfo; then
  OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=$THREADS "$WORK/sgemm" 1024 1536 384 | tee "$WORK/sgemm512.txt"
fi
# 4. single-message latency: one median-length seed message (in-process:
#    load, first encode, median of 30 warm encodes with 1 and $THREADS
#    threads, alternated; the ratio is the gain of splitting one message)
BUILD=$(dirname "$LOGIFY")
MSG=$(awk '{ print length($0) "\t" $0 }' "$WORK/seed.txt" | sort -n | awk -F'\t' -v n="$(wc -l <"$WORK/seed.txt")" 'NR == int(n / 2) { print $2 }')
gcc -O2 -I include bench/bench_bert_latency.c "$BUILD/liblogifycore.a" \
  $(pkg-config --libs libhs libpcre2-8 yaml-0.1 jansson libcurl libmicrohttpd libutf8proc openblas) \
  -lcsv -llbfgs -lm -lpthread -o "$WORK/latency"
"$WORK/latency" "$MODEL" "$MSG" 30 "$THREADS" | tee "$WORK/lat.txt"

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1" | sort -g | tail -1; }
L_TOK=$(field "$WORK/logify.txt" tok_per_s)
L_GF=$(field "$WORK/logify.txt" GFLOPS)
T_TOK=$(field "$WORK/torch.txt" tok_per_s)
T_GF=$(field "$WORK/torch.txt" GFLOPS)
P_GF=$(field "$WORK/sgemm.txt" GFLOPS)
echo
echo "== BERT (MiniLM-L6 shape), threads=$THREADS batch=$BATCH, $(wc -l <"$WORK/seed.txt") seed messages (every ${EVERY}-th row), best of $REPS"
printf '  logify embed:   %8s tokens/s  %6s GFLOPS  (real WordPiece tokens)\n' "$L_TOK" "$L_GF"
printf '  PyTorch anchor: %8s tokens/s  %6s GFLOPS  (anchor'"'"'s estimated token lengths)\n' "$T_TOK" "$T_GF"
printf '  sgemm peak:                       %6s GFLOPS\n' "$P_GF"
awk -v a="$L_TOK" -v b="$T_TOK" -v c="$L_GF" -v d="$T_GF" -v p="$P_GF" 'BEGIN {
  printf "  ratio tokens/s logify/torch: %.2fx (target >= 2x)\n", a / b
  printf "  ratio GFLOPS   logify/torch: %.2fx\n", c / d
  printf "  logify / sgemm peak:         %.0f%% (target >= 60%%)\n", 100 * c / p }'
if [[ -s "$WORK/sgemm512.txt" ]]; then
  P5=$(field "$WORK/sgemm512.txt" GFLOPS)
  awk -v c="$L_GF" -v p="$P5" 'BEGIN { printf "  logify / sgemm peak with OpenBLAS'"'"'s AVX-512 kernel forced (OPENBLAS_CORETYPE=SkylakeX, that command only): %.0f%% of %.1f GFLOPS\n", 100 * c / p, p }'
fi
echo "  single-message latency ($(field "$WORK/lat.txt" tokens) tokens): $(field "$WORK/lat.txt" warm_ms_threads1) ms (1 thread), \
$(field "$WORK/lat.txt" "warm_ms_threads$THREADS") ms ($THREADS threads), ratio $(field "$WORK/lat.txt" speedup)x; \
best $(field "$WORK/lat.txt" best_ms_threads1) / $(field "$WORK/lat.txt" "best_ms_threads$THREADS") ms; first call after load $(field "$WORK/lat.txt" first_ms) ms"
