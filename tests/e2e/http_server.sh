#!/usr/bin/env bash
# End-to-end test of `logify serve` with real clients: curl (the prototype's
# multipart upload, answers compared byte for byte with `logify classify`)
# and Python's http.client/urllib (tests/http: every endpoint, every error,
# limits, slow/leaving clients, graceful shutdown). Starts the binary in
# $LOGIFY on 127.0.0.1 on a free port; everything is killed on exit.
set -euo pipefail

LOGIFY=${LOGIFY:?set LOGIFY to the logify binary}
ROOT=${LOGIFY_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SHARED=${LOGIFY_SHARED:-$ROOT/../shared}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }

WORK=$(mktemp -d)
PID=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [[ -f $WORK/server.log ]] && tail -20 "$WORK/server.log"; exit 1; }

# announced_port LOG PID: the port a `serve --port 0` announces in LOG
announced_port() {
    local port=
    for _ in $(seq 1 200); do
        port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | sed 's/.*://' || true)
        [[ -n $port ]] && break
        kill -0 "$2" 2>/dev/null || fail "server exited early" >&2
        sleep 0.05
    done
    [[ -n $port ]] || fail "server did not announce its port" >&2
    echo "$port"
}

# ---- start the server on a free port, wait for /healthz
"$LOGIFY" serve --host 127.0.0.1 --port 0 2>"$WORK/server.log" &
PID=$!
PORT=$(announced_port "$WORK/server.log" "$PID")
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 200); do
    curl -sf "$URL/healthz" >/dev/null && break
    sleep 0.05
done
curl -sf "$URL/healthz" | grep -q '"ok"' || fail "/healthz"

passed=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }

# ---- curl: the prototype's client
check_upload() { # file: the answer equals `logify classify` on the same file
    local f=$1 name
    name=$(basename "$f")
    curl -sS -o "$WORK/got.csv" -w '%{http_code} %{content_type}\n' -F "file=@$f" "$URL/classify/" >"$WORK/status"
    grep -q '^200 text/csv' "$WORK/status" || fail "upload $name: $(cat "$WORK/status") $(head -c 300 "$WORK/got.csv")"
    "$LOGIFY" classify "$f" >"$WORK/want.csv" 2>/dev/null
    cmp -s "$WORK/got.csv" "$WORK/want.csv" || fail "upload $name: answer differs from logify classify"
    ok "curl -F file=@$name /classify/ == logify classify ($(($(wc -l <"$WORK/got.csv") - 1)) rows)"
}
if [[ -d $SHARED/datasets ]]; then
    check_upload "$SHARED/datasets/prototype_test.csv"
    check_upload "$SHARED/datasets/synthetic_logs.csv"
else
    echo "note: $SHARED/datasets is absent: skipping the uploads of the shared datasets"
fi
if [[ -f $ROOT/resources/test.csv ]]; then
    (cd "$ROOT" && curl -sS -F file=@resources/test.csv "$URL/classify/" -o "$WORK/readme.csv")
    head -1 "$WORK/readme.csv" | grep -q 'target_label' || fail "README example"
    ok "README example: curl -F file=@resources/test.csv $URL/classify/"
fi
printf 'source,log_message\nA,User User1 logged in.\n' >"$WORK/logs.txt"
body=$(curl -sS -w ' %{http_code}' -F "file=@$WORK/logs.txt" "$URL/classify/")
[[ $body == '{"detail":"File must be a CSV."} 400' ]] || fail "non-csv name: $body"
ok "curl: a .txt upload is 400 {\"detail\": \"File must be a CSV.\"}"
printf 'source,log_message\nA,"bad\n' >"$WORK/bad.csv"
body=$(curl -sS -w ' %{http_code}' -F "file=@$WORK/bad.csv" "$URL/classify/")
[[ $body == *'"detail":"Malformed CSV: line 2'*' 400' ]] || fail "malformed: $body"
ok "curl: a malformed row is 400 naming line 2"
body=$(curl -sS -H 'Content-Type: application/json' \
    -d '{"logs":[{"source":"ModernCRM","log_message":"User User1 logged in."}]}' "$URL/v1/classify")
[[ $body =~ ^'{"results":[{"label":"User Action","stage":"rules","confidence":1.0000,"detail":"rule user-login-logout","template_id":"'[0-9a-f]{16}'"}]}'$ ]] \
    || fail "/v1/classify: $body"
ok "curl: POST /v1/classify"
body=$(printf '{"log_message":"Backup completed successfully."}\n' |
    curl -sS -H 'Content-Type: application/x-ndjson' -H 'Transfer-Encoding: chunked' --data-binary @- \
    -D "$WORK/h" "$URL/v1/classify/stream")
grep -qi '^transfer-encoding: chunked' "$WORK/h" || fail "stream not chunked"
[[ $body == *'"target_label":"System Notification"'* ]] || fail "stream: $body"
ok "curl: POST /v1/classify/stream (chunked both ways)"
grep -q 'access id=[0-9a-f]*-[0-9a-f]* remote=127.0.0.1 method=POST path=/classify/ status=200' "$WORK/server.log" \
    || fail "no access log line"
ok "access log has request ids"

# ---- memory as the upload grows: the answer streams past --hold (curl reads
# while it sends), so the server's peak RSS must not follow the upload size.
# Not under ASan (its quarantine keeps freed memory resident on purpose).
big_upload_rss() { # MB of CSV -> "peak-RSS-kB"; the answer must equal logify classify's
    local mb=$1 log=$WORK/big.log
    $PY - "$WORK/big$mb.csv" "$mb" <<'PY'
import sys
path, mb = sys.argv[1], float(sys.argv[2])
rows = ["ModernCRM,User User%d logged in.\n", "ModernHR,Backup completed successfully for job %d.\n",
        "BillingSystem,\"Disk usage at 9%%, node %d\"\n", "AnalyticsEngine,no rule for this %d\n"]
with open(path, "w") as f:
    f.write("source,log_message\n")
    i = n = 0
    while n < mb * 1e6:
        ln = rows[i % 4] % i
        f.write(ln)
        n += len(ln)
        i += 1
PY
    "$LOGIFY" serve --host 127.0.0.1 --port 0 --route '*=rules' --route 'LegacyCRM=rules' \
        --max-upload 200M --max-rows 10000000 2>"$log" &
    local pid=$! port
    port=$(announced_port "$log" "$pid")
    curl -sS -o "$WORK/big.out" -F "file=@$WORK/big$mb.csv" "http://127.0.0.1:$port/classify/" \
        || fail "big upload $mb MB: curl failed"
    awk '/VmHWM/ {print $2}' "/proc/$pid/status"
    kill -TERM "$pid"
    wait "$pid" || fail "big upload server exit code $?"
    "$LOGIFY" classify --route '*=rules' --route 'LegacyCRM=rules' "$WORK/big$mb.csv" >"$WORK/big.want" 2>/dev/null
    cmp -s "$WORK/big.out" "$WORK/big.want" || fail "big upload $mb MB: answer differs from logify classify"
    grep -q "path=/classify/ status=200 .* end=ok" "$log" || fail "big upload $mb MB: access log: $(tail -2 "$log")"
    rm -f "$WORK/big$mb.csv" "$WORK/big.out" "$WORK/big.want"
}
libs=$(ldd "$LOGIFY" 2>/dev/null || true) # not piped into grep -q: with pipefail, ldd's SIGPIPE would hide the match
if [[ $libs == *libasan* ]]; then
    echo "note: ASan build: skipping the peak-memory comparison of big uploads"
else
    rss8=$(big_upload_rss 8)
    rss48=$(big_upload_rss 48)
    echo "peak RSS: 8 MB upload -> $((rss8 / 1024)) MB, 48 MB upload -> $((rss48 / 1024)) MB"
    # held answers would add ~40 MB; streamed ones add next to nothing
    (( rss48 - rss8 < 12 * 1024 )) || fail "peak RSS grew with the upload: $rss8 kB -> $rss48 kB"
    ok "curl: a 48 MB upload peaks within 12 MB of an 8 MB one ($((rss8 / 1024)) -> $((rss48 / 1024)) MB), answers identical"
fi

# ---- graceful stop of this server
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[[ $rc == 0 ]] || fail "server exit code $rc after SIGTERM"
ok "SIGTERM: exit 0"
echo "curl part: $passed passed, 0 failed"

# ---- Python http.client/urllib: each test starts its own servers
for t in test_api.py test_limits.py test_streaming.py test_boundaries.py test_console.py test_errors.py; do
    timeout 400 "$PY" "$ROOT/tests/http/$t" 2>&1 | tail -n 30 >"$WORK/py.out" || true
    cat "$WORK/py.out"
    grep -q '^OK' "$WORK/py.out" || fail "tests/http/$t"
done
echo "http_server: all passed"
