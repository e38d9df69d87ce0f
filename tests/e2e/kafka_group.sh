#!/usr/bin/env bash
# kafka_group.sh - issue 19, test 1, on a real Apache Kafka broker: two
# `logify kafka` workers in one group share an input topic of 6 partitions.
# Every input appears in the output once, with the label `logify classify`
# gives the same row, the other fields, the key and the headers kept, and
# the ids in each output partition in input order. Then SIGTERM: both exit 0.
# KAFKA_MESSAGES (default 100000) sets the count.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/kafka/lib.sh"
need_shared
need_kafka
N=${KAFKA_MESSAGES:-100000}
if sanitized; then N=5000; fi
make_rows "$N"
start_kafka 1
"${KTOOL[@]}" create "$BS" in 6
"${KTOOL[@]}" create "$BS" out 6

start_worker "$TMP/w1.log" --group g --input in --output out "${FAST_GROUP[@]}" --metrics-port 0
W1=$WPID
start_worker "$TMP/w2.log" --group g --input in --output out "${FAST_GROUP[@]}"
W2=$WPID
# both members before the data comes: each holds 3 partitions
wait_log "$TMP/w1.log" "assigned 3 partitions"
wait_log "$TMP/w2.log" "assigned 3 partitions"
ok

"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv"
got=$("${KTOOL[@]}" consume "$BS" out "$TMP/out.jsonl" --expect "$N" --idle 60)
[[ $got -eq $N ]] || fail "read $got outputs of $N"
"${KTOOL[@]}" verify "$TMP/out.jsonl" "$TMP/rows.csv" "$TMP/classified.csv" --count "$N" --exactly-once --order ||
  fail "the outputs do not match the inputs (above)"
ok

# the metrics of worker 1 count what it did
port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w1.log")
[[ -n $port ]] || fail "worker 1 did not say its metrics port"
curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/metrics" || fail "GET /metrics failed"
consumed=$(sed -n 's/^logify_kafka_consumed_total \([0-9]*\)$/\1/p' "$TMP/metrics")
produced=$(sed -n 's/^logify_kafka_produced_total \([0-9]*\)$/\1/p' "$TMP/metrics")
[[ $consumed -gt 0 && $consumed -lt $N && $produced -eq $consumed ]] ||
  fail "worker 1's metrics: consumed '$consumed', produced '$produced' (of $N in all, shared with worker 2)"
grep -q '^logify_kafka_label_rows_total{label="' "$TMP/metrics" || fail "no per-label counts in the metrics"
grep -q '^logify_kafka_consumer_lag{partition="[0-9]*"} 0$' "$TMP/metrics" || fail "no consumer lag in the metrics"
grep -q '^logify_kafka_batch_seconds_count [1-9]' "$TMP/metrics" || fail "no batch latency in the metrics"
ok

stop_worker "$W1"
stop_worker "$W2"
grep -q "kafka: stopped" "$TMP/w1.log" || fail "worker 1 did not say it stopped"
ok
echo "kafka_group: $CHECKS checks passed ($N messages, 2 workers, 6 partitions)"
