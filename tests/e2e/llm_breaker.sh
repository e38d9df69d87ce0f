#!/usr/bin/env bash
# The circuit breaker against a server that is not there yet, and one that
# dies and comes back within a run (docs/llm.md, "Circuit breaker"): the
# breaker opens once, rows wait for its half-open probes, the first probe
# the server answers closes it, and every row gets its label. No wall-clock
# race decides anything: each step waits for an event (the trip warning,
# output rows) with bounds of a minute.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
FAKE="$LOGIFY_ROOT/tests/fake_llm_server.py"
P=$(/usr/bin/python3 "$FAKE" --free-port)
cat >"$TMP/cfg.yaml" <<EOF2
llm:
  base_url: http://127.0.0.1:$P/m/ok/v1
  cache: off
  batch: 1
  concurrency: 2
  retries: 3
  backoff: 0.05
  breaker_failures: 3
  breaker_cooldown: 0.3
  breaker_wait: 50
  deadline: 60
  constrain: json
EOF2
{
  echo "source,log_message"
  for i in $(seq 30); do echo "LegacyCRM,Workflow step $i failed for case $i."; done
  for i in $(seq 10); do echo "LegacyCRM,Feature number $i is deprecated and will be removed."; done
} | sed 's/case \([0-9]*\)/case \1x/' >"$TMP/in.csv"

# ---- 1. the server comes up after the run has started (and tripped)
"$LOGIFY" classify "$TMP/in.csv" --config "$TMP/cfg.yaml" --explain --stats \
  >"$TMP/out.csv" 2>"$TMP/err" &
RUN=$!
for _ in $(seq 600); do
  grep -q "circuit breaker open" "$TMP/err" && break
  kill -0 $RUN 2>/dev/null || break
  sleep 0.1
done
grep -q "circuit breaker open" "$TMP/err" || fail "no trip: $(cat "$TMP/err")"
/usr/bin/python3 "$FAKE" --port "$P" --exit-with $$ >/dev/null 2>"$TMP/server.err" &
SERVER=$!
trap 'kill $SERVER $RUN 2>/dev/null || true; rm -rf "$TMP"' EXIT
rc=0
for _ in $(seq 600); do kill -0 $RUN 2>/dev/null || break; sleep 0.1; done
wait $RUN || rc=$?
[[ $rc -eq 0 ]] || fail "late server: exit $rc: $(cat "$TMP/err")"
/usr/bin/python3 - "$TMP/out.csv" <<'PY' || fail "late server rows: $(cat "$TMP/err")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 40, len(rows)
bad = [r for r in rows if r["stage"] != "llm"]
assert not bad, bad[:3]
assert sum(r["target_label"] == "Deprecation Warning" for r in rows) == 10
PY
ok
stat() { llm_counter "$1"; }
[[ $(grep -c "circuit breaker open" "$TMP/err") -eq 1 ]] || fail "trip logged $(grep -c "circuit breaker open" "$TMP/err") times"
[[ $(grep -c "circuit breaker closed" "$TMP/err") -eq 1 ]] || fail "close not logged once: $(cat "$TMP/err")"
[[ "$(stat 'breaker trips')" == 1 && "$(stat 'breaker closes')" == 1 ]] || fail "counts: $(cat "$TMP/err")"
[[ "$(stat 'breaker probes')" -ge 1 ]] || fail "no probe counted: $(cat "$TMP/err")"
[[ "$(stat calls)" -eq $(($(stat answered) + $(stat failed))) ]] || fail "calls != answered + failed: $(cat "$TMP/err")"
[[ "$(stat 'rows labelled')" == 40 ]] || fail "rows labelled: $(cat "$TMP/err")"
ok
kill $SERVER 2>/dev/null || true
wait $SERVER 2>/dev/null || true

# ---- 2. the server is killed mid-run and restarted within the run: a live
# stream on stdin, five rows a burst; burst 1 with the server up, burst 2
# after it is killed (the breaker opens, then the server comes back),
# burst 3 after
/usr/bin/python3 - "$LOGIFY" "$FAKE" "$P" "$TMP" <<'PY' || fail "kill and restart"
import os, select, signal, subprocess, sys, time
logify, fake, port, tmp = sys.argv[1:]
def server():
    return subprocess.Popen(["/usr/bin/python3", fake, "--port", port, "--exit-with", str(os.getpid())],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def wait_for(cond, what, limit=60):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    sys.exit("timed out waiting for " + what)
def up():
    import socket
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
        return True
    except OSError:
        return False
srv = server()
wait_for(up, "the server")
err = open(os.path.join(tmp, "err2"), "wb")
p = subprocess.Popen([logify, "classify", "-", "--config", os.path.join(tmp, "cfg.yaml"), "--explain",
                      "--stats"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
p.stdin.write(b"source,log_message\n"); p.stdin.flush()
got = b""
def burst(k, before_wait=None):
    global got
    for i in range(5):
        p.stdin.write(b"LegacyCRM,Job %d of burst %d failed for order %dq.\n" % (i, k, i)); p.stdin.flush()
    if before_wait:
        before_wait()
    while got.count(b"\n") < 1 + 5 * k:
        if not select.select([p.stdout], [], [], 60)[0]:
            sys.exit("no answer for burst %d" % k)
        got += p.stdout.read1(65536)
def trip_then_restart():
    global srv
    wait_for(lambda: b"circuit breaker open" in open(os.path.join(tmp, "err2"), "rb").read(), "the trip")
    srv = server()
burst(1)
srv.send_signal(signal.SIGKILL); srv.wait()
burst(2, trip_then_restart)
burst(3)
p.stdin.close()
got += p.stdout.read()
assert p.wait() == 0
srv.kill(); srv.wait()
rows = got.decode().splitlines()[1:]
assert len(rows) == 15, rows
assert all(",Workflow Error,llm," in r for r in rows), rows
log = open(os.path.join(tmp, "err2")).read()
assert log.count("circuit breaker open") == 1, log
assert log.count("circuit breaker closed") == 1, log
PY
ok
done_checks
