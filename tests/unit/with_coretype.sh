#!/usr/bin/env bash
# Runs a test program with OpenBLAS's kernel forced: with_coretype.sh CORE PROGRAM [ARGS]
# Logify's tests must pass whatever kernel OpenBLAS picks (issue 13: the Zen
# kernel blocks split products differently from Haswell's). A kernel this CPU
# cannot execute is skipped (exit 77) instead of dying on an illegal instruction.
set -euo pipefail
core=$1
shift
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
case $core in
  SkylakeX | Cooperlake | SapphireRapids) need=avx512f ;;
  Haswell | Zen) need=avx2 ;;
  *) need=sse2 ;;
esac
if [[ " $flags " != *" $need "* ]]; then
  echo "SKIP: OPENBLAS_CORETYPE=$core needs $need, which this CPU lacks"
  exit 77
fi
OPENBLAS_CORETYPE=$core exec "$@"
