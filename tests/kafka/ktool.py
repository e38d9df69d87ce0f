#!/usr/bin/python3
"""ktool.py - the Kafka side of the `logify kafka` tests and benchmark.

Debian's python3-confluent-kafka (scripts/install-deps.sh; the same
librdkafka as the worker). Never part of the product.

  ktool.py create BROKERS TOPIC PARTITIONS [RF] [K=V ...]
  ktool.py rows CSV N OUT.csv
      the first N rows of CSV, cycled, as source,log_message (for classify)
  ktool.py produce BROKERS TOPIC ROWS.csv [--from I] [--count N] [--rate R]
                   [--bad] [--partitions P]
      row i (id i) as {"id":i,"source":..,"log_message":..,"ts":..,"extra":{..}}
      to partition i mod P, key "k<i>", header seq=<i>; --bad: the bad
      messages of the tests instead (ids from --from)
  ktool.py consume BROKERS TOPIC OUT.jsonl --expect N [--idle S]
                   [--timeout S] [--read-committed]
      every message from the start (no group) until N are read, or nothing
      came for S seconds; one JSON line each: partition, offset, key,
      headers, value (text), timestamp
  ktool.py verify OUT.jsonl ROWS.csv CLASSIFIED.csv --count N
                   [--exactly-once] [--order]
      every id 0..N-1 in the output (--exactly-once: once each), key and
      headers kept, target_label equal to classify's, other fields kept;
      --order: ids rise within each partition
  ktool.py badcheck OUT.jsonl [--dead-letter] [--good N]
      the bad messages of `produce --bad`, each once: Unclassified with an
      error (or, --dead-letter, as they were with header logify-error);
      --good N: and N good ones, labelled
  ktool.py latency OUT.jsonl  p50/p99 of (output append time - input ts)
"""
import csv
import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def die(msg):
    print("ktool: " + msg, file=sys.stderr)
    sys.exit(1)


def opt(args, name, default=None, conv=str):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return conv(v)
    return default


def flag(args, name):
    if name in args:
        args.remove(name)
        return True
    return False


def create(args):
    bs, topic, parts = args[0], args[1], int(args[2])
    rf = int(args[3]) if len(args) > 3 else 1
    cfg = dict(a.split("=", 1) for a in args[4:])
    admin = AdminClient({"bootstrap.servers": bs})
    for attempt in range(60):
        fs = admin.create_topics([NewTopic(topic, parts, rf, config=cfg)], operation_timeout=30)
        try:
            fs[topic].result()
            break
        except KafkaException as e:
            if attempt and "TOPIC_ALREADY_EXISTS" in str(e):
                break  # an earlier try that timed out made it
            # a fresh cluster may not have every broker registered yet
            if "INVALID_REPLICATION_FACTOR" in str(e) or "TIMED_OUT" in str(e):
                time.sleep(0.5)
                continue
            die("create %s: %s" % (topic, e))
    else:
        die("create %s: gave up" % topic)
    # wait until every partition has a leader
    for _ in range(120):
        md = admin.list_topics(topic, timeout=10).topics[topic]
        if not md.error and len(md.partitions) == parts and all(p.leader >= 0 for p in md.partitions.values()):
            return
        time.sleep(0.25)
    die("topic %s has partitions without a leader" % topic)


def rows(args):
    src, n, out = args[0], int(args[1]), args[2]
    with open(src, newline="") as f:
        base = [(r["source"], r["log_message"]) for r in csv.DictReader(f)]
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "log_message"])
        for i in range(n):
            w.writerow(base[i % len(base)])


def read_rows(path):
    with open(path, newline="") as f:
        return [(r["source"], r["log_message"]) for r in csv.DictReader(f)]


BAD = [  # (name, value): each must come out Unclassified with a reason, or dead-lettered
    ("invalid-json", b'{"source": "ModernCRM", "log_message": "unterminated'),
    ("missing-field", b'{"source": "ModernCRM", "msg": "no log_message here"}'),
    ("not-an-object", b'["source", "log_message"]'),
    ("invalid-utf8", b'{"source": "ModernCRM", "log_message": "bad \xff\xfe bytes"}'),
    ("field-not-string", b'{"source": "ModernCRM", "log_message": 42}'),
    ("empty", b""),
    ("ten-megabytes", b'{"source": "ModernCRM", "log_message": "' + b"x" * (10 << 20) + b'"}'),
]


def produce(args):
    start = opt(args, "--from", 0, int)
    count = opt(args, "--count", None, int)
    rate = opt(args, "--rate", 0.0, float)
    parts = opt(args, "--partitions", 6, int)
    bad = flag(args, "--bad")
    bs, topic, path = args[0], args[1], args[2]
    p = Producer({"bootstrap.servers": bs, "linger.ms": 20, "enable.idempotence": True,
                  "message.max.bytes": 16 << 20, "queue.buffering.max.messages": 1000000})
    errors = []

    def report(err, msg):
        if err:
            errors.append(str(err))

    if bad:
        items = [(start + i, v, name) for i, (name, v) in enumerate(BAD)]
    else:
        data = read_rows(path)
        n = count if count is not None else len(data) - start
        items = range(start, start + n)
    t0 = time.time()
    for k, item in enumerate(items):
        if bad:
            i, value, name = item
            headers = [("seq", str(i).encode()), ("bad", name.encode())]
        else:
            i = item
            src, msg = data[i]
            value = json.dumps({"id": i, "source": src, "log_message": msg, "ts": time.time(),
                                "extra": {"n": i, "tag": "t%d" % (i % 7)}}, ensure_ascii=False).encode()
            headers = [("seq", str(i).encode())]
        while True:
            try:
                p.produce(topic, value=value, key=b"k%d" % i, partition=i % parts, headers=headers,
                          on_delivery=report)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if rate:
            ahead = (k + 1) / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    left = p.flush(120)
    if left or errors:
        die("produce: %d not delivered, errors: %s" % (left, errors[:3]))


def consume(args):
    expect = opt(args, "--expect", 0, int)
    idle = opt(args, "--idle", 20.0, float)
    limit = opt(args, "--timeout", 300.0, float)
    committed = flag(args, "--read-committed")
    bs, topic, out = args[0], args[1], args[2]
    c = Consumer({"bootstrap.servers": bs, "group.id": "ktool-%d" % time.time_ns(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": "read_committed" if committed else "read_uncommitted",
                  "fetch.max.bytes": 64 << 20, "receive.message.max.bytes": 100 << 20})
    md = c.list_topics(topic, timeout=30).topics[topic]
    c.assign([TopicPartition(topic, p, -2) for p in md.partitions])  # -2: beginning
    n, last, t0 = 0, time.time(), time.time()
    with open(out, "w") as f:
        while n < expect or not expect:
            now = time.time()
            if now - last > idle or now - t0 > limit:
                break
            for m in c.consume(1000, 0.5):
                if m.error():
                    print("ktool: consume: %s" % m.error(), file=sys.stderr)
                    continue
                n += 1
                last = time.time()
                f.write(json.dumps({
                    "partition": m.partition(), "offset": m.offset(),
                    "key": m.key().decode() if m.key() is not None else None,
                    "headers": [[k, v.decode(errors="replace")] for k, v in (m.headers() or [])],
                    "value": (m.value() or b"").decode(errors="replace"),
                    "timestamp": m.timestamp()[1]}) + "\n")
    c.close()
    print(n)


def verify(args):
    count = opt(args, "--count", None, int)
    once = flag(args, "--exactly-once")
    order = flag(args, "--order")
    out, rows_csv, classified = args[0], args[1], args[2]
    data = read_rows(rows_csv)
    with open(classified, newline="") as f:
        labels = [r["target_label"] for r in csv.DictReader(f)]
    seen = {}
    last = {}
    problems = []
    with open(out) as f:
        for line in f:
            m = json.loads(line)
            v = json.loads(m["value"])
            i = v["id"]
            seen[i] = seen.get(i, 0) + 1
            src, msg = data[i]
            if v["source"] != src or v["log_message"] != msg or v["extra"] != {"n": i, "tag": "t%d" % (i % 7)}:
                problems.append("id %d: fields not kept: %s" % (i, m["value"][:200]))
            if v.get("target_label") != labels[i]:
                problems.append("id %d: label %r, classify says %r" % (i, v.get("target_label"), labels[i]))
            if m["key"] != "k%d" % i or ["seq", str(i)] not in m["headers"]:
                problems.append("id %d: key or headers not kept: %r %r" % (i, m["key"], m["headers"]))
            if order:
                p = m["partition"]
                if p in last and last[p] >= i:
                    problems.append("partition %d: id %d after id %d" % (p, i, last[p]))
                last[p] = i
    missing = [i for i in range(count) if i not in seen]
    dups = sum(c - 1 for c in seen.values())
    if missing:
        problems.append("%d inputs missing from the output (first: %s)" % (len(missing), missing[:5]))
    if once and dups:
        problems.append("%d inputs more than once in a read_committed read" % dups)
    for p in problems[:10]:
        print("ktool: verify: " + p, file=sys.stderr)
    print("verify: %d ids, %d outputs, %d duplicates, %d problems" % (len(seen), sum(seen.values()), dups,
                                                                     len(problems)))
    sys.exit(1 if problems else 0)


def badcheck(args):
    dlq = flag(args, "--dead-letter")
    good = opt(args, "--good", 0, int)
    want = dict(BAD)
    seen, problems, n_good = {}, [], 0
    with open(args[0]) as f:
        for line in f:
            m = json.loads(line)
            h = dict(m["headers"])
            name = h.get("bad")
            if name is None:
                v = json.loads(m["value"])
                n_good += 1
                if dlq or not v.get("target_label") or "error" in v:
                    problems.append("good message %s: %s" % (m["key"], m["value"][:200]))
                continue
            seen[name] = seen.get(name, 0) + 1
            if m["key"] != "k" + h["seq"]:
                problems.append("%s: key not kept" % name)
            if dlq:
                orig = want[name].decode(errors="replace")
                if not h.get("logify-error") or "logify-input" not in h:
                    problems.append("%s: no logify-error/logify-input header: %r" % (name, h))
                elif m["value"] != orig and not ("cut to" in h["logify-error"] and orig.startswith(m["value"])):
                    problems.append("%s: value not kept (%d bytes)" % (name, len(m["value"])))
                print("%s -> %s" % (name, h.get("logify-error")))
            else:
                v = json.loads(m["value"])
                if v.get("target_label") != "Unclassified" or not v.get("error"):
                    problems.append("%s: %s" % (name, m["value"][:200]))
                elif len(m["value"]) > 4096:
                    problems.append("%s: output of %d bytes" % (name, len(m["value"])))
                print("%s -> %s" % (name, v.get("error")))
    for name in want:
        if seen.get(name) != 1:
            problems.append("%s: seen %d times" % (name, seen.get(name, 0)))
    if n_good != good:
        problems.append("%d good messages, expected %d" % (n_good, good))
    for p in problems[:10]:
        print("ktool: badcheck: " + p, file=sys.stderr)
    sys.exit(1 if problems else 0)


def latency(args):
    lat = []
    with open(args[0]) as f:
        for line in f:
            m = json.loads(line)
            v = json.loads(m["value"])
            lat.append(m["timestamp"] / 1000.0 - v["ts"])
    lat.sort()
    if not lat:
        die("latency: no messages")
    q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))] * 1000
    print("p50 %.1f ms, p99 %.1f ms (%d messages)" % (q(0.5), q(0.99), len(lat)))


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"create": create, "rows": rows, "produce": produce, "consume": consume, "verify": verify,
     "latency": latency, "badcheck": badcheck}.get(cmd, lambda a: die("unknown command " + cmd))(args)


if __name__ == "__main__":
    main()
