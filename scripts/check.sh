#!/usr/bin/env bash
# check.sh - `make check`: the three test rounds, each run and reported even
# when an earlier one fails (a failure in one must not hide the others).
#   release       make test       (build/)
#   asan+ubsan    make test-asan  (build-asan/)
#   tsan          make test-tsan  (build-tsan/, the threaded tests)
# Each round's output goes to the terminal and to build-check/<round>.log.
# At the end, one summary line per
# round; the exit status is non-zero when any round failed.
# CHECK_MAKE replaces the make command (the test of this script uses it).
set -u
MAKE_CMD=${CHECK_MAKE:-make}
LOGDIR=${CHECK_LOGDIR:-build-check}
mkdir -p "$LOGDIR"
rounds=("release:test" "asan+ubsan:test-asan" "tsan:test-tsan")
summary=()
failed=0
for r in "${rounds[@]}"; do
  name=${r%%:*}
  target=${r#*:}
  log="$LOGDIR/$name.log"
  echo "==== check round: $name (make $target) ===="
  start=$(date +%s)
  $MAKE_CMD --no-print-directory "$target" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  secs=$(($(date +%s) - start))
  # ctest's own count, when the round got that far
  counts=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  [[ -n $counts ]] || counts="no test summary (the build or setup failed: see $log)"
  if [[ $rc -eq 0 ]]; then
    summary+=("check: $name: passed ($counts; ${secs} s)")
  else
    failed=$((failed + 1))
    summary+=("check: $name: FAILED, exit $rc ($counts; ${secs} s; log: $log)")
  fi
done
echo "==== check summary ===="
printf '%s\n' "${summary[@]}"
if [[ $failed -gt 0 ]]; then
  echo "check: $failed of ${#rounds[@]} rounds failed"
  exit 1
fi
echo "check: all ${#rounds[@]} rounds passed"
