#!/usr/bin/env bash
# kafka.sh - a real Apache Kafka (KRaft, no ZooKeeper) on 127.0.0.1 for
# Logify's tests, benchmarks and the README's quick start. Never needed by
# the product itself.
#
#   scripts/kafka.sh fetch                 jars of org.apache.kafka:kafka_2.13
#                                          (scripts/kafka/pom.xml) via mvn into
#                                          $LOGIFY_KAFKA_JARS (cached in ~/.m2)
#   scripts/kafka.sh start DIR [N] [TOPIC:PARTITIONS ...]
#                                          format storage and start N (1 or 3)
#                                          combined controller+broker nodes on
#                                          free ports (node 1 on
#                                          $LOGIFY_KAFKA_PORT when set); waits
#                                          until all answer; creates the topics
#                                          (replication factor min(N, 3));
#                                          prints the bootstrap list (also in
#                                          DIR/bootstrap)
#   scripts/kafka.sh stop DIR              stop every node of DIR (by pid)
#   scripts/kafka.sh stop-node DIR I       stop node I (1..N) (SIGTERM, then
#                                          SIGKILL after a grace period)
#   scripts/kafka.sh start-node DIR I      start node I again, wait for it
#   scripts/kafka.sh bootstrap DIR         print the bootstrap list
#
# Needs Java 17+ and Maven (scripts/install-deps.sh installs them), kcat
# (the readiness check asks the cluster for its brokers) and, for topics,
# Debian's python3-confluent-kafka (tests/kafka/ktool.py). A node's heap is
# LOGIFY_KAFKA_HEAP (default 256m); its log is DIR/nodeI/server.log. The
# JVM's class data sharing archive of the broker is kept beside the jars
# (broker.jsa, written when the first node stops).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$HERE/kafka/pom.xml
VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")
JARS=${LOGIFY_KAFKA_JARS:-$HOME/.cache/logify/kafka-$VERSION}
HEAP=${LOGIFY_KAFKA_HEAP:-256m}
START_TIMEOUT=${LOGIFY_KAFKA_START_TIMEOUT:-180}

die() { echo "kafka.sh: error: $*" >&2; exit 1; }
say() { echo "kafka.sh: $*" >&2; }

fetch() {
  if [[ -f $JARS/.complete ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (scripts/install-deps.sh installs maven)"
  command -v java >/dev/null || die "java not found (scripts/install-deps.sh installs openjdk-17)"
  say "fetching Apache Kafka $VERSION jars into $JARS (mvn; cached in ~/.m2)"
  mkdir -p "$JARS"
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$JARS" >"$JARS/mvn.log" 2>&1 ||
    { tail -20 "$JARS/mvn.log" >&2; die "mvn could not fetch the Kafka jars (log: $JARS/mvn.log)"; }
  ls "$JARS"/kafka_2.13-"$VERSION".jar >/dev/null || die "kafka_2.13-$VERSION.jar missing after mvn"
  touch "$JARS/.complete"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Class data sharing: the classes a broker loads, archived by the JVM when
# the first node of this machine stops (-XX:ArchiveClassesAtExit) and kept
# beside the jars; every later JVM (nodes, the storage tool) maps them
# instead of loading and verifying thousands of classes: a node's start
# took 4.1 s of CPU and 13.6 s until ready at load 23-28, 2.4 s and 9.5 s
# with the archive (the storage tool 1.1 s -> 0.5 s). The first stop is
# slower (the JVM writes ~50 MB). An archive this JVM cannot use (another
# JDK) is ignored by it, with a warning in the node's stdout.log.
CDS=$JARS/broker.jsa
cds_opts() { # cds_opts NODE_DIR: the JVM options that use or make the archive
  if [[ -s $CDS ]]; then
    echo "-XX:SharedArchiveFile=$CDS"
  else
    echo "-XX:ArchiveClassesAtExit=$1/broker.jsa"
  fi
}

java_cmd() { # java_cmd NODE_DIR MAINCLASS ARGS...
  local nd=$1; shift
  # shellcheck disable=SC2046
  java $([[ -s $CDS ]] && echo "-XX:SharedArchiveFile=$CDS") \
    -Xmx"$HEAP" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k \
    -XX:ActiveProcessorCount=2 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$nd/log4j2.properties" -Dkafka.logs.dir="$nd" \
    -cp "$JARS/*" "$@"
}

write_node_config() { # DIR I N
  local dir=$1 i=$2 n=$3 nd=$1/node$2
  mkdir -p "$nd/data"
  local voters="" k
  for ((k = 1; k <= n; k++)); do
    voters+="${voters:+,}$k@127.0.0.1:$(cat "$dir/node$k/cport")"
  done
  local rf=$(( n >= 3 ? 3 : 1 )) isr=$(( n >= 3 ? 2 : 1 ))
  cat >"$nd/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(cat "$nd/port"),CONTROLLER://127.0.0.1:$(cat "$nd/cport")
advertised.listeners=PLAINTEXT://127.0.0.1:$(cat "$nd/port")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$nd/data
num.partitions=1
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=3
default.replication.factor=$rf
min.insync.replicas=$isr
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=67108864
log.retention.check.interval.ms=3600000
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
EOF
  cat >"$nd/log4j2.properties" <<EOF
rootLogger.level=INFO
rootLogger.appenderRef.f.ref=F
appender.f.type=File
appender.f.name=F
appender.f.fileName=$nd/server.log
appender.f.layout.type=PatternLayout
appender.f.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
EOF
}

start_node() { # DIR I
  local dir=$1 i=$2 nd=$1/node$2
  if [[ -f $nd/pid ]] && kill -0 "$(cat "$nd/pid")" 2>/dev/null; then return 0; fi
  # setsid: a test's process group being killed must not take the broker
  # down with it, and the broker must not hold the caller's stdout open
  # shellcheck disable=SC2046
  setsid bash -c 'exec "$@"' _ java $(cds_opts "$nd") -Xmx"$HEAP" -Xms64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Xss512k -XX:ActiveProcessorCount=2 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$nd/log4j2.properties" -Dkafka.logs.dir="$nd" \
    -cp "$JARS/*" kafka.Kafka "$nd/server.properties" \
    </dev/null >"$nd/stdout.log" 2>&1 &
  echo $! >"$nd/pid"
}

bootstrap_of() { # DIR
  local dir=$1 n k list=""
  n=$(cat "$dir/nodes")
  for ((k = 1; k <= n; k++)); do list+="${list:+,}127.0.0.1:$(cat "$dir/node$k/port")"; done
  echo "$list"
}

wait_ready() { # DIR WANT_BROKERS [NODE]: until the cluster lists that many brokers
  local dir=$1 want=$2 only=${3:-} deadline=$((SECONDS + START_TIMEOUT)) n k bs got
  n=$(cat "$dir/nodes")
  while :; do
    for ((k = 1; k <= n; k++)); do
      [[ -n $only && $k != "$only" ]] && continue
      local nd=$dir/node$k
      if [[ -f $nd/pid ]] && ! kill -0 "$(cat "$nd/pid")" 2>/dev/null; then
        tail -30 "$nd/server.log" "$nd/stdout.log" >&2 2>/dev/null || true
        die "node $k exited while starting (logs: $nd/server.log, $nd/stdout.log)"
      fi
    done
    bs=127.0.0.1:$(cat "$dir/node${only:-1}/port")
    got=$(timeout 10 kcat -b "$bs" -L -m 5 2>/dev/null | sed -n 's/^ *\([0-9]*\) brokers:.*/\1/p' | head -1 || true)
    if [[ -n $got && $got -ge $want ]]; then return 0; fi
    ((SECONDS < deadline)) || die "the cluster in $dir did not list $want brokers within ${START_TIMEOUT}s (logs: $dir/node*/server.log)"
    sleep 0.5
  done
}

stop_node() { # DIR I
  local nd=$1/node$2 pid killed=0
  [[ -f $nd/pid ]] || return 0
  pid=$(cat "$nd/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "node $2 did not stop within 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      killed=1
    fi
  fi
  rm -f "$nd/pid"
  # the archive its JVM wrote at exit, for every later start (first one wins;
  # copied aside, then renamed: a reader never sees half a file)
  if ((!killed)) && [[ -s $nd/broker.jsa && ! -s $CDS ]]; then
    cp "$nd/broker.jsa" "$CDS.$BASHPID" 2>/dev/null && mv -f "$CDS.$BASHPID" "$CDS" 2>/dev/null || rm -f "$CDS.$BASHPID"
  fi
  rm -f "$nd/broker.jsa"
}

cmd_start() { # DIR [N] [TOPIC:PARTITIONS ...]
  local dir=${1:?usage: kafka.sh start DIR [N] [TOPIC:PARTITIONS ...]} n=${2:-1} k cid t
  [[ $n == 1 || $n == 3 ]] || die "N must be 1 or 3"
  fetch
  command -v kcat >/dev/null || die "kcat not found (scripts/install-deps.sh installs it)"
  if [[ -f $dir/nodes ]]; then
    for ((k = 1; k <= $(cat "$dir/nodes"); k++)); do stop_node "$dir" "$k"; done
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  echo "$n" >"$dir/nodes"
  for ((k = 1; k <= n; k++)); do
    mkdir -p "$dir/node$k"
    if [[ $k == 1 && -n ${LOGIFY_KAFKA_PORT:-} ]]; then echo "$LOGIFY_KAFKA_PORT"; else free_port; fi >"$dir/node$k/port"
    free_port >"$dir/node$k/cport"
  done
  cid=$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
  for ((k = 1; k <= n; k++)); do
    write_node_config "$dir" "$k" "$n"
  done
  # the nodes' storage formatted side by side (a JVM start is the slow part)
  for ((k = 1; k <= n; k++)); do
    java_cmd "$dir/node$k" kafka.tools.StorageTool format --cluster-id="$cid" \
      -c "$dir/node$k/server.properties" >"$dir/node$k/format.log" 2>&1 &
  done
  for ((k = 1; k <= n; k++)); do
    wait -n || { cat "$dir"/node*/format.log >&2; die "formatting the storage failed"; }
  done
  for ((k = 1; k <= n; k++)); do start_node "$dir" "$k"; done
  wait_ready "$dir" "$n"
  bootstrap_of "$dir" >"$dir/bootstrap"
  for t in "${@:3}"; do
    [[ $t == *:* ]] || die "topic '$t': TOPIC:PARTITIONS expected"
    /usr/bin/python3 "$HERE/../tests/kafka/ktool.py" create "$(cat "$dir/bootstrap")" "${t%%:*}" "${t#*:}" \
      $((n >= 3 ? 3 : n)) || die "creating topic ${t%%:*} failed"
  done
  cat "$dir/bootstrap"
}

cmd_stop() {
  local dir=${1:?usage: kafka.sh stop DIR} k
  [[ -f $dir/nodes ]] || return 0
  for ((k = 1; k <= $(cat "$dir/nodes"); k++)); do stop_node "$dir" "$k" & done
  wait
}

case ${1:-} in
  fetch) fetch; echo "$JARS" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  stop-node) stop_node "${2:?DIR}" "${3:?node}" ;;
  start-node) start_node "${2:?DIR}" "${3:?node}"; wait_ready "$2" "$(cat "$2/nodes")" "$3" ;;
  bootstrap) bootstrap_of "${2:?DIR}" ;;
  *) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
