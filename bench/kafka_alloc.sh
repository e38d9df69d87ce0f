#!/usr/bin/env bash
# kafka_alloc.sh - `logify kafka` and `logify classify` under several
# allocators / glibc malloc tunables, interleaved, on one warm broker
# (scripts/kafka.sh): the CPU time a message each, read the way
# docs/kafka.md reads it (the worker's every thread from its first output
# to its last, /proc/PID/task/*/schedstat: on a CPU and runnable-but-waiting),
# with `perf stat`'s software counters over the same window.
#
#   bench/kafka_alloc.sh [ROUNDS]        env: LOGIFY, KAFKA_ALLOC_MESSAGES
#   KAFKA_ALLOC_VARIANTS='name=ENV[,ENV..] ...' overrides the variants
#   ("glibc=" is the plain run; ENV are VAR=VALUE given to the process).
#
# Prints one line a drain and a classify run, then the medians per variant.
# `perf stat` gives software counters only where the machine has no PMU
# (under KVM here: cache-misses "not supported"). docs/kafka.md, "Fourth
# session on the Xeon", has what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
LOGIFY_SHARED=${LOGIFY_SHARED:-$PWD/../shared}
N=${KAFKA_ALLOC_MESSAGES:-100000}
ROUNDS=${1:-4}
LIB=/usr/lib/x86_64-linux-gnu
VARIANTS=${KAFKA_ALLOC_VARIANTS:-"glibc= mimalloc=LD_PRELOAD=$LIB/libmimalloc.so.2 jemalloc=LD_PRELOAD=$LIB/libjemalloc.so.2 arena1=GLIBC_TUNABLES=glibc.malloc.arena_max=1 tcache0=GLIBC_TUNABLES=glibc.malloc.tcache_count=0"}
KTOOL=(/usr/bin/python3 "$PWD/tests/kafka/ktool.py")
TMP=$(mktemp -d)
WPID=""
cleanup() {
  [[ -n $WPID ]] && { kill -TERM "$WPID" 2>/dev/null || true; wait "$WPID" 2>/dev/null || true; }
  bash scripts/kafka.sh stop "$TMP/kafka" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

BS=$(bash scripts/kafka.sh start "$TMP/kafka" 1)
"${KTOOL[@]}" rows "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$N" "$TMP/rows.csv"
head -n 2 "$TMP/rows.csv" >"$TMP/one.csv"
"${KTOOL[@]}" create "$BS" in 6
"${KTOOL[@]}" create "$BS" out 6
"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv"

metric() { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | sed -n "s/^$2 \([0-9.]*\)\$/\1/p"; }
produced() { # produced PORT MIN: waits until the worker has MIN outputs acknowledged; prints the count
  local c=0
  until ((c >= $2)); do
    sleep 0.02
    c=$(metric "$1" logify_kafka_produced_total)
    c=${c:-0}
  done
  echo "$c"
}
# schedstat PID: "RUN WAIT" nanoseconds, summed over the process's threads
schedstat() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{r += $1; w += $2} END {print r, w}'; }
envof() { # envof VARIANT: its VAR=VALUE words
  local v=${1#*=}
  [[ -n $v ]] && echo "${v//,/ }"
  return 0
}

# drain TAG VARIANT: the whole input topic through one worker of a new group
drain() {
  local tag=$1 name=${2%%=*} e port s0 s1 t0 t1
  read -r -a e <<<"$(envof "$2")"
  : >"$TMP/w.log"
  env "${e[@]}" "$LOGIFY" kafka --brokers "$BS" --group "g$tag" --input in --output out --metrics-port 0 \
    --quiet -X consumer.session.timeout.ms=6000 2>"$TMP/w.log" &
  WPID=$!
  until grep -q "metrics on" "$TMP/w.log"; do sleep 0.05; done
  case " ${e[*]}" in # a preloaded allocator is in the worker, or this says so
    *" LD_PRELOAD="*) local so=" ${e[*]}"; so=${so#* LD_PRELOAD=}; so=${so%% *}
      grep -q "$so" /proc/"$WPID"/maps || { echo "kafka_alloc: $so not mapped in the worker" >&2; exit 1; } ;;
  esac
  port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w.log")
  local c0
  c0=$(produced "$port" 1)
  s0=$(schedstat "$WPID")
  t0=$(date +%s.%N)
  perf stat -x, -e context-switches,cpu-migrations,page-faults,task-clock -p "$WPID" -o "$TMP/perf" &
  local pp=$!
  produced "$port" "$N" >/dev/null
  s1=$(schedstat "$WPID")
  t1=$(date +%s.%N)
  kill -INT "$pp"
  wait "$pp" || true
  kill -TERM "$WPID"
  wait "$WPID" || true
  WPID=""
  # the messages of the window: those acknowledged after the first reading
  local n=$((N - c0))
  # run/wait us a message; perf's counts a message (its task-clock is in ms)
  awk -v n="$n" -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" -v name="$name" -v la="$(cut -d' ' -f1 /proc/loadavg)" '
    BEGIN { split(s0, a, " "); split(s1, b, " ") }
    { c[$3] = $1 }
    END { printf "drain %-9s run %.3f us/msg  wait %.3f us/msg  wall %.2f s  cs %.3f  mig %.4f  pf %.3f  task-clock %.3f us/msg  load %s\n",
            name, (b[1] - a[1]) / n / 1000, (b[2] - a[2]) / n / 1000, t1 - t0,
            c["context-switches"] / n, c["cpu-migrations"] / n, c["page-faults"] / n, c["task-clock"] * 1000 / n, la }
  ' FS=, "$TMP/perf"
}

# classify VARIANT: task-clock of N rows minus that of 1 row (its start), a row
classify() {
  local name=${1%%=*} e
  read -r -a e <<<"$(envof "$1")"
  perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults -o "$TMP/c1" \
    env "${e[@]}" "$LOGIFY" classify "$TMP/one.csv" --format jsonl -o /dev/null 2>/dev/null
  perf stat -x, -e task-clock,context-switches,cpu-migrations,page-faults -o "$TMP/cn" \
    env "${e[@]}" "$LOGIFY" classify "$TMP/rows.csv" --format jsonl -o /dev/null 2>/dev/null
  awk -v n="$N" -v name="$name" -v la="$(cut -d' ' -f1 /proc/loadavg)" '
    FNR == 1 { f++ } { c[f, $3] = $1 }
    END { printf "classify %-9s net %.3f us/row  whole %.3f us/row  start %.1f ms  cs %.3f  mig %.4f  pf %.3f  load %s\n",
            name, (c[2, "task-clock"] - c[1, "task-clock"]) * 1000 / (n - 1), c[2, "task-clock"] * 1000 / n,
            c[1, "task-clock"], c[2, "context-switches"] / n, c[2, "cpu-migrations"] / n, c[2, "page-faults"] / n, la }
  ' FS=, <(grep -v '^#' "$TMP/c1" | grep .) <(grep -v '^#' "$TMP/cn" | grep .)
}

kept=""
for v in $VARIANTS; do # a preloaded allocator that is not installed: left out, said so
  so=$(envof "$v" | tr ' ' '\n' | sed -n 's/^LD_PRELOAD=//p')
  if [[ -n $so && ! -e $so ]]; then
    echo "kafka_alloc: $so is not installed (scripts/install-deps.sh --bench): ${v%%=*} left out" >&2
  else kept+=" $v"; fi
done
VARIANTS=$kept
drain warm "glibc=" >/dev/null # the broker's JIT warm
for ((r = 1; r <= ROUNDS; r++)); do
  for v in $VARIANTS; do
    drain "$r-${v%%=*}" "$v" | tee -a "$TMP/all"
    classify "$v" | tee -a "$TMP/all"
  done
done
echo "medians over $ROUNDS rounds (worker: on-CPU us a message; classify: net us a row; ratio = classify / worker):"
for v in $VARIANTS; do
  name=${v%%=*}
  w=$(awk -v n="$name" '$1 == "drain" && $2 == n {print $4}' "$TMP/all" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  c=$(awk -v n="$name" '$1 == "classify" && $2 == n {print $4}' "$TMP/all" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  printf '%-9s worker %.3f us/msg  classify %.3f us/row  ratio %.1f%%\n' "$name" "$w" "$c" "$(echo "100 * $c / $w" | bc -l)"
done
