#!/usr/bin/env bash
# make bench: runs every bench/bench_*.sh in order. Each prints Logify's
# figure, the anchor's figure (measured in the same run) and their ratio.
# Not part of `make check`: timings never decide a test.
set -euo pipefail
cd "$(dirname "$0")/.."
export LOGIFY=${LOGIFY:-$PWD/build/logify}
export LOGIFY_SHARED=${LOGIFY_SHARED:-$PWD/../shared}
if [[ ! -d "$LOGIFY_SHARED/anchors" ]]; then
  echo "bench: ../shared/anchors is absent; the benchmarks compare against its anchors" >&2
  exit 1
fi
status=0
for b in bench/bench_*.sh; do
  echo "=== $b"
  bash "$b" || { echo "bench: $b failed" >&2; status=1; }
done
exit $status
