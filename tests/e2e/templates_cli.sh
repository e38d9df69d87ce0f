#!/usr/bin/env bash
# `logify templates` through the real binary: CSV in (every column kept,
# template_id and template appended), plain text in, jsonl, --params,
# --summary, --state in pieces (same ids as one run), a damaged or foreign
# state file (clear error naming it, nothing overwritten), bad input (1 MB
# line, binary bytes, empty lines, empty input), usage errors.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3

# within A COLA B COLB: the rows of A (900) grouped by COLA each lie in one
# group of B by COLB (A's grouping is B's or finer)
within() {
  $PY - "$@" <<'P'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1])))
b = list(csv.DictReader(open(sys.argv[3])))
assert len(a) == len(b) == 900, (len(a), len(b))
to = {}
for x, y in zip(a, b):
    assert to.setdefault(x[sys.argv[2]], y[sys.argv[4]]) == y[sys.argv[4]], x
P
}

cat >"$TMP/in.csv" <<'C'
source,log_message,extra
hdfs,Received block blk_1 of size 10 from /10.0.0.1,a
hdfs,Received block blk_2 of size 20 from /10.0.0.2,b
ssh,"Failed password for root from 1.2.3.4 port 22 ssh2",c
ssh,"Failed password for admin from 1.2.3.5 port 2222 ssh2","d,e"
C
"$LOGIFY" templates "$TMP/in.csv" -o "$TMP/out.csv" || fail "templates on a CSV"
head -1 "$TMP/out.csv" | grep -qx "source,log_message,extra,template_id,template" || fail "header: $(head -1 "$TMP/out.csv")"
[[ $(wc -l <"$TMP/out.csv") -eq 5 ]] || fail "rows: $(cat "$TMP/out.csv")"
grep -q '^hdfs,Received block blk_2 of size 20 from /10.0.0.2,b,[0-9a-f]\{16\},Received block blk_<\*> of size <\*> from /<\*>$' "$TMP/out.csv" ||
  fail "hdfs row: $(cat "$TMP/out.csv")"
grep -q '^ssh,Failed password for root from 1.2.3.4 port 22 ssh2,c,[0-9a-f]\{16\},Failed password for <\*> from <\*> port <\*> ssh2$' "$TMP/out.csv" ||
  fail "the final template goes on every row of its group: $(cat "$TMP/out.csv")"
grep -q '"d,e"' "$TMP/out.csv" || fail "quoted field not kept"
ok
$PY - "$TMP/out.csv" <<'P' || fail "ids"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
ids = [r["template_id"] for r in rows]
assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2], ids
P
ok
# the same input again: the same ids (derived from the template text)
"$LOGIFY" templates - <"$TMP/in.csv" >"$TMP/out2.csv" || fail "stdin"
cmp -s "$TMP/out.csv" "$TMP/out2.csv" || fail "ids or rows differ between runs"
ok
# jsonl and params
"$LOGIFY" templates "$TMP/in.csv" --format jsonl --params >"$TMP/out.jsonl" || fail "jsonl"
$PY - "$TMP/out.jsonl" <<'P' || fail "jsonl rows: $(cat "$TMP/out.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4
assert rows[0]["source"] == "hdfs" and rows[0]["extra"] == "a"
assert rows[0]["params"] == ["blk_1", "10", "10.0.0.1"], rows[0]
assert rows[3]["params"] == ["admin", "1.2.3.5", "2222"], rows[3]
assert rows[3]["template"] == "Failed password for <*> from <*> port <*> ssh2"
P
ok
# plain text: one message per line, CRLF, empty lines, binary bytes, 1 MB line
printf 'disk full on sda at 91%%\r\n\nnet eth0 down after 5s\n\xff\xfe\x00 raw 7\n' >"$TMP/plain.log"
$PY -c "import sys; sys.stdout.write('w1 ' * 350000 + '\n')" >>"$TMP/plain.log"
printf 'disk full on sdb at 12%%' >>"$TMP/plain.log"
"$LOGIFY" templates "$TMP/plain.log" -o "$TMP/plain.csv" --summary 2>"$TMP/sum" || fail "plain text: $(cat "$TMP/sum")"
head -1 "$TMP/plain.csv" | grep -qx "log_message,template_id,template" || fail "plain header"
$PY - "$TMP/plain.csv" <<'P' || fail "plain rows"
import csv, sys
csv.field_size_limit(1 << 30)
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8", errors="replace", newline="")))
assert len(rows) == 6, len(rows)
assert rows[0]["log_message"] == "disk full on sda at 91%"
assert rows[1]["log_message"] == "" and rows[1]["template"] == ""
assert rows[0]["template_id"] == rows[5]["template_id"]
assert rows[0]["template"] == "disk full on <*> at <*>", rows[0]["template"]
assert len(rows[4]["log_message"]) > 1000000
P
grep -q "6 lines in .* templates" "$TMP/sum" || fail "summary: $(cat "$TMP/sum")"
grep -q "^ *2 [0-9a-f]\{16\} disk full on <\*> at <\*>$" "$TMP/sum" || fail "summary order/counts: $(cat "$TMP/sum")"
ok
# empty input: no output at all
: >"$TMP/empty"
"$LOGIFY" templates "$TMP/empty" >"$TMP/eout" || fail "empty input"
[[ ! -s "$TMP/eout" ]] || fail "output for an empty input"
ok
# --state: a stream in two pieces gets the ids of one run
$PY "$LOGIFY_ROOT/tests/gen/gen_template_logs.py" "$TMP/gen.csv" --lines-per-system 300 --systems hadoop,openssh,android
head -451 "$TMP/gen.csv" >"$TMP/p1.csv"
(head -1 "$TMP/gen.csv"; tail -n +452 "$TMP/gen.csv") >"$TMP/p2.csv"
"$LOGIFY" templates "$TMP/gen.csv" -o "$TMP/whole.csv" || fail "whole"
"$LOGIFY" templates "$TMP/p1.csv" --state "$TMP/st" -o "$TMP/o1.csv" || fail "piece 1"
[[ -s "$TMP/st" ]] || fail "no state written"
"$LOGIFY" templates "$TMP/p2.csv" --state "$TMP/st" -o "$TMP/o2.csv" || fail "piece 2"
$PY - "$TMP/whole.csv" "$TMP/o1.csv" "$TMP/o2.csv" <<'P' || fail "ids across pieces"
import csv, sys
w = [r["template_id"] for r in csv.DictReader(open(sys.argv[1]))]
p = [r["template_id"] for f in sys.argv[2:] for r in csv.DictReader(open(f))]
assert len(w) == len(p) == 900
same = sum(a == b for a, b in zip(w, p))
assert same == 900, "%d of 900 rows have the whole run's id" % same
P
ok
# --rules: a rule per template of 5+ lines, compiled and measured
"$LOGIFY" templates "$TMP/gen.csv" -o "$TMP/r.out" --rules "$TMP/r.yaml" || fail "--rules"
"$LOGIFY" rules check "$TMP/r.yaml" >"$TMP/rc" || fail "suggested rules do not check: $(cat "$TMP/rc")"
[[ $(grep -c '^  - id: ' "$TMP/r.yaml") -ge 10 ]] || fail "few rules: $(cat "$TMP/r.yaml")"
$PY - "$TMP/lab.csv" <<'P'
import sys
with open(sys.argv[1], "w") as f:
    f.write("log_message,target_label\n")
    for i in range(6):
        f.write("Disk quota exceeded on vol%d by %d MB,Resource Usage\n" % (i * 13, i * 7 + 10))
        f.write("User u%d logged in from 10.0.0.%d,User Action\n" % (i * 17, i))
P
"$LOGIFY" templates "$TMP/lab.csv" -o "$TMP/lab.out" --rules "$TMP/lab.yaml" || fail "--rules labelled"
grep -q "label: 'Resource Usage'" "$TMP/lab.yaml" && grep -q "label: 'User Action'" "$TMP/lab.yaml" ||
  fail "labels: $(cat "$TMP/lab.yaml")"
"$LOGIFY" rules test "$TMP/lab.yaml" 'Disk quota exceeded on vol99 by 5 MB' | grep -q 'Resource Usage' ||
  fail "the rule does not match a new line of its template"
ok
# cluster groups by template first (its default): each template is one
# point, so no template is split, and a rule per template of 5+ lines
# (one OpenBLAS thread: under ThreadSanitizer, make check's TSan run, its
# uninstrumented threads look like races in DBSCAN; cluster is not a TSan test)
OPENBLAS_NUM_THREADS=1 "$LOGIFY" cluster --data "$TMP/gen.csv" --out "$TMP/cl" --no-progress 2>"$TMP/cl.err" ||
  fail "cluster: $(cat "$TMP/cl.err")"
grep -q "900 rows, [0-9]* templates" "$TMP/cl.err" || fail "cluster: $(cat "$TMP/cl.err")"
within "$TMP/whole.csv" template_id "$TMP/cl/points.csv" cluster || fail "a template split across clusters"
"$LOGIFY" rules check "$TMP/cl/suggested_rules.yaml" >/dev/null || fail "cluster rules"
# the same rules as `templates --rules` (one suggester: cli_template_rules),
# the cluster's comments naming the template and its cluster
"$LOGIFY" templates "$TMP/gen.csv" -o /dev/null --rules "$TMP/tr.yaml" || fail "--rules"
diff <(grep "pattern:" "$TMP/cl/suggested_rules.yaml" | sort) <(grep "pattern:" "$TMP/tr.yaml" | sort) >/dev/null ||
  fail "cluster's rules differ from templates --rules"
grep -q "^  # template [0-9a-f]\{16\} in cluster [0-9]*" "$TMP/cl/suggested_rules.yaml" || fail "rules name no template"
ok
# the spool's file part (past LOGIFY_SPOOL_MEM) gives the same rows
LOGIFY_SPOOL_MEM=1000 "$LOGIFY" templates "$TMP/gen.csv" --params -o "$TMP/whole_file.csv" || fail "spool file"
"$LOGIFY" templates "$TMP/gen.csv" --params -o "$TMP/whole_mem.csv" || fail "spool memory"
cmp -s "$TMP/whole_file.csv" "$TMP/whole_mem.csv" || fail "the spool file changes the output"
ok
# a regular file is read whole and its plain lines spooled as references
# (cmd_templates.c, read_whole): the same rows as the chunked read of a pipe,
# and with the spool's file part after the references
$PY -c "import csv, sys; [print(r['log_message']) for r in csv.DictReader(open(sys.argv[1]))]" "$TMP/gen.csv" \
  >"$TMP/gen.log"
cat "$TMP/plain.log" >>"$TMP/gen.log"
for fmt in csv jsonl; do
  cat "$TMP/gen.log" | "$LOGIFY" templates - --format $fmt --params >"$TMP/ref_pipe" || fail "pipe $fmt"
  "$LOGIFY" templates "$TMP/gen.log" --format $fmt --params -o "$TMP/ref_file" || fail "file $fmt"
  LOGIFY_SPOOL_MEM=1000 "$LOGIFY" templates "$TMP/gen.log" --format $fmt --params -o "$TMP/ref_spool" ||
    fail "file spool $fmt"
  cmp -s "$TMP/ref_pipe" "$TMP/ref_file" || fail "$fmt: a file read whole gives other rows than a pipe"
  cmp -s "$TMP/ref_pipe" "$TMP/ref_spool" || fail "$fmt: references then the spool file give other rows"
done
ok
# a damaged or foreign state file: a clear error naming it, nothing written
cp "$TMP/st" "$TMP/st.bak"
echo '{"format":"logify-templates","version":1' >>"$TMP/st"
cp "$TMP/st" "$TMP/st.damaged"
echo keep >"$TMP/o3.csv"
expect_fail 1 "st:" -- "$LOGIFY" templates "$TMP/p2.csv" --state "$TMP/st" -o "$TMP/o3.csv"
grep -q "damaged\|not a Logify template state" "$TMP/err" || fail "message: $(cat "$TMP/err")"
cmp -s "$TMP/st" "$TMP/st.damaged" || fail "the damaged state was overwritten"
grep -qx keep "$TMP/o3.csv" || fail "the output was overwritten"
echo '{"version": 3, "clusters": []}' >"$TMP/drain.json"
expect_fail 1 "drain.json:1: not a Logify template state" -- "$LOGIFY" templates "$TMP/p2.csv" --state "$TMP/drain.json"
grep -q '"clusters"' "$TMP/drain.json" || fail "foreign file touched"
ok
# classify --templates: a template_id column, the same on every run and
# thread count (ids are mined on the parsing thread, in input order)
sed '1s/^system,/source,/' "$TMP/gen.csv" >"$TMP/src.csv"
"$LOGIFY" classify "$TMP/src.csv" --route '*=rules' --templates --explain --threads 1 -o "$TMP/c1.csv" 2>/dev/null ||
  fail "classify --templates"
"$LOGIFY" classify "$TMP/src.csv" --route '*=rules' --templates --explain --threads 3 --batch 7 -o "$TMP/c3.csv" 2>/dev/null ||
  fail "classify --templates, threads"
cmp -s "$TMP/c1.csv" "$TMP/c3.csv" || fail "template ids depend on threads"
head -1 "$TMP/c1.csv" | grep -q ',detail,template_id$' || fail "classify header: $(head -1 "$TMP/c1.csv")"
# ids as known when each row was read (like --live): every classify group
# lies within one group of `logify templates` (which later merges may join)
within "$TMP/c1.csv" template_id "$TMP/whole.csv" template_id || fail "classify template ids"
"$LOGIFY" classify "$TMP/in.csv" --route '*=rules' --format jsonl --templates 2>/dev/null | grep -q '"template_id":"[0-9a-f]\{16\}"}$' ||
  fail "classify jsonl template_id"
ok
# -o to something that is not a regular file (a FIFO, /dev/null) is written
# in place, never replaced by a renamed file
mkfifo "$TMP/fifo"
cat "$TMP/fifo" >"$TMP/fifo.out" &
"$LOGIFY" templates "$TMP/in.csv" -o "$TMP/fifo" || fail "-o FIFO"
wait
[[ -p "$TMP/fifo" ]] || fail "the FIFO was replaced"
[[ $(wc -l <"$TMP/fifo.out") -eq 5 ]] || fail "FIFO output: $(cat "$TMP/fifo.out")"
ok
# a one-word event whose word came before the first had settled: one
# template while mining (as Drain), split per word at the end, each row
# with its word's template (CSV and plain text, with --rules); --live
# writes rows as known then: one template
for k in $(seq 0 19); do
  [[ $((k % 2)) -eq 0 ]] && w=terminating || w=Interrupted.
  echo "PacketResponder $k for block blk_$((100 + k)) $w"
done >"$TMP/early.log"
{ echo "log_message,n"; awk '{print "\"" $0 "\"," NR}' "$TMP/early.log"; } >"$TMP/early.csv"
for f in early.log early.csv; do
  "$LOGIFY" templates "$TMP/$f" -o "$TMP/early.out" --rules "$TMP/early.rules" --summary 2>"$TMP/early.sum" ||
    fail "templates $f: $(cat "$TMP/early.sum")"
  $PY - "$TMP/early.out" <<'P' || fail "early word split ($f): $(cat "$TMP/early.out")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 20
for k, r in enumerate(rows):
    w = "Interrupted." if k % 2 else "terminating"
    assert r["template"] == "PacketResponder <*> for block blk_<*> " + w, r
assert rows[0]["template_id"] != rows[1]["template_id"]
assert len({r["template_id"] for r in rows[0::2]}) == 1 and len({r["template_id"] for r in rows[1::2]}) == 1
P
  grep -q "^ *10 [0-9a-f]\{16\} PacketResponder <\*> for block blk_<\*> Interrupted\.$" "$TMP/early.sum" ||
    fail "summary after the split: $(cat "$TMP/early.sum")"
  grep -q "pattern: .*blk_\[0-9\]+\\\\s+Interrupted" "$TMP/early.rules" &&
    grep -q "pattern: .*blk_\[0-9\]+\\\\s+terminating" "$TMP/early.rules" || fail "rules: $(cat "$TMP/early.rules")"
done
"$LOGIFY" templates "$TMP/early.log" --live -o "$TMP/early.live" || fail "--live"
[[ $(cut -d, -f2 "$TMP/early.live" | sort -u | wc -l) -eq 2 ]] || fail "--live: $(cat "$TMP/early.live")"
ok
# usage errors
expect_fail 2 "--format must be csv or jsonl" -- "$LOGIFY" templates "$TMP/in.csv" --format xml
expect_fail 2 "--sim must be in (0, 1]" -- "$LOGIFY" templates "$TMP/in.csv" --sim 0
expect_fail 1 "not a CSV header with a column 'nope'" -- "$LOGIFY" templates "$TMP/in.csv" --column nope
expect_fail 1 "missing.csv" -- "$LOGIFY" templates "$TMP/missing.csv"
done_checks
