#!/usr/bin/env bash
# kafka_bad.sh - issue 19, test 4, on a real Apache Kafka broker:
#  - the broker is down when the workers start: they say so (once, not a
#    line per retry), retry with backoff without spinning, and do the work
#    once it is back;
#  - bad messages (invalid JSON, a missing field, not an object, invalid
#    UTF-8, a field that is not a string, an empty value, 10 MB) never stop
#    a worker and are never lost: each comes out Unclassified with the
#    reason, or with --dead-letter goes to that topic as it was, the reason
#    in header logify-error; the good ones around them are labelled;
#  - plain-text values with --source; SIGTERM once the broker is gone
#    again: exit 0.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/kafka/lib.sh"
need_shared
need_kafka
GOOD=50
make_rows "$GOOD"
start_kafka 1
for t in in out out2 dlq; do "${KTOOL[@]}" create "$BS" $t 3; done
"${KTOOL[@]}" create "$BS" plain 1
"${KTOOL[@]}" create "$BS" plain-out 1
"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv" --partitions 3
"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv" --partitions 3 --bad --from 1000
printf 'Email service experiencing issues with sending\nUser User123 logged in.\n' |
  kcat -b "$BS" -P -t plain -p 0

# ---- the broker down at the start -------------------------------------------------------
bash "$KAFKA_SH" stop-node "$KDIR" 1
start_worker "$TMP/w1.log" --group g1 --input in --output out --metrics-port 0
W1=$WPID
start_worker "$TMP/w2.log" --group g2 --input in --output out2 --dead-letter dlq --explain
W2=$WPID
start_worker "$TMP/w3.log" --group g3 --input plain --output plain-out --source ModernCRM
W3=$WPID
wait_log "$TMP/w1.log" "brokers unreachable .*retrying with backoff"
cpu0=$(awk '{print $14 + $15}' "/proc/$W1/stat")
sleep 6
cpu1=$(awk '{print $14 + $15}' "/proc/$W1/stat")
kill -0 "$W1" && kill -0 "$W2" && kill -0 "$W3" || fail "a worker exited while the broker was down"
# no busy loop: a spinning worker would burn ~600 ticks in 6 s; allow 150
(((cpu1 - cpu0) < 150)) || fail "worker 1 used $((cpu1 - cpu0)) clock ticks of CPU in 6 s with the broker down"
lines=$(grep -c "brokers unreachable" "$TMP/w1.log")
((lines <= 4)) || fail "worker 1 logged 'brokers unreachable' $lines times in 6 s (a line per retry?)"
ok
bash "$KAFKA_SH" start-node "$KDIR" 1
wait_log "$TMP/w1.log" "assigned 3 partitions" 120
wait_log "$TMP/w1.log" "brokers reachable again"
ok

# ---- bad messages -----------------------------------------------------------------------
NBAD=7
"${KTOOL[@]}" consume "$BS" out "$TMP/out.jsonl" --expect $((GOOD + NBAD)) --idle 60 >/dev/null
"${KTOOL[@]}" badcheck "$TMP/out.jsonl" --good "$GOOD" >"$TMP/bad.txt" || fail "bad messages as Unclassified (above)"
grep -q "^invalid-json -> invalid JSON" "$TMP/bad.txt" || fail "reason for invalid JSON: $(cat "$TMP/bad.txt")"
grep -q "^missing-field -> missing field 'log_message'" "$TMP/bad.txt" || fail "reason for the missing field"
grep -q "^invalid-utf8 -> invalid UTF-8 at byte" "$TMP/bad.txt" || fail "reason for invalid UTF-8"
grep -q "^ten-megabytes -> value of 10485[0-9]* bytes is over the limit" "$TMP/bad.txt" || fail "reason for 10 MB"
ok
port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w1.log")
curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/metrics"
grep -q "^logify_kafka_bad_messages_total $NBAD\$" "$TMP/metrics" || fail "metrics: $(grep bad_messages "$TMP/metrics")"
grep -q "^logify_kafka_client_errors_total [1-9]" "$TMP/metrics" || fail "metrics: no client errors counted"
ok

"${KTOOL[@]}" consume "$BS" dlq "$TMP/dlq.jsonl" --expect $NBAD --idle 60 >/dev/null
"${KTOOL[@]}" badcheck "$TMP/dlq.jsonl" --dead-letter >"$TMP/dlq.txt" || fail "bad messages dead-lettered (above)"
grep -q "^ten-megabytes -> .*value cut to its first 1024 of" "$TMP/dlq.txt" || fail "10 MB dead letter: $(cat "$TMP/dlq.txt")"
"${KTOOL[@]}" consume "$BS" out2 "$TMP/out2.jsonl" --expect "$GOOD" --idle 60 >/dev/null
"${KTOOL[@]}" verify "$TMP/out2.jsonl" "$TMP/rows.csv" "$TMP/classified.csv" --count "$GOOD" --exactly-once --order ||
  fail "the good messages beside the dead-lettered ones (above)"
grep -q '\\"stage\\":\\"[a-z]*\\",\\"confidence\\":' "$TMP/out2.jsonl" || fail "--explain: no stage and confidence"
grep -q '\\"template_id\\":\\"[0-9a-f]\{16\}\\"' "$TMP/out2.jsonl" || fail "--explain: no template_id"
ok

# ---- plain text --------------------------------------------------------------------------
"${KTOOL[@]}" consume "$BS" plain-out "$TMP/plain.jsonl" --expect 2 --idle 60 >/dev/null
grep -q '\\"source\\":\\"ModernCRM\\",\\"log_message\\":\\"User User123 logged in.\\",\\"target_label\\":\\"User Action\\"' \
  "$TMP/plain.jsonl" || fail "plain text: $(cat "$TMP/plain.jsonl")"
ok

# SIGTERM with the broker gone: nothing in flight, so a clean exit 0
bash "$KAFKA_SH" stop-node "$KDIR" 1
stop_worker "$W1"
stop_worker "$W2"
stop_worker "$W3"
grep -q "kafka: stopped" "$TMP/w1.log" || fail "worker 1 did not say it stopped: $(tail -3 "$TMP/w1.log")"
ok
echo "kafka_bad: $CHECKS checks passed"
