#!/usr/bin/env bash
# The projection kernel is chosen by a rule on the CPU's features, never by
# a timing at load: every load on one CPU picks the same kernel and `embed`
# gives the same bytes, even when loads run at the same time on a busy
# machine. (Until 2026-12-07 a timing at load chose between the packed
# kernel and OpenBLAS, which do not give the same bits; with
# OPENBLAS_NUM_THREADS=1 it took OpenBLAS in 8 of 20 loads on the 2-core
# Xeon: this test failed there.) Expected kernel: packed-avx512 on a CPU
# with AVX-512F, packed-avx2 with AVX2 + FMA, else OpenBLAS
# (docs/bert.md, "GEMM choice"). Runs 4 pairs of concurrent `embed`s of the
# tiny fixture, and 2 pairs of the real all-MiniLM-L6-v2 when the venv has
# it (not under the sanitizers: 90 MB of weights packed per load).
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
unset LOGIFY_ISA LOGIFY_SBERT_GEMM
export OPENBLAS_NUM_THREADS=1

want=openblas
if [[ $(uname -m) == x86_64 ]]; then
  flags=$(grep -m1 '^flags' /proc/cpuinfo)
  if [[ " $flags " == *" avx512f "* && " $flags " == *" avx2 "* && " $flags " == *" fma "* ]]; then
    want=packed-avx512
  elif [[ " $flags " == *" avx2 "* && " $flags " == *" fma "* ]]; then
    want=packed-avx2
  fi
fi

# same_runs MODEL INPUT PAIRS: PAIRS rounds of two concurrent embeds (each
# the other's load), all outputs byte-identical, every load on kernel $want
same_runs() {
  local model=$1 input=$2 pairs=$3 i
  for i in $(seq 1 "$pairs"); do
    "$LOGIFY" embed --model "$model" --threads 2 <"$input" >"$TMP/a$i" 2>"$TMP/ea$i" &
    local pa=$!
    "$LOGIFY" embed --model "$model" --threads 1 --batch 4 <"$input" >"$TMP/b$i" 2>"$TMP/eb$i" &
    local pb=$!
    wait "$pa" || fail "embed failed: $(cat "$TMP/ea$i")"
    wait "$pb" || fail "embed failed: $(cat "$TMP/eb$i")"
    "$LOGIFY" model info "$model" >"$TMP/info$i"
    grep -q "projections on $want," "$TMP/info$i" || fail "load $i: $(cat "$TMP/info$i") (want $want)"
  done
  for i in $(seq 1 "$pairs"); do
    cmp -s "$TMP/a1" "$TMP/a$i" || fail "$model: run a$i differs from run a1"
    # the packed kernel gives the same bits whatever the batch and threads
    if [[ $want == packed-* ]]; then
      cmp -s "$TMP/a1" "$TMP/b$i" || fail "$model: run b$i (batch 4, 1 thread) differs from run a1"
    fi
  done
  [[ -s "$TMP/a1" ]] || fail "no output"
  ok
}

python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["texts"]]' \
  "$FX/tiny_mean/reference.json" >"$TMP/tiny.txt"
same_runs "$FX/tiny_mean" "$TMP/tiny.txt" 4

venv=${LOGIFY_VENV:-$LOGIFY_ROOT/build/venv}
if ! sanitized && [[ -x "$venv/bin/python" ]] &&
  MINILM=$("$venv/bin/python" "$LOGIFY_ROOT/scripts/minilm_dir.py" 2>/dev/null); then
  python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["texts"]]' \
    "$FX/tiny_cls/reference.json" >"$TMP/mini.txt"
  same_runs "$MINILM" "$TMP/mini.txt" 2
else
  echo "embed_gemm_choice: the real all-MiniLM-L6-v2 part not run (no venv with it, or a sanitizer build)"
fi
done_checks
