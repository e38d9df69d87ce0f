#!/usr/bin/env bash
# kafka_reload.sh - issue 19, live reload of `logify kafka` on a real Apache
# Kafka broker (docs/reload.md, docs/kafka.md): messages flow at a steady
# rate while the worker gets 20 SIGHUPs, the rules file alternating between
# two sets (labels "Alpha ..." and "Beta ...") and, every third time, a file
# that does not compile. Every input comes out once; each output's label is
# one of the sets' for its kind of message; the labels switch from one set
# to the other within each partition, never more often than the accepted
# reloads allow; the refused reloads leave the old set (the log says so, the
# metrics count them); after the last reload the new messages have its
# labels. Then SIGTERM: exit 0.
source "$(dirname "$0")/../lib.sh"
source "$LOGIFY_ROOT/tests/kafka/lib.sh"
need_kafka
N=12000
RATE=800
if sanitized; then RATE=300 N=4500; fi

# rows: kind 0 "... logged in", kind 1 "... backup ..."
{
  echo "source,log_message"
  for ((i = 0; i < N + 200; i++)); do
    if ((i % 2)); then echo "S,nightly backup $i done"; else echo "S,User U$i logged in"; fi
  done
} >"$TMP/rows.csv"
rules() { # rules NAME: a set whose labels start with NAME
  printf 'rules:\n  - {id: login, label: %s Login, pattern: "logged in"}\n  - {id: backup, label: %s Backup, pattern: "backup"}\n' "$1" "$1"
}
BAD_RULES=$'rules:\n  - {id: ping, label: Broken, pattern: \'ping(\'}\n'
rules Alpha >"$TMP/rules.yaml"

start_kafka 1
"${KTOOL[@]}" create "$BS" in 3
"${KTOOL[@]}" create "$BS" out 3
start_worker "$TMP/w.log" --group g --input in --output out --rules "$TMP/rules.yaml" --route '*=rules' \
  --metrics-port 0 "${FAST_GROUP[@]}"
W=$WPID
wait_log "$TMP/w.log" "assigned 3 partitions"
ok

"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv" --count "$N" --rate "$RATE" --partitions 3 &
PRODUCER=$!
# 20 reloads while the messages flow: every third one refused
valid=0 refused=0 family=Alpha
for ((k = 1; k <= 20; k++)); do
  sleep 0.6
  if ((k % 3 == 0)); then
    printf '%s' "$BAD_RULES" >"$TMP/rules.yaml"
    refused=$((refused + 1))
  else
    if [[ $family == Alpha ]]; then family=Beta; else family=Alpha; fi
    rules "$family" >"$TMP/rules.yaml"
    valid=$((valid + 1))
  fi
  kill -HUP "$W"
  want=$k
  end=$((SECONDS + 30))
  until (($(grep -Ec "SIGHUP: (reloaded|reload refused)" "$TMP/w.log") >= want)); do
    ((SECONDS < end)) || fail "reload $k: no outcome logged within 30 s: $(tail -3 "$TMP/w.log")"
    sleep 0.05
  done
done
wait "$PRODUCER" || fail "the producer failed"
[[ $(grep -c "SIGHUP: reloaded" "$TMP/w.log") -eq $valid ]] || fail "$valid reloads should be accepted"
[[ $(grep -c "SIGHUP: reload refused" "$TMP/w.log") -eq $refused ]] || fail "$refused reloads should be refused"
grep -q "reload refused: .*rules.yaml.*keeping generation" "$TMP/w.log" ||
  fail "a refused reload does not say why: $(grep -m1 refused "$TMP/w.log")"
ok

# the last set (a valid one: reload 20) labels what comes now
last=$family
"${KTOOL[@]}" produce "$BS" in "$TMP/rows.csv" --from "$N" --count 200 --partitions 3
got=$("${KTOOL[@]}" consume "$BS" out "$TMP/out.jsonl" --expect $((N + 200)) --idle 30)
[[ $got -eq $((N + 200)) ]] || fail "read $got outputs of $((N + 200))"
/usr/bin/python3 - "$TMP/out.jsonl" "$N" "$valid" "$last" <<'EOF' || fail "the outputs (above)"
import json, sys
path, n, valid, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
seen, parts, errors = {}, {}, []
for line in open(path):
    rec = json.loads(line)
    v = json.loads(rec["value"])
    i, label = v["id"], v["target_label"]
    seen[i] = seen.get(i, 0) + 1
    want = "Backup" if i % 2 else "Login"
    fam, _, kind = label.partition(" ")
    if fam not in ("Alpha", "Beta") or kind != want:
        errors.append("id %d: label %r" % (i, label))
    parts.setdefault(rec["partition"], []).append((rec["offset"], i, fam))
missing = [i for i in range(n + 200) if i not in seen]
dups = [i for i, c in seen.items() if c > 1]
if missing or dups or errors:
    sys.exit("missing %s, twice %s, wrong labels %s" % (missing[:5], dups[:5], errors[:5]))
switches = 0
for p, recs in parts.items():
    recs.sort()
    ids = [i for _, i, _ in recs]
    if ids != sorted(ids):
        sys.exit("partition %d: ids out of order" % p)
    fams = [f for _, i, f in recs if i < n]
    s = sum(1 for a, b in zip(fams, fams[1:]) if a != b)
    if s > valid:
        sys.exit("partition %d: the labels switch %d times, more than the %d accepted reloads" % (p, s, valid))
    switches += s
    tail = [f for _, i, f in recs if i >= n]
    if set(tail) != {last}:
        sys.exit("partition %d: after the last reload, labels of %s (want %s)" % (p, sorted(set(tail)), last))
if switches < 3:
    sys.exit("the labels switched %d times over all partitions during %d accepted reloads" % (switches, valid))
print("outputs: %d, label switches: %d" % (len(seen), switches))
EOF
ok

port=$(sed -n 's|.*metrics on http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$TMP/w.log")
curl -fsS "http://127.0.0.1:$port/metrics" >"$TMP/metrics" || fail "GET /metrics failed"
grep -q "^logify_kafka_reloads_total $valid\$" "$TMP/metrics" || fail "metrics: reloads: $(grep reloads_total "$TMP/metrics")"
grep -q "^logify_kafka_reload_failures_total $refused\$" "$TMP/metrics" || fail "metrics: refused reloads"
grep -q "^logify_kafka_generation $((valid + 1))\$" "$TMP/metrics" || fail "metrics: generation"
ok

stop_worker "$W"
echo "kafka_reload: $CHECKS checks passed ($((N + 200)) messages, 20 reloads: $valid accepted, $refused refused)"
