# oom.sh - shared by the allocation-failure tests (tests/e2e/oom_*.sh;
# sourced after tests/lib.sh): the interposer, the sweep, the ranges spared.

# need_failalloc: sets FAILALLOC (tests/faults/failalloc.c, built by CMake
# outside the sanitizer builds, whose runtimes replace malloc themselves);
# skips (exit 77) when it is absent or the binary is a sanitizer build.
need_failalloc() {
  FAILALLOC=${LOGIFY_FAILALLOC:-}
  if sanitized; then
    echo "SKIP: $LOGIFY is an ASan/TSan build: its runtime replaces malloc, failalloc cannot" >&2
    exit 77
  fi
  if [[ -z $FAILALLOC || ! -f $FAILALLOC ]]; then
    echo "SKIP: no failalloc library (LOGIFY_FAILALLOC='$FAILALLOC'; CMake builds it outside the sanitizer builds)" >&2
    exit 77
  fi
  SWEEP=(python3 "$LOGIFY_ROOT/tests/faults/sweep.py" --so "$FAILALLOC" --spare "$(jansson_spare)")
}

# jansson_spare: the code ranges of Jansson's json_load* in $LOGIFY (linked
# statically), as FAILALLOC_SPARE wants them. Jansson 2.14's lexer crashes
# on a failed malloc (akheron/jansson#362, open): its parses are spared.
jansson_spare() {
  nm -S "$LOGIFY" 2>/dev/null |
    awk '$4 ~ /^json_load(b|s|f|fd|_file|_callback)$/ {printf "%s0x%s+0x%s", sep, $1, $2; sep=","}'
}

# dynlib_spare: the code range of lg_dynlib_load (src/core/dynlib.c), the
# dlopen of a lazily loaded library. OpenBLAS's libgfortran runs a
# constructor inside dlopen that gives up on a failed malloc ("Operating
# system error: Cannot allocate memory", then SIGSEGV or "double free" in
# its exit handlers), and OpenBLAS's own, starting its threads, raises
# SIGINT when pthread_create fails: third-party code the caller cannot
# reach (docs/testing.md). The sweeps that load OpenBLAS spare it.
dynlib_spare() {
  nm -S "$LOGIFY" 2>/dev/null | awk '$4 == "lg_dynlib_load" {printf "0x%s+0x%s", $1, $2}'
}

# small_rules FILE: two rules (a small Vectorscan database: its compiler
# makes most of a run's allocations, ~14,000 with these two).
small_rules() {
  cat >"$1" <<'YAML'
version: 1
rules:
  - id: user-login
    label: User Action
    pattern: 'User User\d+ logged in'
  - id: disk
    label: Resource Usage
    pattern: 'Disk usage at \d+%'
YAML
}

# rows_csv FILE: 300 rows of three kinds (two the small rules decide, one
# the model does).
rows_csv() {
  { echo source,log_message
    for i in $(seq 100); do
      echo "ModernCRM,User User$i logged in."
      echo "BillingSystem,IP 10.4.7.$i blocked after 14 failed login attempts"
      echo "AnalyticsEngine,\"Disk usage at $i% on node$i\""
    done; } >"$1"
}
