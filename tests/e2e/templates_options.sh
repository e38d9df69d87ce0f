#!/usr/bin/env bash
# templates_options.sh - `logify templates`' options and inputs at their
# edges (docs/templates.md), beside templates_cli.sh: each option's
# refusals (exit 2, the message), --format csv, --state with tuning options
# (ignored, said once), LOGIFY_SPOOL_MEM (the spool file with and without
# --params, a bad value), an input that already has template_id, template
# and params columns (rewritten, never doubled), a row with more fields than
# the header, a UTF-8 BOM on plain text, lines over 4 MiB (plain, first
# line), a directory as input, --column on plain text, --rules on plain
# text and with empty labels, the summary's order on ties.
source "$(dirname "$0")/../lib.sh"
PY=/usr/bin/python3
T() { "$LOGIFY" templates --no-progress "$@"; }

# ---- usage errors: exit 2, the message, the usage
usage_error() { # usage_error MESSAGE ARGS...
  local msg=$1
  shift
  expect_fail 2 "logify: templates: $msg" -- "$LOGIFY" templates "$@"
  grep -q "^usage: logify templates" "$TMP/err" || fail "no usage after '$msg'"
}
for v in 0 1.5 abc '' -0.1 0.5x; do usage_error "--sim must be in (0, 1]" --sim "$v"; done
for v in -1 9 x ''; do usage_error "--depth must be 0..8" --depth "$v"; done
for v in 0 65 x ''; do usage_error "--word-variants must be 1..64" --word-variants "$v"; done
usage_error "--format must be csv or jsonl" --format xml
usage_error "expected at most one input" a b
usage_error "unknown option" --nope
T --help >"$TMP/help" && grep -q "^usage: logify templates" "$TMP/help" || fail "--help"
ok

# ---- an input with our columns already: rewritten at the end, never doubled
printf 'log_message,template_id,template,params,x\nUser 1 logged in,old,oldt,[],a\nUser 2 logged in,old,oldt,[],"b,c"\n' >"$TMP/ours.csv"
T "$TMP/ours.csv" --params --format csv >"$TMP/o.csv" || fail "our columns"
EXPECT='log_message,x,template_id,template,params
User 1 logged in,a,a5dcd40b8570e000,User <*> logged in,"[""1""]"
User 2 logged in,"b,c",a5dcd40b8570e000,User <*> logged in,"[""2""]"'
[[ $(cat "$TMP/o.csv") == "$EXPECT" ]] || fail "our columns: $(cat "$TMP/o.csv")"
printf 'log_message,template_id,template,x\nUser alice logged in,old,oldt,a\nUser bob logged in,old,oldt,b\n' >"$TMP/ours2.csv"
T "$TMP/ours2.csv" --format jsonl --live >"$TMP/o.jsonl" || fail "our columns, jsonl"
$PY - "$TMP/o.jsonl" <<'P' || fail "jsonl: $(cat "$TMP/o.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [list(r) for r in rows] == [["log_message", "x", "template_id", "template"]] * 2, rows
# live: the first row with the template known when it came: its own text
assert rows[0]["template"] == "User alice logged in" and rows[0]["x"] == "a", rows
P
ok

# ---- the spool file (past LOGIFY_SPOOL_MEM) without --params, and a bad
# LOGIFY_SPOOL_MEM (the default: memory): the same rows as in memory
$PY - "$TMP/gen.csv" <<'P'
import sys
with open(sys.argv[1], "w") as f:
    f.write("source,log_message\n")
    for i in range(600):
        f.write("s%d,%s\n" % (i % 3, ["disk %d full on /dev/sd%d" % (i, i % 7), "user u%d logged in" % i,
                                      "job %d took %d ms" % (i, i * 3)][i % 3]))
P
T "$TMP/gen.csv" -o "$TMP/mem.csv" || fail "memory"
LOGIFY_SPOOL_MEM=1000 T "$TMP/gen.csv" -o "$TMP/file.csv" || fail "spool file"
cmp -s "$TMP/mem.csv" "$TMP/file.csv" || fail "the spool file changes the rows"
LOGIFY_SPOOL_MEM=0 T "$TMP/gen.csv" -o "$TMP/file0.csv" || fail "spool file from the first row"
cmp -s "$TMP/mem.csv" "$TMP/file0.csv" || fail "LOGIFY_SPOOL_MEM=0 changes the rows"
LOGIFY_SPOOL_MEM=lots T "$TMP/gen.csv" -o "$TMP/bad.csv" || fail "bad LOGIFY_SPOOL_MEM"
cmp -s "$TMP/mem.csv" "$TMP/bad.csv" || fail "a bad LOGIFY_SPOOL_MEM changes the rows"
[[ $(wc -l <"$TMP/mem.csv") -eq 601 ]] || fail "rows: $(wc -l <"$TMP/mem.csv")"
ok

# ---- --state with tuning options: the state's own settings, said once
T "$TMP/gen.csv" --state "$TMP/st" --sim 0.7 -o /dev/null 2>"$TMP/err" || fail "new state"
! grep -q "ignored" "$TMP/err" || fail "a new state ignores nothing: $(cat "$TMP/err")"
for opt in "--sim 0.9" "--depth 3" "--word-variants 2"; do
  # shellcheck disable=SC2086
  T "$TMP/gen.csv" --state "$TMP/st" $opt -o "$TMP/again.csv" 2>"$TMP/err" || fail "state $opt"
  grep -qx "logify: templates: --sim/--depth/--word-variants ignored: $TMP/st keeps its own" "$TMP/err" ||
    fail "state $opt: $(cat "$TMP/err")"
  cut -d, -f3 "$TMP/again.csv" | sort -u >"$TMP/ids2"
  cut -d, -f3 "$TMP/mem.csv" | sort -u >"$TMP/ids1"
  cmp -s "$TMP/ids1" "$TMP/ids2" || fail "state $opt: other templates"
done
ok

# ---- bad input: each an error naming the input and the line
printf 'a,log_message\n1,x\n2,y,z\n' >"$TMP/wide.csv"
expect_fail 1 "logify: error: $TMP/wide.csv: line 3: 3 fields, the header has 2" -- T "$TMP/wide.csv" -o "$TMP/w.out"
[[ ! -e "$TMP/w.out" ]] || fail "a partial output left"
printf 'one line' | { expect_fail 1 "logify: error: stdin: the first line is not a CSV header with a column 'foo'" -- T --column foo; }
printf 'x,y\n1,2\n' >"$TMP/nocol.csv"
expect_fail 1 "the first line is not a CSV header with a column 'foo'" -- T "$TMP/nocol.csv" --column foo
mkdir "$TMP/dir"
expect_fail 1 "logify: error: $TMP/dir: reading: Is a directory" -- T "$TMP/dir"
# lines over 4 MiB: the first line, a later line (plain text); nothing written
$PY -c "import sys; sys.stdout.write('a' * (4 << 20 | 5) + '\n')" >"$TMP/long1.log"
expect_fail 1 "logify: error: $TMP/long1.log: line 1: longer than 4194304 bytes" -- T "$TMP/long1.log" -o "$TMP/l.out"
{ echo "first line 1"; $PY -c "import sys; sys.stdout.write('b ' * (2 << 20 | 3) + '\n')"; } >"$TMP/long2.log"
expect_fail 1 "logify: error: $TMP/long2.log: line 2: longer than 4194304 bytes" -- T "$TMP/long2.log" -o "$TMP/l.out"
[[ ! -e "$TMP/l.out" ]] || fail "a partial output left"
ok

# ---- plain text: a UTF-8 BOM is not part of the first message
printf '\xef\xbb\xbfhello 1\nhello 2\n' | T >"$TMP/bom.csv" || fail "BOM"
[[ $(sed -n 2p "$TMP/bom.csv") == "hello 1,87f12c7856446026,hello <*>" ]] || fail "BOM: $(cat "$TMP/bom.csv")"
ok

# ---- --rules on plain text (no labels), and with a target_label column
# whose labels are all empty (no labels either)
for i in $(seq 8); do echo "Disk quota exceeded on vol$i by $((i * 7)) MB"; done >"$TMP/plain.log"
T "$TMP/plain.log" -o /dev/null --rules "$TMP/p.yaml" || fail "--rules on plain text"
grep -q "pattern: " "$TMP/p.yaml" || fail "no rule: $(cat "$TMP/p.yaml")"
"$LOGIFY" rules check "$TMP/p.yaml" >/dev/null || fail "the rules do not check"
{ echo "log_message,target_label"; sed 's/$/,/' "$TMP/plain.log"; } >"$TMP/nolab.csv"
T "$TMP/nolab.csv" -o /dev/null --rules "$TMP/n.yaml" || fail "--rules, empty labels"
diff <(grep -v '^#' "$TMP/p.yaml") <(grep -v '^#' "$TMP/n.yaml") >/dev/null ||
  fail "empty labels are not labels: $(diff "$TMP/p.yaml" "$TMP/n.yaml")"
ok

# ---- --summary: most lines first, ties in the order the templates came
printf 'b 1 x\nb 2 x\na 1\nc 1 y y\nc 2 y y\na 2\n' | T --summary -o /dev/null 2>"$TMP/sum" || fail "summary"
sed -n '2,$p' "$TMP/sum" | awk '{print $1, $3}' >"$TMP/order"
[[ $(tr '\n' ' ' <"$TMP/order") == "2 b 2 a 2 c " ]] || fail "summary order: $(cat "$TMP/sum")"
ok
done_checks
