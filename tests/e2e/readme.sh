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
# What each README command must print (stdout + stderr, an extended regex),
# or, as file:PATH:REGEX, what it must write: the README test checks output,
# not only the exit status. A README command with no line here fails the
# test, so a new command comes with its check.
declare -A EXPECT=(
  ["build/logify classify resources/test.csv -o resources/output.csv"]='file:resources/output.csv:^source,log_message,target_label'
  ["build/logify classify resources/test.csv --explain --format jsonl"]='"stage":"rules".*"template_id":"[0-9a-f]{16}"'
  ["cat resources/test.csv | build/logify classify - --summary > /dev/null"]='logify: 20 rows in '
  ["build/logify rules check rules/default.yaml"]='rules/default.yaml: [0-9]+ rules OK'
  ["build/logify rules test rules/default.yaml 'User User42 logged in.' --source BillingSystem"]="match: rule 'user-login-logout' .* -> User Action"
  ["build/logify classify resources/test.csv --rules rules/default.yaml --route '*=rules'"]=',User Action$'
  ["build/logify classify resources/test.csv --route '*=rules,model:0.7' --route 'LegacyCRM=rules'"]=',Security Alert$'
  ["build/logify classify resources/test.csv --config resources/logify.yaml"]=',User Action$'
  ["build/logify train --data ../shared/datasets/synthetic_logs.csv --out /tmp/logify-model --seed 42"]='wrote /tmp/logify-model'
  ["build/logify eval --data ../shared/datasets/synthetic_logs.csv --model /tmp/logify-model --json"]='"macro_f1": *[01]'
  ["build/logify eval --data ../shared/datasets/synthetic_logs.csv --model /tmp/logify-model --plot /tmp/logify-eval.svg"]='file:/tmp/logify-eval.svg:class="cell" [^>]*data-truth="HTTP Status" data-pred="HTTP Status"'
  ["build/logify classify resources/test.csv --model /tmp/logify-model --explain"]=',model,0\.[0-9]+,model p='
  ["python3 tests/gen/gen_real_logs.py --out /tmp/logify-real.csv --lines-per-system 200"]='file:/tmp/logify-real.csv:^source,log_message,target_label'
  ["build/logify train --data /tmp/logify-real.csv --out /tmp/logify-real-model --route '*=model'"]='classifier ovr_linear_svm'
  ["build/logify templates resources/test.csv -o /tmp/logify-templates.csv --summary"]='file:/tmp/logify-templates.csv:,template_id,template$'
  ["build/logify templates ../shared/datasets/synthetic_logs.csv --format jsonl --params --state /tmp/logify-miner.jsonl -o /tmp/logify-templates.jsonl"]='file:/tmp/logify-templates.jsonl:"params":\['
  ["build/logify classify resources/test.csv --templates"]=',template_id$'
  ["build/logify cluster --data ../shared/datasets/synthetic_logs.csv --out /tmp/logify-cluster"]='wrote /tmp/logify-cluster/'
  ["build/logify rules check /tmp/logify-cluster/suggested_rules.yaml"]='suggested_rules.yaml: [0-9]+ rules OK'
  ["curl -F file=@resources/test.csv http://127.0.0.1:8000/classify/"]='^source,log_message,target_label'
  ["curl -H 'Content-Type: application/json' -d '{\"logs\":[{\"source\":\"ModernCRM\",\"log_message\":\"User User123 logged in.\"}]}' http://127.0.0.1:8000/v1/classify"]='"label":"User Action"'
  ["curl http://127.0.0.1:8000/metrics"]='^logify_'
  ["make install PREFIX=/tmp/logify-install"]='file:/tmp/logify-install/lib/systemd/system/logify.service:^ExecStart=/tmp/logify-install/bin/logify serve'
  ["make deb DEB_OUT=/tmp/logify-deb"]='/tmp/logify-deb/logify_[0-9.]+_[a-z0-9]+\.deb$'
  ["curl http://127.0.0.1:8000/ -o /tmp/logify-console.html"]='file:/tmp/logify-console.html:<title>Logify console</title>'
  ["curl -F file=@resources/test.csv 'http://127.0.0.1:8000/classify/?format=jsonl&explain=1'"]='"stage":"rules","confidence":1\.0000,"detail":"rule user-login-logout","template_id":"[0-9a-f]{16}"'
  ["build/logify model info tests/fixtures/bert/tiny_mean"]='BERT 2 layers, hidden 32'
  ["echo \"Disk /dev/sda1 is 98% full\" | build/logify embed --model tests/fixtures/bert/tiny_mean"]='^\[-?[0-9]'
  ["echo \"Disk /dev/sda1 is 98% full\" | build/logify embed --model tests/fixtures/bert/tiny_mean --quantize int8"]='^\[-?[0-9]'
  ["echo \"Disk /dev/sda1 is 98% full\" | build/logify model tokenize tests/fixtures/bert/tiny_mean"]='"ids": \[[0-9]+, '
  ["build/logify train --data ../shared/datasets/synthetic_logs.csv --out /tmp/logify-sbert --encoder sbert:tests/fixtures/bert/tiny_mean"]='encoder sbert:[^ ]*tests/fixtures/bert/tiny_mean'
  ["build/logify classify resources/test.csv --model /tmp/logify-sbert --explain"]=',rules,1\.0000,rule '
)
# check_output CMD OUTFILE: the command's expectation holds
check_output() {
  local want=${EXPECT[$1]-}
  [[ -n $want ]] || fail "README command without an output check in tests/e2e/readme.sh: $1"
  if [[ $want == file:* ]]; then
    want=${want#file:}
    local path=${want%%:*}
    want=${want#*:}
    [[ -f $path ]] || fail "README command wrote no $path: $1"
    grep -qE -- "$want" "$path" || fail "README command: $path lacks /$want/: $1: $(head -3 "$path")"
  else
    grep -qE -- "$want" "$2" || fail "README command's output lacks /$want/: $1: $(tail -5 "$2")"
  fi
}
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
  if [[ "$cmd" == "make install"* || "$cmd" == "make deb"* ]]; then # this build's files
    BUILD="$BUILD_DIR" bash -c "set -o pipefail; $cmd" >"$TMP/cmd.out" 2>&1 || fail "README command failed: $cmd: $(tail -20 "$TMP/cmd.out")"
    check_output "$cmd" "$TMP/cmd.out"
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
    check_output "$cmd" "$TMP/curl.out"
    ok
    continue
  fi
  if [[ "$cmd" == "python3 tests/gen/"* ]]; then # the repo's data generators
    bash -c "set -o pipefail; $cmd" >"$TMP/cmd.out" 2>&1 || fail "README command failed: $cmd: $(tail -20 "$TMP/cmd.out")"
    check_output "$cmd" "$TMP/cmd.out"
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
    check_output "$cmd" "$TMP/cmd.out"
    ok
    continue
  fi
  fail "README command of a kind this test does not know how to run: $cmd"
done <"$TMP/commands"
stop_server
done_checks
