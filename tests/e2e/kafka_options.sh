#!/usr/bin/env bash
# kafka_options.sh - `logify kafka`'s command line (docs/kafka.md), no
# broker needed: every option it refuses, with its message and exit 2 (a
# usage error) or 1 (a setting librdkafka or the pipeline refuses); --help;
# the metrics endpoint while the brokers are away (its port printed, the
# counters served, a port in use refused); SIGTERM before the brokers
# answered: exit 0, nothing consumed.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
PY=/usr/bin/python3
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
NEED=(--brokers "127.0.0.1:$PORT" --group g --input in --output out)
RULES_ONLY=(--route '*=rules')

# usage errors: exit 2, the message, then the usage text
usage_error() { # usage_error MESSAGE ARGS...
  local msg=$1
  shift
  # a bounded run: an option wrongly accepted starts a worker that waits for the brokers
  expect_fail 2 "logify: $msg" -- timeout 20 "$LOGIFY" kafka "$@"
  grep -q "^usage: logify kafka --brokers" "$TMP/err" || fail "no usage after '$msg': $(cat "$TMP/err")"
  [[ ! -s "$TMP/out" ]] || fail "stdout on a usage error: $(cat "$TMP/out")"
}
for v in 0 abc 100001 7x; do usage_error "kafka: --batch must be 1..100000" "${NEED[@]}" --batch "$v"; done
for v in 0 65 2.5; do usage_error "kafka: --threads must be 1..64" "${NEED[@]}" --threads "$v"; done
for v in 0 257M abc; do
  usage_error "kafka: --max-value must be a size such as 512K (at most 256M)" "${NEED[@]}" --max-value "$v"
done
for v in 0 -1 x 86401 ''; do
  usage_error "kafka: --grace must be a number of seconds in (0, 86400]" "${NEED[@]}" --grace "$v"
done
for v in -1 65536 x ''; do usage_error "kafka: --metrics-port must be 0..65535" "${NEED[@]}" --metrics-port "$v"; done
usage_error "kafka: -X takes KEY=VALUE, not 'novalue'" "${NEED[@]}" -X novalue
usage_error "kafka: -X takes KEY=VALUE, not '=v'" "${NEED[@]}" --property =v
X=()
for i in $(seq 65); do X+=(-X "k$i=v"); done
usage_error "kafka: at most 64 -X properties" "${NEED[@]}" "${X[@]}"
usage_error "kafka: unexpected argument 'extra'" "${NEED[@]}" extra
usage_error "kafka: unknown option" "${NEED[@]}" --no-such-option
usage_error "kafka: --brokers, --group, --input and --output are required" --brokers b --group g --input in
usage_error "kafka: --transactional-id goes with --exactly-once" "${NEED[@]}" --transactional-id t
usage_error "kafka: --source (plain text) takes no --source-field/--message-field" "${NEED[@]}" --source S --message-field m
usage_error "kafka: --source (plain text) takes no --source-field/--message-field" "${NEED[@]}" --source S --source-field s
# the config file's properties count with -X's
{ printf 'kafka:\n  properties:\n'; for i in $(seq 10); do printf '    f%d: v\n' "$i"; done; } >"$TMP/props.yaml"
X=()
for i in $(seq 60); do X+=(-X "k$i=v"); done
usage_error "kafka: more than 64 properties (-X and the config file's)" "${NEED[@]}" --config "$TMP/props.yaml" "${X[@]}"
# the pipeline options, as the other commands take them
usage_error "kafka: --threshold must be in [0, 1]" "${NEED[@]}" --threshold 2

# --help: the usage on stdout, exit 0
"$LOGIFY" kafka --help >"$TMP/help" 2>"$TMP/err" || fail "--help exit $?"
grep -q "^usage: logify kafka --brokers HOST:PORT" "$TMP/help" && grep -q -- "--dead-letter TOPIC" "$TMP/help" ||
  fail "--help: $(head -3 "$TMP/help")"
[[ ! -s "$TMP/err" ]] || fail "--help wrote to stderr: $(cat "$TMP/err")"
ok

# refused when the worker is made (exit 1): librdkafka's refusals name the
# client and the property; a rules file that does not load
expect_fail 1 "logify: error: kafka consumer property no.such.setting=1: " -- \
  timeout 20 "$LOGIFY" kafka "${NEED[@]}" "${RULES_ONLY[@]}" --quiet -X no.such.setting=1
expect_fail 1 "logify: error: kafka producer: \`acks\` must be set to \`all\` when \`enable.idempotence\` is true" -- \
  timeout 20 "$LOGIFY" kafka "${NEED[@]}" "${RULES_ONLY[@]}" --quiet -X producer.acks=1
expect_fail 1 "the worker takes the eager strategies only (range, roundrobin)" -- \
  timeout 20 "$LOGIFY" kafka "${NEED[@]}" "${RULES_ONLY[@]}" --quiet -X consumer.partition.assignment.strategy=cooperative-sticky
expect_fail 1 "logify: error: $TMP/none.yaml: No such file or directory" -- timeout 20 "$LOGIFY" kafka "${NEED[@]}" --rules "$TMP/none.yaml" --quiet
expect_fail 1 "logify: error: kafka: the output topic is the input topic" -- timeout 20 "$LOGIFY" kafka \
  --brokers "127.0.0.1:$PORT" --group g --input t --output t "${RULES_ONLY[@]}" --quiet

# ---- the metrics while the brokers are away; SIGTERM before they answer
wait_for() { # wait_for FILE REGEX: up to 30 s for REGEX in FILE
  local end=$((SECONDS + 30))
  until grep -Eq -e "$2" "$1" 2>/dev/null; do
    ((SECONDS < end)) || fail "no /$2/ in: $(cat "$1")"
    sleep 0.1
  done
}
"$LOGIFY" kafka "${NEED[@]}" "${RULES_ONLY[@]}" --metrics-port 0 --explain --exactly-once \
  --transactional-id opt-test 2>"$TMP/w.log" &
W=$!
trap 'kill $W 2>/dev/null || true; rm -rf "$TMP"' EXIT
wait_for "$TMP/w.log" "metrics on http://127.0.0.1:[0-9]+/metrics"
MPORT=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w.log")
wait_for "$TMP/w.log" "brokers unreachable|about topic 'out'"
$PY - "$MPORT" <<'P' || fail "metrics: $(cat "$TMP/w.log")"
import sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
r = urllib.request.urlopen(base + "/metrics", timeout=10)
assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
body = r.read().decode()
lines = dict(l.rsplit(" ", 1) for l in body.splitlines() if l and not l.startswith("#") and "{" not in l)
assert lines["logify_kafka_consumed_total"] == "0", body
assert lines["logify_kafka_produced_total"] == "0", body
assert int(lines["logify_kafka_client_errors_total"]) >= 1, body
assert lines["logify_kafka_generation"] == "1", body
try:
    urllib.request.urlopen(base + "/", timeout=10)
    raise SystemExit("/ answered 200")
except urllib.error.HTTPError as e:
    assert e.code == 404 and b"try /metrics" in e.read()
P
ok
# a second worker on the same metrics port: refused, naming the port
expect_fail 1 "logify: error: metrics: cannot listen on port $MPORT (in use, or not allowed)" -- \
  timeout 20 "$LOGIFY" kafka "${NEED[@]}" "${RULES_ONLY[@]}" --quiet --metrics-port "$MPORT"
kill -TERM $W
rc=0
wait $W || rc=$?
[[ $rc -eq 0 ]] || fail "exit $rc after SIGTERM: $(tail -3 "$TMP/w.log")"
grep -q "asked to stop before the brokers answered" "$TMP/w.log" || fail "stop: $(tail -3 "$TMP/w.log")"
! grep -q "AddressSanitizer\|runtime error" "$TMP/w.log" || fail "sanitizer: $(cat "$TMP/w.log")"
ok
done_checks
