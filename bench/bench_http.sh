#!/usr/bin/env bash
# HTTP service throughput, `logify serve` against the prototype's stack (a
# FastAPI app on uvicorn doing the prototype's regex stage per row,
# bench/fastapi_proto.py) in the same run, on the same work:
#   1. wrk, DURATION s, POST /v1/classify with 1 log and with 100 logs per
#      request: requests/s, rows/s, p50/p99 latency;
#   2. a ~50 MB CSV (the seed data repeated) through POST /classify/ with
#      curl -F: MB/s, rows/s and the server's peak RSS (VmHWM), plus the peak
#      RSS of Logify for ~10, ~25 and ~100 MB uploads to show that memory does
#      not grow with the upload, and for the ~50 MB one with every answer held
#      (--hold 1G: what it would take without src/server/server_direct.c).
# Both servers run on 127.0.0.1: Logify in its default mode (a thread per
# connection; --threads 2 applies to the poll/epoll comparison), uvicorn with
# --workers 2 (a process per core); wrk shares the same 2 cores. Logify routes every
# row to the rules stage only (--route '*=rules' 'LegacyCRM=rules'), the same
# work as the anchor. Not a test: numbers only.
#
# LOGIFY_ANCHOR=/path/to/another/logify adds (first) a same-run comparison of
# kept-alive requests/s between two builds, KA_ROUNDS (5) interleaved wrk runs
# of KA_SECONDS (5) each, 1 log/request, default mode: the median requests/s
# and the server's CPU time (user+sys) per request of each, and the ratios
# (docs/server.md, "Bad request heads": the pump's cost). KEEPALIVE_ONLY=1
# stops after it (no FastAPI needed).
set -euo pipefail
: "${LOGIFY:?}" "${LOGIFY_SHARED:?}"
DURATION=${DURATION:-10}
UPLOAD_MB=${UPLOAD_MB:-50}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
for t in wrk curl; do command -v $t >/dev/null || { echo "bench_http: $t missing (scripts/install-deps.sh --bench)" >&2; exit 1; }; done
[[ ${KEEPALIVE_ONLY:-0} == 1 ]] || $PY -c 'import fastapi, uvicorn, multipart' 2>/dev/null || { echo "bench_http: python3-fastapi/uvicorn/multipart missing" >&2; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.05; done; echo "bench_http: $1 not up" >&2; exit 1; }

start_logify() { # prints the pid; port in $TMP/port
    local port
    port=$(free_port)
    "$LOGIFY" serve --port "$port" --threads 2 --route '*=rules' --route 'LegacyCRM=rules' \
        --max-upload 200M --max-rows 10000000 "$@" 2>>"$TMP/logify.log" &
    echo $! >"$TMP/pid"
    echo "$port" >"$TMP/port"
    wait_up "http://127.0.0.1:$port/healthz"
}
start_fastapi() {
    local port
    port=$(free_port)
    LOGIFY_SHARED=$LOGIFY_SHARED $PY -m uvicorn --app-dir "$HERE" fastapi_proto:app --host 127.0.0.1 \
        --port "$port" --workers 2 --log-level warning --no-access-log 2>>"$TMP/fastapi.log" &
    echo $! >"$TMP/pid"
    echo "$port" >"$TMP/port"
    for _ in $(seq 1 300); do
        curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"logs":[]}' \
            "http://127.0.0.1:$port/v1/classify" && return 0
        sleep 0.1
    done
    echo "bench_http: fastapi not up" >&2
    exit 1
}
stop_server() { local p; p=$(cat "$TMP/pid"); kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }
peak_rss_mb() { # the process and its children (uvicorn workers)
    local total=0 p kb
    for p in $1 $(pgrep -P "$1" || true); do
        kb=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    $PY -c "print('%.1f' % ($total / 1024))"
}

# ---- request bodies from the seed data
$PY - "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$TMP" "$UPLOAD_MB" <<'PY'
import csv, json, os, sys
seed, tmp, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = list(csv.DictReader(open(seed, newline="")))
logs = [{"source": r["source"], "log_message": r["log_message"]} for r in rows]
for n in (1, 100):
    body = json.dumps({"logs": logs[:n] if n > 1 else [{"source": "ModernCRM", "log_message": "User User123 logged in."}]})
    with open(os.path.join(tmp, "post%d.lua" % n), "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write("wrk.body = %s\n" % json.dumps(body))
lines = open(seed, newline="").read().splitlines(True)
for size in (10, 25, mb, 100):
    path = os.path.join(tmp, "up%d.csv" % int(size))
    with open(path, "w", newline="") as f:
        f.write(lines[0])
        written = 0
        while written < size * 1e6:
            for ln in lines[1:]:
                f.write(ln)
                written += len(ln)
PY

wrk_run() { # url lua -> "rps p50_ms p99_ms"
    wrk -t1 -c64 -d"${DURATION}s" --latency -s "$2" "$1" >"$TMP/wrk.out" 2>&1 || true
    $PY - "$TMP/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def ms(s):
    v, u = re.match(r"([\d.]+)(us|ms|s)", s).groups()
    return float(v) * {"us": 1e-3, "ms": 1, "s": 1e3}[u]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p50 = ms(re.search(r"50%\s+(\S+)", t).group(1))
p99 = ms(re.search(r"99%\s+(\S+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print("%.0f %.2f %.2f %s" % (rps, p50, p99, bad.group(1) if bad else 0))
PY
}

upload_run() { # url file -> "seconds http_code"
    curl -sS -o "$TMP/answer.csv" -w '%{time_total} %{http_code}\n' -F "file=@$2" "$1/classify/"
}

# ---- kept-alive requests/s, this build against LOGIFY_ANCHOR, interleaved
if [[ -n ${LOGIFY_ANCHOR:-} ]]; then
    KA_ROUNDS=${KA_ROUNDS:-5} KA_SECONDS=${KA_SECONDS:-5}
    : >"$TMP/ka.txt"
    for round in $(seq 1 "$KA_ROUNDS"); do
        for who in anchor this; do
            bin=$LOGIFY
            [[ $who == anchor ]] && bin=$LOGIFY_ANCHOR
            LOGIFY=$bin start_logify --quiet
            pid=$(cat "$TMP/pid")
            cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
            wrk -t1 -c64 -d"${KA_SECONDS}s" -s "$TMP/post1.lua" "http://127.0.0.1:$(cat "$TMP/port")/v1/classify" >"$TMP/wrk.out" 2>&1 || true
            cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
            stop_server
            rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.out")
            n=$(awk '/requests in/ {print $1}' "$TMP/wrk.out")
            bad=$(awk '/Non-2xx/ {print $5}' "$TMP/wrk.out")
            echo "$who $rps $(( (cpu1 - cpu0) * 10000 )) $n ${bad:-0}" >>"$TMP/ka.txt" # CPU in us (100 ticks/s)
        done
    done
    $PY - "$TMP/ka.txt" "$KA_ROUNDS" "$KA_SECONDS" "$(uptime)" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
res = {}
for who in ("anchor", "this"):
    r = [x for x in rows if x[0] == who]
    rps = [float(x[1]) for x in r]
    us = [float(x[2]) / float(x[3]) for x in r]
    res[who] = (statistics.median(rps), statistics.median(us), sum(int(x[4]) for x in r), rps)
    print("  %-6s median %8.0f requests/s (runs: %s), %.1f us CPU/request, non-2xx %d"
          % (who, res[who][0], " ".join("%.0f" % v for v in rps), res[who][1], res[who][2]))
print("bench_http: kept-alive POST /v1/classify, wrk -t1 -c64, %s rounds x %s s interleaved; load: %s"
      % (sys.argv[2], sys.argv[3], sys.argv[4].strip()))
print("  ratio this/anchor: %.2f requests/s, %.2f CPU per request"
      % (res["this"][0] / res["anchor"][0], res["this"][1] / res["anchor"][1]))
PY
    [[ ${KEEPALIVE_ONLY:-0} == 1 ]] && exit 0
fi

declare -A R
for who in logify fastapi; do
    "start_$who"
    url=http://127.0.0.1:$(cat "$TMP/port")
    for n in 1 100; do
        read -r rps p50 p99 bad < <(wrk_run "$url/v1/classify" "$TMP/post$n.lua")
        R[$who.$n.rps]=$rps R[$who.$n.p50]=$p50 R[$who.$n.p99]=$p99 R[$who.$n.bad]=$bad
    done
    stop_server
done

# HTTP modes of libmicrohttpd, single-log requests, MODE_SECONDS each
MODE_SECONDS=${MODE_SECONDS:-3}
for mode in poll epoll thread-per-connection; do
    start_logify --quiet --http-mode "$mode"
    read -r rps p50 p99 bad < <(DURATION=$MODE_SECONDS wrk_run "http://127.0.0.1:$(cat "$TMP/port")/v1/classify" "$TMP/post1.lua")
    R[mode.$mode]="$rps req/s, p50 $p50 ms, p99 $p99 ms"
    stop_server
done

up=$TMP/up${UPLOAD_MB%.*}.csv
up_rows=$(($(wc -l <"$up") - 1))
up_mb=$($PY -c "print('%.1f' % ($(stat -c %s "$up") / 1e6))")
for size in 10 25 100 held; do # Logify's memory as the upload grows (fresh server each)
    if [[ $size == held ]]; then start_logify --quiet --hold 1G; f=$up; else start_logify --quiet; f=$TMP/up$size.csv; fi
    upload_run "http://127.0.0.1:$(cat "$TMP/port")" "$f" >/dev/null
    R[logify.rss$size]=$(peak_rss_mb "$(cat "$TMP/pid")")
    stop_server
done
for who in logify fastapi; do
    if [[ $who == logify ]]; then start_logify --quiet; else start_fastapi; fi
    base=$(peak_rss_mb "$(cat "$TMP/pid")")
    read -r secs code < <(upload_run "http://127.0.0.1:$(cat "$TMP/port")" "$up")
    [[ $code == 200 ]] || { echo "bench_http: $who upload answered $code" >&2; exit 1; }
    [[ $(($(wc -l <"$TMP/answer.csv") - 1)) == "$up_rows" ]] || { echo "bench_http: $who answer row count" >&2; exit 1; }
    R[$who.up.secs]=$secs R[$who.up.rss]=$(peak_rss_mb "$(cat "$TMP/pid")") R[$who.up.base]=$base
    stop_server
done

ratio() { $PY -c "print('%.1f' % ($1 / $2))"; }
echo "bench_http: POST /v1/classify, wrk -t1 -c64 ${DURATION}s, logify thread-per-connection vs uvicorn --workers 2, 2 shared cores"
printf '  %-26s %12s %12s %10s %10s %8s\n' "" "requests/s" "rows/s" "p50 ms" "p99 ms" "non-2xx"
for n in 1 100; do
    for who in logify fastapi; do
        printf '  %-26s %12s %12s %10s %10s %8s\n' "$who, $n log(s)/request" "${R[$who.$n.rps]}" \
            "$((${R[$who.$n.rps]} * n))" "${R[$who.$n.p50]}" "${R[$who.$n.p99]}" "${R[$who.$n.bad]}"
    done
    echo "  ratio logify/fastapi, $n/request: $(ratio "${R[logify.$n.rps]}" "${R[fastapi.$n.rps]}")x requests/s"
done
echo "bench_http: POST /classify/ with curl -F, $up_mb MB, $up_rows rows"
for who in logify fastapi; do
    s=${R[$who.up.secs]}
    printf '  %-8s %8.2f s %8.1f MB/s %10.0f rows/s   peak RSS %s MB (idle %s MB)\n' "$who" "$s" \
        "$($PY -c "print($up_mb / $s)")" "$($PY -c "print($up_rows / $s)")" "${R[$who.up.rss]}" "${R[$who.up.base]}"
done
echo "  ratio logify/fastapi upload rows/s: $(ratio "${R[fastapi.up.secs]}" "${R[logify.up.secs]}")x"
echo "  logify peak RSS by upload size: 10 MB -> ${R[logify.rss10]} MB, 25 MB -> ${R[logify.rss25]} MB, $up_mb MB -> ${R[logify.up.rss]} MB, 100 MB -> ${R[logify.rss100]} MB"
echo "  logify peak RSS for $up_mb MB with the whole answer held (--hold 1G): ${R[logify.rssheld]} MB"
echo "bench_http: libmicrohttpd modes, 1 log/request, ${MODE_SECONDS}s each (quiet)"
for mode in poll epoll thread-per-connection; do echo "  $mode: ${R[mode.$mode]}"; done
