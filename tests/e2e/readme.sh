#!/usr/bin/env bash
# The README cannot drift: every command in its ```sh blocks runs here.
#  - `build/logify ...` lines run with this build's binary, from the repo root;
#  - `make demo` runs as `make demo BUILD=<this build>` and must write
#    resources/output.csv with one row per input row;
#  - `make check` cannot run inside itself: we check that it runs
#    scripts/check.sh and what that script's three targets expand to (the
#    three builds' ctest runs) with `make -n`;
#  - `build/logify serve ...` starts in the background on a free port for the
#    `curl` lines that follow it;
#  - a line ending in `# not run: REASON` is skipped, and REASON must name the
#    test that covers it.
source "$(dirname "$0")/../lib.sh"
cd "$LOGIFY_ROOT"
BUILD_DIR=$(dirname "$LOGIFY")
SERVER_PID=""
PORT=""
SKIPPED_OUTPUTS=()
stop_server() { [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""; }
trap 'stop_server; rm -rf "$TMP"' EXIT

python3 - README.md >"$TMP/commands" <<'PY'
import sys
inside = False
for line in open(sys.argv[1]):
    s = line.rstrip("\n")
    if s.startswith("```"):
        inside = (s.strip() == "```sh") if not inside else False
        continue
    if inside and s.strip():
        print(s)
PY
[[ -s "$TMP/commands" ]] || fail "no commands found in README.md"

while IFS= read -r cmd; do
  if [[ "$cmd" == *"# not run: "* ]]; then
    reason=${cmd##*# not run: }
    test_file=$(grep -o 'tests/[A-Za-z0-9_/.-]*' <<<"$reason" | head -1)
    [[ -n "$test_file" && -f "$test_file" ]] || fail "README line skipped without naming an existing test: $cmd"
    ok
    continue
  fi
  if [[ "$cmd" == "make check"* ]]; then
    # check runs scripts/check.sh, which runs these three targets in turn
    make -n check 2>/dev/null | grep -q "scripts/check.sh" || fail "make check does not run scripts/check.sh"
    make -n test test-asan test-tsan >"$TMP/make-n" 2>/dev/null || fail "make -n test test-asan test-tsan"
    [[ $(grep -c "ctest" "$TMP/make-n") -ge 3 ]] && grep -q "cd build-asan && ASAN_OPTIONS=" "$TMP/make-n" &&
      grep -q "cd build-tsan && TSAN_OPTIONS=" "$TMP/make-n" ||
      fail "make check does not run the three test suites: $(cat "$TMP/make-n")"
    ok
    continue
  fi
  if [[ "$cmd" == "make demo"* ]]; then
    rm -f resources/output.csv
    make demo BUILD="$BUILD_DIR" >"$TMP/demo.out" 2>&1 || fail "make demo: $(tail -20 "$TMP/demo.out")"
    grep -q "rows in" "$TMP/demo.out" || fail "make demo printed no summary"
    python3 - <<'PY' || fail "make demo output"
import csv
rows_in = list(csv.DictReader(open("resources/test.csv", newline="")))
rows_out = list(csv.DictReader(open("resources/output.csv", newline="")))
assert len(rows_in) == len(rows_out) > 0
assert all(r["target_label"] for r in rows_out)
PY
    ok
    continue
  fi
  if [[ "$cmd" == "build/logify serve"* ]]; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    serve_cmd=${cmd/build\/logify/$LOGIFY}
    serve_cmd=${serve_cmd/--port 8000/--port $PORT}
    [[ "$serve_cmd" == *"--port $PORT"* ]] || serve_cmd="$serve_cmd --port $PORT"
    bash -c "exec $serve_cmd" >"$TMP/serve.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
      curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
      sleep 0.1
    done
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || fail "server did not start: $(cat "$TMP/serve.log")"
    ok
    continue
  fi
  if [[ "$cmd" == curl* ]]; then
    [[ -n "$SERVER_PID" ]] || fail "README runs curl with no server before it: $cmd"
    run=${cmd//:8000/:$PORT}
    bash -c "set -o pipefail; ${run/curl /curl -fsS }" >"$TMP/curl.out" 2>&1 || fail "README command failed: $cmd: $(cat "$TMP/curl.out")"
    ok
    continue
  fi
  if [[ "$cmd" == "python3 tests/gen/"* ]]; then # the repo's data generators
    bash -c "set -o pipefail; $cmd" >"$TMP/cmd.out" 2>&1 || fail "README command failed: $cmd: $(tail -20 "$TMP/cmd.out")"
    ok
    continue
  fi
  if [[ "$cmd" == *build/logify* ]]; then
    needs_skipped=""
    for out in "${SKIPPED_OUTPUTS[@]}"; do [[ "$cmd" == *"$out"* ]] && needs_skipped=$out; done
    if [[ ( "$cmd" == *../shared/* && ! -d ../shared ) || -n "$needs_skipped" ]]; then
      echo "skip (needs ../shared${needs_skipped:+, through $needs_skipped}): $cmd" >&2
      # what it would have written is missing too
      out=$(grep -oE -- '--out [^ ]+' <<<"$cmd" | cut -d' ' -f2 || true)
      [[ -n "$out" ]] && SKIPPED_OUTPUTS+=("$out")
      continue
    fi
    run=${cmd//build\/logify/$LOGIFY}
    bash -c "set -o pipefail; $run" >"$TMP/cmd.out" 2>&1 || fail "README command failed: $cmd: $(tail -20 "$TMP/cmd.out")"
    ok
    continue
  fi
  fail "README command of a kind this test does not know how to run: $cmd"
done <"$TMP/commands"
stop_server
done_checks
