#!/usr/bin/env bash
# `logify classify` through the real binary: inputs, outputs, errors,
# atomic output files, the seed dataset, a large file in constant memory.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')

# ---- a live stream on stdin (tail -f ... | logify classify -): each row is
# answered while the input is still open, without waiting for a full batch
for threads in 1 2 3; do
  python3 - "$LOGIFY" "$threads" "${RULES_ONLY[@]}" <<'PY' || fail "live stdin (--threads $threads)"
import os, select, subprocess, sys
logify, threads, routes = sys.argv[1], sys.argv[2], sys.argv[3:]
p = subprocess.Popen([logify, "classify", "-", "--threads", threads, *routes],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
got = b""
def line():  # one output line, while stdin stays open (60 s: generous for ASan)
    global got
    while b"\n" not in got:
        if not select.select([p.stdout], [], [], 60)[0]:
            sys.exit("no output while the input was still open; got %r" % got)
        got += os.read(p.stdout.fileno(), 65536)
    ln, got = got.split(b"\n", 1)
    return ln.decode() + "\n"
p.stdin.write(b"source,log_message\nS,User User1 logged in.\n"); p.stdin.flush()
assert line() == "source,log_message,target_label\n"
assert line() == "S,User User1 logged in.,User Action\n"
p.stdin.write(b"S,Backup completed successfully.\nS,half a r"); p.stdin.flush()
assert line() == "S,Backup completed successfully.,System Notification\n"
p.stdin.write(b"ow\n"); p.stdin.close()
assert got + p.stdout.read() == b"S,half a row,Unclassified\n"
assert p.wait() == 0
PY
done
ok

# ---- stdin and stdout, CSV and JSON lines
printf 'source,log_message\nS,Backup completed successfully.\n' |
  "$LOGIFY" classify - "${RULES_ONLY[@]}" >"$TMP/o.csv"
[[ "$(cat "$TMP/o.csv")" == $'source,log_message,target_label\nS,Backup completed successfully.,System Notification' ]] ||
  fail "stdin: $(cat "$TMP/o.csv")"
ok
printf 'source,log_message\nS,x\nS,"y\n z"\n' | "$LOGIFY" classify - --format jsonl "${RULES_ONLY[@]}" >"$TMP/o.jsonl"
python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["log_message"] for r in rows] == ["x", "y\n z"], rows
assert all(r["target_label"] == "Unclassified" for r in rows)
' "$TMP/o.jsonl" || fail "jsonl output"
ok

# ---- errors: clear message, exit 1, the output file untouched
echo "previous content" >"$TMP/keep.csv"
printf 'source,message\nS,x\n' >"$TMP/nocol.csv"
expect_fail 1 "missing required column 'log_message'" -- "$LOGIFY" classify "$TMP/nocol.csv" -o "$TMP/keep.csv"
printf 'source,log_message\nS,a\nS,"unterminated\nS,b\n' >"$TMP/bad.csv"
expect_fail 1 "line 3: unterminated quoted field" -- "$LOGIFY" classify "$TMP/bad.csv" -o "$TMP/keep.csv"
[[ "$(cat "$TMP/keep.csv")" == "previous content" ]] || fail "a failed run changed the output file"
ls "$TMP" | grep -q tmp && fail "a temporary output file was left behind"
ok
printf 'source,log_message\nS,a\nS,x"y\nS,Backup completed successfully.\n' >"$TMP/bad2.csv"
expect_fail 1 "line 3: malformed quoting" -- "$LOGIFY" classify "$TMP/bad2.csv"
"$LOGIFY" classify "$TMP/bad2.csv" --on-error skip "${RULES_ONLY[@]}" -o "$TMP/skip.csv" 2>"$TMP/skip.err" ||
  fail "--on-error skip failed"
grep -q "line 3 skipped: malformed quoting" "$TMP/skip.err" || fail "skipped row not reported: $(cat "$TMP/skip.err")"
[[ $(wc -l <"$TMP/skip.csv") -eq 3 ]] || fail "skip output: $(cat "$TMP/skip.csv")"
ok
expect_fail 1 "no-such-file.csv" -- "$LOGIFY" classify "$TMP/no-such-file.csv"
expect_fail 1 "empty input: no header row" -- "$LOGIFY" classify /dev/null
expect_fail 2 "--format must be csv or jsonl" -- "$LOGIFY" classify x.csv --format xml
expect_fail 2 "--threads must be 1..64" -- "$LOGIFY" classify x.csv --threads 65
expect_fail 2 "expected one input" -- "$LOGIFY" classify
expect_fail 1 "unknown stage 'magic'" -- "$LOGIFY" classify x.csv --route '*=magic'
printf 'rules:\n  - {id: r1, label: L, pattern: "x(("}\n' >"$TMP/badrules.yaml"
expect_fail 1 "rule 'r1': pattern does not compile" -- "$LOGIFY" classify "$TMP/nocol.csv" --rules "$TMP/badrules.yaml"

# ---- invalid UTF-8 and odd bytes pass through every stage without harm
printf 'source,log_message\nS,caf\xc3\xa9 \xff\xfe \xc3\nS,\x01\x02\n' >"$TMP/bytes.csv"
"$LOGIFY" classify "$TMP/bytes.csv" --explain -o "$TMP/bytes.out" 2>/dev/null || fail "invalid UTF-8 input"
grep -q $'caf\xc3\xa9 \xff\xfe \xc3' "$TMP/bytes.out" || fail "bytes not kept"
ok

# ---- a large generated file: one row out per row in, in order, in bounded memory
python3 - "$TMP/big.csv" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,source,log_message,extra\n")
    msgs = ["User User%d logged in.", "Backup completed successfully. %d", "disk %d, \"full\"", "multi\nline %d"]
    for i in range(400000):
        m = msgs[i % 4] % i
        f.write('%d,%s,"%s",x%d\n' % (i, "LegacyCRM" if i % 7 == 0 else "Svc", m.replace('"', '""'), i))
PY
python3 - "$LOGIFY" "$TMP/big.csv" "$TMP/big.out" <<'PY' || fail "large file"
import csv, resource, subprocess, sys, os
logify, src, out = sys.argv[1:]
subprocess.run([logify, "classify", src, "-o", out, "--route", "*=rules", "--route", "LegacyCRM=rules"], check=True)
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
size_mb = os.path.getsize(src) / 1e6
n = 0
with open(out, newline="") as f:
    for i, row in enumerate(csv.DictReader(f)):
        assert int(row["id"]) == i and row["extra"] == "x%d" % i, (i, row)
        want = {0: "User Action", 1: "System Notification"}.get(i % 4, "Unclassified")
        assert row["target_label"] == want, (i, row)
        n += 1
assert n == 400000, n
# memory must not grow with the input (the input is ~%d MB)
limit = 120 if "asan" not in logify else 400
assert rss_mb < limit, "peak RSS %.0f MB for a %.0f MB input" % (rss_mb, size_mb)
print("large file: %d rows in order, input %.0f MB, peak RSS %.0f MB" % (n, size_mb, rss_mb))
PY
ok

# ---- the seed dataset: 2,410 rows in order, every rules decision correct
if [[ -f "$LOGIFY_SHARED/datasets/synthetic_logs.csv" ]]; then
  "$LOGIFY" classify "$LOGIFY_SHARED/datasets/synthetic_logs.csv" --explain -o "$TMP/seed.csv" 2>/dev/null
  python3 - "$LOGIFY_SHARED/datasets/synthetic_logs.csv" "$TMP/seed.csv" <<'PY' || fail "seed dataset"
import csv, sys
src = list(csv.DictReader(open(sys.argv[1], newline="")))
out = list(csv.DictReader(open(sys.argv[2], newline="")))
assert len(out) == len(src) == 2410, (len(out), len(src))
assert [r["log_message"] for r in out] == [r["log_message"] for r in src]
by_rules = [(o, s) for o, s in zip(out, src) if o["stage"] == "rules"]
wrong = [(o["log_message"], o["target_label"], s["target_label"]) for o, s in by_rules if o["target_label"] != s["target_label"]]
assert not wrong, wrong[:5]
regex_rows = [o for o, s in zip(out, src) if s["complexity"] == "regex"]
assert len(regex_rows) == 500 and all(o["stage"] == "rules" for o in regex_rows), "rules must decide all 500 regex rows"
print("seed: %d rows, rules decided %d, precision 1.0, all 500 regex rows" % (len(out), len(by_rules)))
PY
  ok
else
  echo "skip seed-dataset checks: ../shared is absent" >&2
fi
done_checks
