#!/usr/bin/env bash
# kafka_config.sh - the config file's kafka: section (docs/kafka.md,
# docs/config.md): the worker takes its brokers, group, topics and
# librdkafka properties from the file, the command line's flags win, and a
# wrong setting is refused naming the file, the line and the setting. No
# broker is needed: the worker is pointed at a closed port and says which
# brokers and which output topic it waits for.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cfg() { # cfg BODY...: a config file with a kafka: section
  printf 'routes:\n  - {source: "*", stages: [rules]}\nkafka:\n' >"$TMP/c.yaml"
  printf '  %s\n' "$@" >>"$TMP/c.yaml"
}

# the file alone: the worker waits for the file's brokers and output topic
cfg "brokers: [127.0.0.1:$PORT, 127.0.0.2:$PORT]" "group: g" "input: in" "output: out-from-file" \
  "metrics_port: 0" "properties:" "  reconnect.backoff.max.ms: 500" "  consumer.session.timeout.ms: 6000"
"$LOGIFY" kafka --config "$TMP/c.yaml" 2>"$TMP/a.log" &
W=$!
end=$((SECONDS + 30))
until grep -q "about topic 'out-from-file'" "$TMP/a.log" 2>/dev/null; do
  ((SECONDS < end)) || fail "the worker did not take the file's settings: $(tail -3 "$TMP/a.log")"
  sleep 0.1
done
grep -q "asking 127.0.0.1:$PORT,127.0.0.2:$PORT about" "$TMP/a.log" || fail "the list of brokers: $(grep asking "$TMP/a.log")"
grep -q "metrics on http://127.0.0.1:[0-9]*/metrics" "$TMP/a.log" || fail "metrics_port from the file"
kill -TERM $W
wait $W || fail "the worker did not exit 0 after SIGTERM"
ok

# the flags win over the file
"$LOGIFY" kafka --config "$TMP/c.yaml" --output out-from-flag --brokers "127.0.0.1:$PORT" 2>"$TMP/b.log" &
W=$!
end=$((SECONDS + 30))
until grep -q "asking 127.0.0.1:$PORT about topic 'out-from-flag'" "$TMP/b.log" 2>/dev/null; do
  ((SECONDS < end)) || fail "the flags did not win: $(tail -3 "$TMP/b.log")"
  sleep 0.1
done
kill -TERM $W
wait $W || fail "the worker did not exit 0 after SIGTERM"
ok

# refused, saying where and what (exit 2: usage or configuration)
expect_refused() { # expect_refused REGEX ARGS...: the worker exits non-zero saying REGEX
  local re=$1 rc=0
  shift
  timeout 20 "$LOGIFY" kafka --config "$TMP/c.yaml" "$@" >/dev/null 2>"$TMP/r.log" || rc=$?
  [[ $rc -ne 0 && $rc -ne 124 ]] || fail "accepted (rc $rc) with: $(sed -n '4,$p' "$TMP/c.yaml")"
  grep -Eq -e "$re" "$TMP/r.log" || fail "no /$re/ in: $(cat "$TMP/r.log")"
}
cfg "brokers: 127.0.0.1:$PORT" "group: g" "input: in"
expect_refused "--output are required .*kafka: section"
cfg "brokers: 127.0.0.1:$PORT" "group: g" "input: in" "output: out" "batch: 0"
expect_refused "c.yaml:8: kafka.batch must be a whole number in 1..100000"
cfg "brokers: 127.0.0.1:$PORT" "group: g" "input: in" "output: out" "topic: x"
expect_refused "c.yaml:8: kafka.topic: unknown setting"
cfg "brokers: 127.0.0.1:$PORT" "group: g" "input: in" "output: out" "properties:" "  no.such.property: 1"
expect_refused "property no.such.property=1: .*(No such|[Uu]nknown)"
cfg "brokers: 127.0.0.1:$PORT" "group: g" "input: in" "output: out" "exactly_once: perhaps"
expect_refused "c.yaml:8: kafka.exactly_once"
ok
echo "kafka_config: $CHECKS checks passed"
