# tests/kafka/lib.sh - helpers of the Kafka end-to-end tests (sourced after
# tests/lib.sh): a real Apache Kafka (scripts/kafka.sh) in $TMP/kafka,
# `logify kafka` workers in the background, and ktool.py (Debian's
# python3-confluent-kafka) to create topics, produce, consume and check.
# Everything started here is stopped on exit, by pid.
KTOOL=(/usr/bin/python3 "$LOGIFY_ROOT/tests/kafka/ktool.py")
KAFKA_SH=$LOGIFY_ROOT/scripts/kafka.sh
KDIR=$TMP/kafka
WORKER_PIDS=()

kafka_cleanup() {
  local p
  for p in "${WORKER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  [[ -f $KDIR/nodes ]] && bash "$KAFKA_SH" stop "$KDIR" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap kafka_cleanup EXIT

# need_kafka: skips (exit 77) saying what is missing: Java, kcat, Debian's
# python3-confluent-kafka (scripts/install-deps.sh installs them), the
# broker's jars (scripts/kafka.sh fetch: mvn, which `make` runs).
need_kafka() {
  local miss=()
  command -v java >/dev/null || miss+=("java (openjdk-17-jre-headless)")
  command -v kcat >/dev/null || miss+=("kcat")
  /usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null || miss+=("python3-confluent-kafka")
  if ((${#miss[@]})); then
    echo "SKIP: a real Kafka needs: ${miss[*]} (run scripts/install-deps.sh)" >&2
    exit 77
  fi
  if ! bash "$KAFKA_SH" fetch >/dev/null 2>"$TMP/fetch.err"; then
    echo "SKIP: no Kafka broker jars: $(tail -3 "$TMP/fetch.err") (scripts/kafka.sh fetch needs Maven Central)" >&2
    exit 77
  fi
}

# start_kafka N: N (1 or 3) brokers; sets BS (bootstrap list).
start_kafka() {
  BS=$(bash "$KAFKA_SH" start "$KDIR" "$1") || fail "the Kafka broker did not start"
}

# start_worker LOG ARGS...: `logify kafka --brokers $BS ARGS` in the
# background, stderr to LOG; sets WPID.
start_worker() {
  local log=$1
  shift
  "$LOGIFY" kafka --brokers "$BS" "$@" 2>"$log" &
  WPID=$!
  WORKER_PIDS+=("$WPID")
}

# wait_log FILE REGEX [SECONDS]: until FILE has a line matching REGEX.
wait_log() {
  local f=$1 re=$2 end=$((SECONDS + ${3:-60}))
  until grep -Eq "$re" "$f" 2>/dev/null; do
    ((SECONDS < end)) || fail "no line /$re/ in $f within ${3:-60} s: $(tail -5 "$f" 2>/dev/null)"
    sleep 0.2
  done
}

# stop_worker PID: SIGTERM, then its exit status must be 0.
stop_worker() {
  kill -TERM "$1"
  local rc=0
  wait "$1" || rc=$?
  [[ $rc -eq 0 ]] || fail "worker $1 exited $rc after SIGTERM"
}

# Rows for N messages (the seed data cycled) and what `logify classify`
# says of them: $TMP/rows.csv, $TMP/classified.csv.
make_rows() {
  "${KTOOL[@]}" rows "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$1" "$TMP/rows.csv"
  "$LOGIFY" classify "$TMP/rows.csv" -o "$TMP/classified.csv" 2>/dev/null
}

# Settings that make a dead worker's partitions move in seconds, not 45 s.
FAST_GROUP=(-X consumer.session.timeout.ms=6000 -X consumer.heartbeat.interval.ms=1000)
