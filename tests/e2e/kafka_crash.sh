#!/usr/bin/env bash
# kafka_crash.sh - issue 19, test 2, on a real Apache Kafka broker: one of
# two workers is killed with SIGKILL in the middle of the stream and a new
# one takes its place.
#  - at-least-once: every input is in the output (some twice: what the dead
#    worker produced and had not committed is done again);
#  - --exactly-once: a read_committed reader sees every input exactly once,
#    in input order per partition (the dead worker's open transaction is
#    aborted by the broker after transaction.timeout.ms).
# KAFKA_CRASH_MESSAGES (default 40000) sets the count per mode.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/kafka/lib.sh"
need_shared
need_kafka
N=${KAFKA_CRASH_MESSAGES:-40000}
if sanitized; then N=4000; fi
RATE=$((N / 4)) # the stream lasts about 4 s
make_rows "$N"
start_kafka 1

metric() { # metric PORT NAME
  curl -fsS "http://127.0.0.1:$1/metrics" 2>/dev/null | sed -n "s/^$2 \([0-9]*\)\$/\1/p"
}

# crash_run MODE_NAME WORKER_ARGS...: the scenario on topics of its own
crash_run() {
  local name=$1
  shift
  "${KTOOL[@]}" create "$BS" "in-$name" 6
  "${KTOOL[@]}" create "$BS" "out-$name" 6
  local common=(--group "g-$name" --input "in-$name" --output "out-$name" "${FAST_GROUP[@]}" "$@")
  start_worker "$TMP/$name-w1.log" "${common[@]}" --metrics-port 0
  local w1=$WPID
  start_worker "$TMP/$name-w2.log" "${common[@]}"
  local w2=$WPID
  wait_log "$TMP/$name-w1.log" "assigned 3 partitions"
  wait_log "$TMP/$name-w2.log" "assigned 3 partitions"
  local port
  port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/$name-w1.log")
  "${KTOOL[@]}" produce "$BS" "in-$name" "$TMP/rows.csv" --rate "$RATE" &
  local producer=$!
  # mid-stream: worker 1 has done a tenth of its half, the stream goes on
  local end=$((SECONDS + 60)) c=0
  while c=$(metric "$port" logify_kafka_consumed_total) && [[ ${c:-0} -lt $((N / 20)) ]]; do
    ((SECONDS < end)) || fail "$name: worker 1 consumed ${c:-nothing} in 60 s"
    sleep 0.05
  done
  kill -KILL "$w1"
  wait "$w1" 2>/dev/null || true
  echo "$name: worker 1 killed after consuming $c" >&2
  start_worker "$TMP/$name-w3.log" "${common[@]}"
  local w3=$WPID
  wait "$producer" || fail "$name: producing failed"
  local consume=(--expect "$N" --idle 60)
  [[ $name == eos ]] && consume+=(--read-committed)
  # at-least-once: duplicates come on top of N; read until quiet
  [[ $name == alo ]] && consume=(--expect 0 --idle 20)
  "${KTOOL[@]}" consume "$BS" "out-$name" "$TMP/$name-out.jsonl" "${consume[@]}" >/dev/null
  local verify=(--count "$N")
  [[ $name == eos ]] && verify+=(--exactly-once --order)
  "${KTOOL[@]}" verify "$TMP/$name-out.jsonl" "$TMP/rows.csv" "$TMP/classified.csv" "${verify[@]}" ||
    fail "$name: the outputs do not match the inputs (above)"
  stop_worker "$w2"
  stop_worker "$w3"
  ok
}

crash_run alo
crash_run eos --exactly-once -X producer.transaction.timeout.ms=10000
grep -q "exactly-once" "$TMP/eos-w3.log" || fail "the exactly-once worker did not say its mode"
ok
echo "kafka_crash: $CHECKS checks passed ($N messages per mode, kill -9 mid-stream)"
