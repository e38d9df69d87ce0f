#!/usr/bin/env bash
# The LLM stage against a real llama.cpp server: llama-cpp-python's
# OpenAI-compatible server (`make venv-llama`: it compiles llama.cpp)
# serving a tiny random-weight model that tests/llama/make_tiny_gguf.py
# writes here. Nobody here wrote that server, and its model answers garbage
# unless constrained. Checked:
#   - constrain auto: the probe finds the grammar form (the server refuses
#     the OpenAI json_schema form with 422 naming response_format: a
#     refusal, not a breaker failure; it ignores the top-level json_schema,
#     guided_* and format fields silently) and every answer is an allowed
#     label (10 of 10 rows, from a model with random weights);
#   - constrain none: the same model unconstrained answers no allowed label;
#   - the server started only after the run has tripped the breaker: every
#     row labelled, one trip, one close;
#   - the server killed mid-run (a live stream) and restarted within the
#     run: the rows after the restart labelled.
# Skips (77) when the venv has no llama-cpp-python. Every wait is an event
# wait with bounds of minutes.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
VENV=${LOGIFY_VENV:-$LOGIFY_ROOT/build/venv}
if ! "$VENV/bin/python" -c 'import llama_cpp.server, gguf' 2>/dev/null; then
  echo "SKIP: no llama-cpp-python[server] + gguf in $VENV (run 'make venv-llama': it compiles llama.cpp, see docs/llm.md)" >&2
  exit 77
fi
PY="$VENV/bin/python"
"$PY" "$LOGIFY_ROOT/tests/llama/make_tiny_gguf.py" "$TMP/tiny.gguf" || fail "make_tiny_gguf.py failed"
P=$(/usr/bin/python3 "$LOGIFY_ROOT/tests/fake_llm_server.py" --free-port)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
start_server() { # starts llama-cpp-python's server on port P; sets SERVER
  "$PY" -m llama_cpp.server --model "$TMP/tiny.gguf" --host 127.0.0.1 --port "$P" --n_ctx 2048 \
    --n_threads 1 --n_threads_batch 1 --chat_format chatml >>"$TMP/server.log" 2>&1 &
  SERVER=$!
}
wait_up() { # waits (3 min at most) until the server answers /v1/models
  for _ in $(seq 1800); do
    curl -sf "http://127.0.0.1:$P/v1/models" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER" 2>/dev/null || fail "llama server died: $(tail -5 "$TMP/server.log")"
    sleep 0.1
  done
  fail "llama server did not come up: $(tail -5 "$TMP/server.log")"
}
{
  echo "source,log_message"
  for i in $(seq 5); do echo "LegacyCRM,Case escalation for ticket ID 73$i failed because the assigned agent $i is inactive."; done
  for i in $(seq 5); do echo "LegacyCRM,The 'Module$i' feature is deprecated and will be removed in version $i.0."; done
} >"$TMP/in.csv"
cat >"$TMP/cfg.yaml" <<EOF2
llm:
  base_url: http://127.0.0.1:$P/v1
  model: tiny
  cache: off
  batch: 1
  concurrency: 2
  timeout: 60
  deadline: 240
  breaker_failures: 3
  breaker_cooldown: 0.5
  breaker_wait: 200
  backoff: 0.05
EOF2
stat() { llm_counter "$1"; }
all_allowed() { # every row of FILE answered within the enum: an allowed label,
  # or (when allowed, $3 = unclassified) Unclassified; never anything else
  /usr/bin/python3 - "$1" "$2" "${3:-}" <<'PYCHECK' || fail "rows: $(cat "$1") $(cat "$TMP/err")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == int(sys.argv[2]), len(rows)
for r in rows:
    if sys.argv[3] and r["detail"] == "llm answered Unclassified (no allowed label fits)":
        continue
    assert r["stage"] == "llm" and r["target_label"] in ("Workflow Error", "Deprecation Warning"), r
PYCHECK
  ok
}

# ---- constrained answers from a random model: always allowed labels
start_server
wait_up
rc=0
timeout 600 "$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --explain --stats \
  >"$TMP/out.csv" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "exit $rc: $(cat "$TMP/err")"
all_allowed "$TMP/out.csv" 10 unclassified
[[ "$(stat 'form refusals')" == 1 ]] || fail "the json_schema form was not refused once: $(cat "$TMP/err")"
[[ "$(stat 'form probes')" == 5 ]] || fail "form probes: $(cat "$TMP/err")"
[[ "$(stat 'breaker trips')" == 0 ]] || fail "a refusal tripped the breaker: $(cat "$TMP/err")"
[[ "$(stat calls)" -eq $(($(stat answered) + $(stat failed))) ]] || fail "calls: $(cat "$TMP/err")"
ok
# without Unclassified in the enum: every row an allowed label (batches of 4:
# the array schema with exactly 4 items, turned into a grammar by the server)
sed -i 's/^  batch: 1$/  batch: 4\n  allow_unclassified: off/' "$TMP/cfg.yaml"
rc=0
timeout 600 "$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --explain --stats \
  >"$TMP/out.csv" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "exit $rc: $(cat "$TMP/err")"
all_allowed "$TMP/out.csv" 10
[[ "$(stat 'rows labelled')" == 10 ]] || fail "rows labelled: $(cat "$TMP/err")"
sed -i 's/^  batch: 4$/  batch: 1/; /allow_unclassified/d' "$TMP/cfg.yaml"
# the same model unconstrained: no allowed label (so the constraint did it)
rc=0
timeout 600 "$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --llm-constrain none --explain \
  --stats >"$TMP/out0.csv" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "unconstrained: exit $rc: $(cat "$TMP/err")"
[[ "$(stat 'rows labelled')" -le 1 ]] || fail "a random model labelled rows unconstrained: $(cat "$TMP/err")"
ok

# ---- the server comes up after the run has started and tripped
kill "$SERVER"
wait "$SERVER" 2>/dev/null || true
"$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --llm-constrain grammar --explain --stats \
  >"$TMP/out1.csv" 2>"$TMP/err" &
RUN=$!
for _ in $(seq 1200); do
  grep -q "circuit breaker open" "$TMP/err" && break
  kill -0 $RUN 2>/dev/null || break
  sleep 0.1
done
grep -q "circuit breaker open" "$TMP/err" || fail "no trip: $(cat "$TMP/err")"
start_server
rc=0
wait $RUN || rc=$?
[[ $rc -eq 0 ]] || fail "late server: exit $rc: $(cat "$TMP/err")"
all_allowed "$TMP/out1.csv" 10 unclassified
[[ "$(stat 'breaker trips')" == 1 && "$(stat 'breaker closes')" == 1 ]] || fail "breaker: $(cat "$TMP/err")"
ok

# ---- killed mid-run, restarted within the run (a live stream on stdin)
wait_up
"$PY" - "$LOGIFY" "$TMP" "$P" "$SERVER" <<'PYRUN' || fail "kill and restart: $(tail -5 "$TMP/err2")"
import os, select, signal, subprocess, sys, time
logify, tmp, port, pid = sys.argv[1:]
def server():
    log = open(os.path.join(tmp, "server.log"), "ab")
    return subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", os.path.join(tmp, "tiny.gguf"),
                             "--host", "127.0.0.1", "--port", port, "--n_ctx", "2048", "--n_threads", "1",
                             "--n_threads_batch", "1", "--chat_format", "chatml"], stdout=log, stderr=log)
def wait_for(cond, what, limit=180):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    sys.exit("timed out waiting for " + what)
errpath = os.path.join(tmp, "err2")
p = subprocess.Popen([logify, "classify", "-", "--config", os.path.join(tmp, "cfg.yaml"), "--llm-constrain",
                      "grammar", "--explain"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=open(errpath, "wb"))
p.stdin.write(b"source,log_message\n"); p.stdin.flush()
got = b""
srv = None
def burst(k, meanwhile=None):
    global got
    for i in range(3):
        p.stdin.write(b"LegacyCRM,Job %d of burst %d failed for order %d.\n" % (i, k, i)); p.stdin.flush()
    if meanwhile:
        meanwhile()
    end = time.monotonic() + 300
    while got.count(b"\n") < 1 + 3 * k:
        if time.monotonic() > end or not select.select([p.stdout], [], [], 300)[0]:
            sys.exit("no answer for burst %d" % k)
        got += p.stdout.read1(65536)
def restart():
    global srv
    wait_for(lambda: b"circuit breaker open" in open(errpath, "rb").read(), "the trip")
    srv = server()
burst(1)
os.kill(int(pid), signal.SIGKILL)
burst(2, restart)
burst(3)
p.stdin.close()
got += p.stdout.read()
rc = p.wait()
srv.terminate(); srv.wait()
assert rc == 0, rc
rows = got.decode().splitlines()[1:]
assert len(rows) == 9, rows
for r in rows:
    assert (",llm," in r and ("Workflow Error" in r or "Deprecation Warning" in r)) or \
        r.endswith("llm answered Unclassified (no allowed label fits)"), rows
PYRUN
SERVER=
ok
done_checks
