#!/usr/bin/env bash
# Every subcommand's options and usage errors through the real binary
# (issue 22: the CLI options and error paths of main.c, train, serve config
# and model pull covered by e2e tests). A usage error exits 2 and names the
# option; --help prints the usage on stdout and exits 0; no bad value is
# silently taken. The happy paths of each command are in their own tests.
source "$(dirname "$0")/../lib.sh"

# ---- main.c: dispatch, help, version, unknown commands
expect_fail 2 "usage: logify <command>" -- "$LOGIFY"
expect_fail 2 "unknown command 'frobnicate'" -- "$LOGIFY" frobnicate
grep -q "'logify <command> --help'" "$TMP/err" || fail "unknown command: no usage after it"
for h in --help -h help; do
  out=$("$LOGIFY" $h) || fail "logify $h: exit $?"
  for c in classify rules cluster train eval serve embed model templates; do
    grep -q "^  $c " <<<"$out" || fail "logify $h does not list $c"
  done
  ok
done
for v in --version version; do
  "$LOGIFY" $v | grep -Eq '^logify [0-9]+\.[0-9]+\.[0-9]+' || fail "logify $v"
  ok
done
# each command's --help: its usage on stdout, exit 0
for c in classify cluster train eval serve embed model templates; do
  out=$("$LOGIFY" $c --help) || fail "logify $c --help: exit $?"
  grep -q "usage: logify $c" <<<"$out" || fail "logify $c --help: $out"
  ok
done

# ---- usage errors: exit 2 and the message naming what is wrong
# (one line each: CODE|NEEDLE|ARGS, ARGS split on spaces)
printf 'source,log_message\nS,x\n' >"$TMP/in.csv"
printf 'source,log_message,target_label\nS,disk full on a,E\nS,disk full on b,E\nS,user x left,U\nS,user y left,U\n' \
  >"$TMP/lab.csv"
while IFS='|' read -r code needle args; do
  [[ -z $code || $code == \#* ]] && continue
  read -r -a argv <<<"${args//@IN@/$TMP/in.csv}"
  expect_fail "$code" "$needle" -- "$LOGIFY" "${argv[@]}"
done <<'TABLE'
# classify
2|classify: --format must be csv or jsonl|classify @IN@ --format xml
2|classify: --on-error must be fail or skip|classify @IN@ --on-error ignore
2|classify: --batch must be 1..1000000|classify @IN@ --batch 0
2|classify: --batch must be 1..1000000|classify @IN@ --batch 1000001
2|classify: --batch must be 1..1000000|classify @IN@ --batch 12x
2|classify: --threads must be 1..64|classify @IN@ --threads 65
2|classify: --threads must be 1..64|classify @IN@ --threads 0
2|classify: --threshold must be in [0, 1]|classify @IN@ --threshold 1.5
2|classify: --threshold must be in [0, 1]|classify @IN@ --threshold -0.1
2|classify: --threshold must be in [0, 1]|classify @IN@ --threshold x
2|classify: unknown option|classify @IN@ --frobnicate
2|classify: expected one input|classify
2|classify: expected one input|classify @IN@ @IN@
# train
2|train: --test-fraction must be in (0, 1)|train --data a --out b --test-fraction 1
2|train: --test-fraction must be in (0, 1)|train --data a --out b --test-fraction 0
2|train: --min-label-rows must be 1..1000000|train --data a --out b --min-label-rows 0
2|train: --classifier must be auto, logreg or svm|train --data a --out b --classifier tree
2|train: --unknown-threshold must be in [0, 1]|train --data a --out b --unknown-threshold 2
2|train: --candidates must be 1..100000|train --data a --out b --candidates 0
2|train: --threads must be 1..64|train --data a --out b --threads 65
2|train: --threshold must be in [0, 1]|train --data a --out b --threshold 1.01
2|train: --seed must be a non-negative integer|train --data a --out b --seed 1x
2|train: --C must be a positive number|train --data a --out b --C -1
2|train: --threshold must be in [0, 1]|train --data a --out b --route *=rules --threshold 7
2|train: unknown option|train --data a --out b --frobnicate
2|train: unexpected argument 'extra'|train --data a --out b extra
2|train: --data and --out are required|train --out b
# eval
2|eval: unknown option|eval --data a --frobnicate
2|eval: unexpected argument 'extra'|eval --data a extra
# serve (all rejected before anything listens)
2|serve: --port must be 0..65535|serve --port 65536
2|serve: --port must be 0..65535|serve --port -1
2|serve: --threads must be 1..256|serve --threads 0
2|serve: --http-mode must be poll, epoll or thread-per-connection|serve --http-mode select
2|serve: --max-upload must be a size such as 100M|serve --max-upload lots
2|serve: --hold must be a size such as 4M|serve --hold 4Q
2|serve: --max-rows must be >= 1|serve --max-rows 0
2|serve: --max-inflight must be >= 1|serve --max-inflight 0
2|serve: --max-connections must be >= 1|serve --max-connections 0
2|serve: --timeout must be 1..86400|serve --timeout 0
2|serve: --timeout must be 1..86400|serve --timeout 86401
2|serve: --head-timeout must be 1..86400|serve --head-timeout 0
2|serve: --max-per-ip must be >= 1|serve --max-per-ip 0
2|serve: --grace must be 0..86400 seconds|serve --grace -1
2|serve: --grace must be 0..86400 seconds|serve --grace 1s
2|serve: --threshold must be in [0, 1]|serve --threshold 2
2|serve: unknown option|serve --frobnicate
2|serve: unexpected argument 'extra'|serve extra
# model
2|model needs a subcommand|model
2|unknown subcommand 'frob'|model frob
2|tokenize needs exactly one DIR|model tokenize
2|info needs exactly one DIR|model info a b
2|pull needs exactly one NAME|model pull
2|pull needs exactly one NAME|model pull a b
2|bad option|model pull --frobnicate x
# rules
2|rules: expected check, test or default|rules
2|rules: unknown subcommand 'frob'|rules frob
2|rules check: expected one FILE|rules check
2|rules test: expected FILE MESSAGE|rules test onlyfile
2|rules test: unknown option|rules test --frobnicate a b
# embed, templates, cluster
2|--model DIR is required|embed
2|--batch must be in 1..4096|embed --model m --batch 0
2|--threads must be in 1..64|embed --model m --threads 99
2|bad option|embed --frobnicate
2|unexpected argument 'extra'|embed --model m extra
2|templates: --format must be csv or jsonl|templates @IN@ --format xml
2|templates: --sim must be in (0, 1]|templates @IN@ --sim 0
2|templates: --sim must be in (0, 1]|templates @IN@ --sim 1.5
2|templates: --depth must be 0..8|templates @IN@ --depth 9
2|templates: --word-variants must be 1..64|templates @IN@ --word-variants 0
2|templates: unknown option|templates @IN@ --frobnicate
2|templates: expected at most one input|templates @IN@ @IN@
2|--out DIR is required|cluster --data @IN@
2|--data CSV (or --embeddings) is required|cluster --out x
2|--color-by is label or cluster|cluster --data @IN@ --out x --color-by size
2|unexpected argument 'extra'|cluster --data @IN@ --out x extra
2|--eps must be a number in 0..2, got '3'|cluster --data @IN@ --out x --eps 3
2|--eps must be a number in 0..2, got 'e'|cluster --data @IN@ --out x --eps e
2|--min-samples must be an integer in 1..1000000, got '0'|cluster --data @IN@ --out x --min-samples 0
2|--seed must be an integer in 0..2147483647, got '-1'|cluster --data @IN@ --out x --seed -1
2|--n-neighbors must be an integer in 2..200, got '1'|cluster --data @IN@ --out x --n-neighbors 1
2|--min-dist must be a number in 0..10, got '11'|cluster --data @IN@ --out x --min-dist 11
2|--epochs must be an integer in 1..100000, got '0'|cluster --data @IN@ --out x --epochs 0
2|--exact-max must be an integer in 0..|cluster --data @IN@ --out x --exact-max -1
2|--min-size must be an integer in 1..1000000, got '1.5'|cluster --data @IN@ --out x --min-size 1.5
2|--dims must be an integer in 0..1048576, got '99999999999999999999'|cluster --data @IN@ --out x --dims 99999999999999999999
TABLE

# ---- serve: an empty key is refused, not taken as "no authentication"
expect_fail 2 "the API key (--api-key or LOGIFY_API_KEY) is empty" -- "$LOGIFY" serve --api-key ""
expect_fail 2 "the API key (--api-key or LOGIFY_API_KEY) is empty" -- env LOGIFY_API_KEY= \
  "$LOGIFY" serve --port 0
# ... and a bad config file, before anything listens
printf 'server:\n  port: 99999\n' >"$TMP/badport.yaml"
expect_fail 1 "badport.yaml:2: server.port must be a whole number in 0..65535" -- \
  timeout 30 "$LOGIFY" serve --config "$TMP/badport.yaml" --port 0
for kv in "threads: 0" "http_mode: select" "max_upload: lots" "timeout: 0" "grace: -1" "frob: 1" \
  "hold: 4Q" "max_rows: 0" "max_inflight: 0" "max_connections: 0" "head_timeout: 0" "max_per_ip: 0" \
  "access_log: maybe" "host: [1]" "port: x" "grace: x"; do
  printf 'server:\n  %s\n' "$kv" >"$TMP/bad.yaml"
  expect_fail 1 "bad.yaml:2: server.${kv%%:*}" -- timeout 30 "$LOGIFY" serve --config "$TMP/bad.yaml" --port 0
done
printf 'server: [1]\n' >"$TMP/bad.yaml"
expect_fail 1 "must be a map" -- "$LOGIFY" serve --config "$TMP/bad.yaml" --port 0
printf 'nonsense: [\n' >"$TMP/broken.yaml"
expect_fail 1 "broken.yaml" -- "$LOGIFY" serve --config "$TMP/broken.yaml" --port 0
expect_fail 1 "--route" -- "$LOGIFY" serve --route 'x=warp' --port 0

# ---- train: a config that does not load, a rules file that does not exist
expect_fail 1 "broken.yaml" -- "$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/b" --config "$TMP/broken.yaml"
expect_fail 1 "$TMP/none.yaml" -- "$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/b" --rules "$TMP/none.yaml"
expect_fail 1 "unknown encoder spec 'warp:9'" -- "$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/b" --encoder warp:9
[[ -e "$TMP/b" ]] && fail "a failed train created the bundle directory"
# ---- train and eval with every option given: the values reach the bundle
{
  echo "source,log_message,target_label"
  for i in $(seq 1 15); do
    echo "S,Disk $i on node $((i * 7)) failed hard,Error"
    echo "S,User u$i changed password,Security"
    echo "S,Backup job $i finished fine,Notice"
  done
} >"$TMP/lab3.csv"
printf 'rules:\n  - {id: bk, label: Notice, pattern: "Backup job"}\n' >"$TMP/r.yaml"
"$LOGIFY" train --data "$TMP/lab3.csv" --out "$TMP/svm" --classifier svm --candidates 2 --threads 1 \
  --seed 7 --test-fraction 0.3 --min-label-rows 2 --C 5 --threshold 0.4 --unknown-threshold 0.1 \
  --rules "$TMP/r.yaml" --route 'S=rules,model' --json >"$TMP/svm.json" 2>"$TMP/err" ||
  fail "train with every option: $(cat "$TMP/err")"
python3 - "$TMP/svm.json" "$TMP/svm/meta.json" <<'PY' || fail "train options: $(cat "$TMP/svm.json")"
import json, sys
j, meta = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert j["rows"] == 45 and j["decided_by_rules"] == 15, j
assert j["labels"] == ["Error", "Security"], j["labels"]
assert meta["threshold"] == 0.4 and meta["open_set"]["unknown_threshold"] == 0.1, meta
assert meta["classifier"]["C"] == 5.0, meta
assert meta["classifier"]["type"] == "ovr_linear_svm" and meta["classifier"]["candidates"] == 2, meta
PY
ok
"$LOGIFY" train --data "$TMP/lab3.csv" --out "$TMP/lr" --classifier logreg --encoder hash:dim=256,seed=3,text=0 \
  >"$TMP/lr.txt" 2>"$TMP/err" || fail "train logreg: $(cat "$TMP/err")"
grep -q "classifier multinomial_logreg" "$TMP/lr.txt" || fail "train text report: $(cat "$TMP/lr.txt")"
grep -q "^wrote $TMP/lr (meta.json, weights.bin, centroids.bin)$" "$TMP/lr.txt" || fail "train: $(cat "$TMP/lr.txt")"
ok
expect_fail 1 "dim must be a power of two" -- "$LOGIFY" train --data "$TMP/lab3.csv" --out "$TMP/x" \
  --encoder hash:dim=64
"$LOGIFY" eval --data "$TMP/lab3.csv" --model "$TMP/svm" --rules "$TMP/r.yaml" --threshold 0.3 --json \
  >"$TMP/ev.json" 2>"$TMP/err" || fail "eval --json: $(cat "$TMP/err")"
python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["rows"] == 45 and j["accuracy"] == 1.0, j' \
  "$TMP/ev.json" || fail "eval: $(cat "$TMP/ev.json")"
ok
"$LOGIFY" eval --data "$TMP/lab3.csv" --model "$TMP/lr" >"$TMP/ev.txt" 2>"$TMP/err" || fail "eval: $(cat "$TMP/err")"
grep -q "model      45 rows, accuracy 1.0000" "$TMP/ev.txt" || fail "eval text: $(cat "$TMP/ev.txt")"
ok
# ---- templates: a Content column (the default after log_message), earlier
# template columns replaced, other columns kept, JSONL with params, a spool
# forced to a file (LOGIFY_SPOOL_MEM), --column, plain text from stdin
printf 'id,Content,template_id,extra\n1,Disk 3 failed on node a,x,"q,1"\n2,Disk 4 failed on node b,y,z\n3,User u1 logged in,z,w\n' \
  >"$TMP/t.csv"
"$LOGIFY" templates "$TMP/t.csv" --format jsonl --params >"$TMP/t.jsonl" || fail "templates --format jsonl --params"
python3 - "$TMP/t.jsonl" <<'PY' || fail "templates jsonl: $(cat "$TMP/t.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [list(r) for r in rows] == [["id", "Content", "extra", "template_id", "template", "params"]] * 3, rows
assert rows[0]["template"] == "Disk <*> failed on node <*>" and rows[0]["params"] == ["3", "a"], rows[0]
assert rows[0]["template_id"] == rows[1]["template_id"] != rows[2]["template_id"], rows
assert rows[0]["extra"] == "q,1" and rows[2]["params"] == [], rows
PY
ok
LOGIFY_SPOOL_MEM=10 "$LOGIFY" templates "$TMP/t.csv" --params >"$TMP/t2.csv" || fail "templates with a spool file"
[[ "$(head -1 "$TMP/t2.csv")" == "id,Content,extra,template_id,template,params" ]] || fail "header: $(cat "$TMP/t2.csv")"
grep -qE '^1,Disk 3 failed on node a,"q,1",[0-9a-f]{16},Disk <\*> failed on node <\*>,"\[""3"",""a""\]"$' \
  "$TMP/t2.csv" || fail "spooled row: $(cat "$TMP/t2.csv")"
ok
printf 'msg,log_message\nDisk 1 gone,ignored 1\nDisk 2 gone,ignored 2\n' >"$TMP/c.csv"
"$LOGIFY" templates "$TMP/c.csv" --column MSG | grep -q '^Disk 1 gone,ignored 1,[0-9a-f]\{16\},Disk <\*> gone$' ||
  fail "--column MSG"
ok
printf 'plain line 1\nplain line 2\n' | "$LOGIFY" templates - --format jsonl | grep -c '"template":"plain line <\*>"' |
  grep -qx 2 || fail "plain text from stdin"
ok
expect_fail 1 "the first line is not a CSV header with a column 'nope'" -- \
  "$LOGIFY" templates "$TMP/c.csv" --column nope
done_checks
