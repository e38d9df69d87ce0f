#!/usr/bin/env bash
# kafka_replicas.sh - issue 19, test 3, on a real Apache Kafka cluster of
# three brokers: topics with replication factor 3 and min.insync.replicas 2,
# two at-least-once workers; one broker is stopped in the middle of the
# stream. Nothing is lost and the workers go on (and stop cleanly after).
# KAFKA_REPLICA_MESSAGES (default 40000) sets the count.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/kafka/lib.sh"
need_shared
need_kafka
N=${KAFKA_REPLICA_MESSAGES:-40000}
if sanitized; then N=4000; fi
RATE=$((N / 5))
make_rows "$N"
start_kafka 3
for t in in out; do "${KTOOL[@]}" create "$BS" $t 6 3 min.insync.replicas=2; done
common=(--group g --input in --output out "${FAST_GROUP[@]}")
start_worker "$TMP/w1.log" "${common[@]}" --metrics-port 0
W1=$WPID
start_worker "$TMP/w2.log" "${common[@]}"
W2=$WPID
wait_log "$TMP/w1.log" "assigned 3 partitions"
wait_log "$TMP/w2.log" "assigned 3 partitions"
port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w1.log")
"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv" --rate "$RATE" &
producer=$!
end=$((SECONDS + 60))
until c=$(curl -fsS "http://127.0.0.1:$port/metrics" | sed -n 's/^logify_kafka_consumed_total \([0-9]*\)$/\1/p') &&
  [[ ${c:-0} -ge $((N / 20)) ]]; do
  ((SECONDS < end)) || fail "worker 1 consumed ${c:-nothing} in 60 s"
  sleep 0.05
done
bash "$KAFKA_SH" stop-node "$KDIR" 2
echo "broker 2 stopped after worker 1 consumed $c" >&2
ok
wait "$producer" || fail "producing failed"
"${KTOOL[@]}" consume "$BS" out "$TMP/out.jsonl" --expect 0 --idle 20 >/dev/null
"${KTOOL[@]}" verify "$TMP/out.jsonl" "$TMP/rows.csv" "$TMP/classified.csv" --count "$N" ||
  fail "the outputs do not match the inputs (above)"
ok
# both workers still there, and they stop cleanly with two brokers of three
kill -0 "$W1" && kill -0 "$W2" || fail "a worker died when the broker stopped"
stop_worker "$W1"
stop_worker "$W2"
ok
echo "kafka_replicas: $CHECKS checks passed ($N messages, 3 brokers, one stopped mid-stream)"
