#!/usr/bin/env bash
# bench_kafka.sh - `logify kafka` on a real Apache Kafka broker
# (scripts/kafka.sh) beside `logify classify` on the same rows:
#  - throughput: a backlog of KAFKA_BENCH_MESSAGES (default 200000) JSON
#    messages over 6 partitions, drained by 1 worker, then by 2 workers of
#    one group (rows/s from the first message consumed to the last output
#    acknowledged, read from the workers' /metrics);
#  - end-to-end latency: messages produced at KAFKA_BENCH_RATE/s (default
#    5000) for 10 s through one worker; p50/p99 of (the output's broker
#    append time - the time the input was made), LogAppendTime on the
#    output topic.
# The broker, the producer and the workers share the machine's cores: on 2
# cores the 2-worker figure says what 2 cores allow, not what 2 machines do.
set -euo pipefail
cd "$(dirname "$0")/.."
LOGIFY=${LOGIFY:-$PWD/build/logify}
LOGIFY_SHARED=${LOGIFY_SHARED:-$PWD/../shared}
N=${KAFKA_BENCH_MESSAGES:-200000}
RATE=${KAFKA_BENCH_RATE:-5000}
KTOOL=(/usr/bin/python3 "$PWD/tests/kafka/ktool.py")
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  # a worker still running (the bench failed half-way): SIGTERM, then
  # SIGKILL; waited for, so that bash reports no "Killed" job
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  bash scripts/kafka.sh stop "$TMP/kafka" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

BS=$(bash scripts/kafka.sh start "$TMP/kafka" 1)
BROKER=$(cat "$TMP/kafka/node1/pid")
ticks() { # ticks PID...: user+system CPU clock ticks of those processes (every
  # thread, those that have ended too: the process's own counters; a sum over
  # /proc/PID/task/* loses the ended threads' time, and the broker's JVM ends
  # some of its threads during a drain)
  local p q n=0
  for p in "$@"; do
    q=$(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)
    n=$((n + ${q:-0}))
  done
  echo "$n"
}
"${KTOOL[@]}" rows "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$N" "$TMP/rows.csv"
WARM=${KAFKA_BENCH_WARMUP:-20000}
head -n $((WARM + 1)) "$TMP/rows.csv" >"$TMP/warm.csv"

echo "load before: $(uptime | sed 's/.*load average: //') (the broker runs from here on: classify shares the cores with its JVM too)"
# classify on the same rows (the same pipeline, JSON lines out), its CPU time
# too; and its rows/s without its start (loading the model and the rules: the
# wall time of a 1-row run just before), as the worker's rows/s are counted
# from its first output, its start and the group's join left out
head -n 2 "$TMP/rows.csv" >"$TMP/one.csv"
classify() {
  local t0 t1 s0
  s0=$(date +%s.%N)
  "$LOGIFY" classify "$TMP/one.csv" --format jsonl -o /dev/null 2>/dev/null
  t0=$(date +%s.%N)
  classify_start=$(echo "$t0 - $s0" | bc -l)
  /usr/bin/time -f "%U %S" -o "$TMP/classify.time" "$LOGIFY" classify "$TMP/rows.csv" --format jsonl \
    -o "$TMP/classified.jsonl" 2>/dev/null
  t1=$(date +%s.%N)
  classify_rps=$(echo "$N / ($t1 - $t0)" | bc -l)
  classify_net=$(echo "$N / ($t1 - $t0 - $classify_start)" | bc -l)
  classify_cpu=$(awk '{print $1 + $2}' "$TMP/classify.time")
  printf 'logify classify:       %8.0f rows/s (%d rows, %s cores; CPU %.2f s = %.1f us/row); %.0f rows/s without its start of %.2f s\n' \
    "$classify_rps" "$N" "$(nproc)" "$classify_cpu" "$(echo "$classify_cpu * 1000000 / $N" | bc -l)" "$classify_net" \
    "$classify_start"
}
classify

metric() { curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | sed -n "s/^$2 \([0-9.]*\)\$/\1/p"; }

# drain WORKERS [TAG ROWS]: a backlog of N messages (or the rows of ROWS)
# through WORKERS workers; prints rows/s
drain() {
  local k=$1 t=${2:-$1} rows=${3:-$TMP/rows.csv} i ports=() logs=() N
  N=$(($(wc -l <"$rows") - 1))
  "${KTOOL[@]}" create "$BS" "in$t" 6
  "${KTOOL[@]}" create "$BS" "out$t" 6
  "${KTOOL[@]}" produce "$BS" "in$t" "$rows"
  local b0
  b0=$(ticks "$BROKER")
  for ((i = 1; i <= k; i++)); do
    "$LOGIFY" kafka --brokers "$BS" --group "g$t" --input "in$t" --output "out$t" --metrics-port 0 \
      --quiet -X consumer.session.timeout.ms=6000 2>"$TMP/w$t-$i.log" &
    PIDS+=($!)
    logs+=("$TMP/w$t-$i.log")
  done
  for l in "${logs[@]}"; do
    until grep -q "metrics on" "$l"; do sleep 0.05; done
    ports+=("$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$l")")
  done
  local done_n=0 first="" p c
  while ((done_n < N)); do
    done_n=0
    for p in "${ports[@]}"; do
      c=$(metric "$p" logify_kafka_produced_total)
      done_n=$((done_n + ${c:-0}))
    done
    [[ -z $first && $done_n -gt 0 ]] && first=$(date +%s.%N)
    sleep 0.05
  done
  local end
  end=$(date +%s.%N)
  # the workers' CPU time (every thread: librdkafka's too), and the
  # broker's over the drain (serving the fetches and the outputs), in ticks
  ticks "${PIDS[@]}" >"$TMP/cpu$t"
  echo $(($(ticks "$BROKER") - b0)) >"$TMP/bcpu$t"
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
  # from the first output (the group formed, partitions assigned) to the last
  echo "$N / ($end - $first)" | bc -l
}

# a first drain, not measured, so that the broker's JVM has compiled its hot
# paths (on a fresh broker its compiler threads took 1-2 us a message of the
# first drain's 100,000): the figures below are those of a broker that runs
drain 1 warm "$TMP/warm.csv" >/dev/null
w1=$(drain 1)
cpu1=$(echo "$(cat "$TMP/cpu1") / $(getconf CLK_TCK)" | bc -l)
bcpu1=$(echo "$(cat "$TMP/bcpu1") / $(getconf CLK_TCK)" | bc -l)
classify1_rps=$classify_rps classify1_cpu=$classify_cpu classify1_net=$classify_net
printf 'logify kafka, 1 worker: %7.0f rows/s (%.0f%% of classify; CPU %.2f s = %.1f us/message, %.0f%% of classify'"'"'s per row; the broker: %.1f us/message)\n' \
  "$w1" "$(echo "100 * $w1 / $classify_rps" | bc -l)" "$cpu1" "$(echo "$cpu1 * 1000000 / $N" | bc -l)" \
  "$(echo "100 * $classify_cpu / $cpu1" | bc -l)" "$(echo "$bcpu1 * 1000000 / $N" | bc -l)"
classify # again, after: the machine's load moves
printf 'logify kafka, 1 worker: %.0f%% of the second classify\n' "$(echo "100 * $w1 / $classify_rps" | bc -l)"
w2=$(drain 2)
printf 'logify kafka, 2 workers: %6.0f rows/s (%.2fx one worker; 6 partitions, %s cores shared with the broker)\n' \
  "$w2" "$(echo "$w2 / $w1" | bc -l)" "$(nproc)"

# latency at a steady rate
"${KTOOL[@]}" create "$BS" lin 6
"${KTOOL[@]}" create "$BS" lout 6 1 message.timestamp.type=LogAppendTime
"$LOGIFY" kafka --brokers "$BS" --group gl --input lin --output lout --quiet 2>"$TMP/wl.log" &
WL=$!
PIDS+=("$WL")
sleep 3 # joined
M=$((RATE * 10))
"${KTOOL[@]}" rows "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$M" "$TMP/lrows.csv"
"${KTOOL[@]}" produce "$BS" lin "$TMP/lrows.csv" --rate "$RATE"
"${KTOOL[@]}" consume "$BS" lout "$TMP/lout.jsonl" --expect "$M" --idle 30 >/dev/null
lat=$("${KTOOL[@]}" latency "$TMP/lout.jsonl")
printf 'logify kafka, end-to-end latency at %d msg/s (1 worker, linger 5 ms): %s\n' "$RATE" "$lat"
kill -TERM "$WL"
wait "$WL" || echo "bench: the latency worker exited $? after SIGTERM (log: $(tail -2 "$TMP/wl.log"))" >&2
PIDS=()
echo "load after: $(uptime | sed 's/.*load average: //')"
# the figures side by side (rows/s move with the load; CPU per row less)
printf 'summary: classify %.0f / %.0f rows/s (%.2f / %.2f us CPU a row); 1 worker %.0f rows/s (%.0f%% / %.0f%%; of classify without its start %.0f%% / %.0f%%), %.2f us CPU a message (classify'"'"'s %.0f%% of it), broker %.2f us; 2 workers %.2fx; latency %s\n' \
  "$classify1_rps" "$classify_rps" "$(echo "$classify1_cpu * 1000000 / $N" | bc -l)" \
  "$(echo "$classify_cpu * 1000000 / $N" | bc -l)" "$w1" "$(echo "100 * $w1 / $classify1_rps" | bc -l)" \
  "$(echo "100 * $w1 / $classify_rps" | bc -l)" "$(echo "100 * $w1 / $classify1_net" | bc -l)" \
  "$(echo "100 * $w1 / $classify_net" | bc -l)" "$(echo "$cpu1 * 1000000 / $N" | bc -l)" \
  "$(echo "100 * ($classify1_cpu + $classify_cpu) / 2 / $cpu1" | bc -l)" "$(echo "$bcpu1 * 1000000 / $N" | bc -l)" \
  "$(echo "$w2 / $w1" | bc -l)" "$lat"
