#!/usr/bin/env bash
# check-aarch64.sh - builds Logify for aarch64 (Debian's cross compiler and
# arm64 multiarch libraries) and runs its tests under qemu-user, on an
# x86-64 machine. What it proves: the code builds for ARM (the BERT kernels
# take their portable path there: GNU C vectors compiled to NEON, LOGIFY_ISA
# can only be "generic") and the unit tests (test_gemm, test_bert and the
# rest), the BERT end-to-end tests on the tiny models, and the real
# all-MiniLM-L6-v2 parity check on a sample pass on it, emulated.
#
# Needs (root, once):
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install gcc-aarch64-linux-gnu qemu-user \
#     libvectorscan-dev:arm64 libpcre2-dev:arm64 libcsv-dev:arm64 libyaml-dev:arm64 \
#     libjansson-dev:arm64 libcurl4-openssl-dev:arm64 libmicrohttpd-dev:arm64 \
#     libutf8proc-dev:arm64 libopenblas-dev:arm64 liblbfgs-dev:arm64 libcmocka-dev:arm64
# qemu runs the binaries with the arm64 multiarch root (-L /: the loader
# and libraries in /lib/aarch64-linux-gnu); the cross toolchain's own
# sysroot (/usr/aarch64-linux-gnu) lacks the libraries and hangs at start.
# Env: BUILD (default build-aarch64), JOBS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build-aarch64}
JOBS=${JOBS:-2}
CC=aarch64-linux-gnu-gcc
command -v $CC >/dev/null || { echo "check-aarch64: $CC missing (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 77; }
command -v qemu-aarch64 >/dev/null || { echo "check-aarch64: qemu-aarch64 missing (apt-get install qemu-user)" >&2; exit 77; }
QEMU=(qemu-aarch64 -L /)

export PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=/
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64 \
  -DCMAKE_C_COMPILER=$CC -DCMAKE_ASM_COMPILER=$CC \
  -DCMAKE_LIBRARY_ARCHITECTURE=aarch64-linux-gnu \
  -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER \
  -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-aarch64;-L;/" >/dev/null
cmake --build "$BUILD" -j "$JOBS"
file "$BUILD/logify" | grep -q "ARM aarch64" || { echo "check-aarch64: $BUILD/logify is not an aarch64 binary" >&2; exit 1; }
echo "check-aarch64: built $(file -b "$BUILD/logify" | cut -d, -f1-2)"

# a wrapper so that the end-to-end scripts run the aarch64 binary under qemu
cat >"$BUILD/logify-qemu" <<SH
#!/bin/sh
exec ${QEMU[*]} "$ROOT/$BUILD/logify" "\$@"
SH
chmod +x "$BUILD/logify-qemu"
"$BUILD/logify-qemu" model info tests/fixtures/bert/tiny_mean

# unit tests: ctest runs each under qemu (CMAKE_CROSSCOMPILING_EMULATOR);
# the with_coretype.sh variants start the binary through bash and are
# x86 OpenBLAS kernels anyway: left out
(cd "$BUILD" && ctest --output-on-failure -j "$JOBS" -R '^unit\.test_[a-z_]+$' ${CTEST_ARGS:-})

# the BERT end-to-end tests on the aarch64 binary (tiny models)
export LOGIFY="$ROOT/$BUILD/logify-qemu" LOGIFY_ROOT=$ROOT LOGIFY_BUILD=$ROOT/$BUILD
export LOGIFY_SHARED=${LOGIFY_SHARED:-$ROOT/../shared}
rc=0
for t in embed embed_tokenizer_json; do
  set +e
  bash "tests/e2e/$t.sh"
  r=$?
  set -e
  case $r in
    0) echo "check-aarch64: e2e.$t passed" ;;
    77) echo "check-aarch64: e2e.$t skipped" ;;
    *) echo "check-aarch64: e2e.$t FAILED" >&2; rc=1 ;;
  esac
done

# the real all-MiniLM-L6-v2 (build/venv, `make venv`) against
# sentence-transformers' reference, every MINILM_EVERY-th text (emulation is
# ~50x slower than the machine: the full 2,525 texts would take hours):
# ids identical, cosine >= 0.99999, max |diff| <= 1e-4, as the x86 test
EVERY=${MINILM_EVERY:-25}
FX=tests/fixtures/minilm
if MINILM=$(build/venv/bin/python scripts/minilm_dir.py 2>/dev/null); then
  W=$(mktemp -d)
  python3 $FX/compare_minilm.py texts $FX/reference.jsonl.gz --every "$EVERY" >"$W/in.txt"
  "$LOGIFY" model tokenize "$MINILM" <"$W/in.txt" >"$W/tok.txt"
  "$LOGIFY" embed --model "$MINILM" --threads 2 <"$W/in.txt" >"$W/emb.txt"
  if python3 $FX/compare_minilm.py check $FX/reference.jsonl.gz "$W/emb.txt" "$W/tok.txt" --every "$EVERY"; then
    echo "check-aarch64: the real MiniLM on aarch64 ($(wc -l <"$W/in.txt") texts) matches sentence-transformers"
  else
    echo "check-aarch64: the real MiniLM on aarch64 differs from sentence-transformers" >&2
    rc=1
  fi
  rm -rf "$W"
else
  echo "check-aarch64: the real MiniLM is not installed (make venv): its check skipped"
fi
exit $rc
