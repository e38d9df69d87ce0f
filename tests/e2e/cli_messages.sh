#!/usr/bin/env bash
# Bad routes are refused and error messages say each thing once (issue 14,
# item 11): an empty stage list would leave every row Unclassified.
source "$(dirname "$0")/../lib.sh"
printf 'source,log_message\nS,x\n' >"$TMP/in.csv"
run() { "$LOGIFY" classify "$TMP/in.csv" "$@"; }
expect_fail 1 "--route '*=': no stages (give one or more of rules, model, llm)" -- run --route '*='
expect_fail 1 "--route 'S=': no stages" -- run --route 'S='
expect_fail 1 "--route '*=rules,': an empty stage name" -- run --route '*=rules,'
expect_fail 1 "--route 'x=rules,,model': an empty stage name" -- run --route 'x=rules,,model'
expect_fail 1 "--route 'x=rules,rules': route 'x' lists stage rules twice" -- run --route 'x=rules,rules'
grep -q -- "--route:0" "$TMP/err" && fail "a line number 0 in: $(cat "$TMP/err")"
printf 'routes:\n  - source: "*"\n    stages: []\n' >"$TMP/empty.yaml"
expect_fail 1 "empty.yaml:2: route '*' needs a stages list" -- run --config "$TMP/empty.yaml"

# each thing once: the bundle's path appears once in the message
expect_fail 1 "model bundle $TMP/none: not a directory" -- run --model "$TMP/none"
[[ $(grep -o "$TMP/none" "$TMP/err" | wc -l) -eq 1 ]] || fail "path repeated: $(cat "$TMP/err")"
ok
mkdir "$TMP/emptybundle"
expect_fail 1 "model bundle: $TMP/emptybundle/" -- run --model "$TMP/emptybundle"
[[ $(grep -o "$TMP/emptybundle" "$TMP/err" | wc -l) -eq 1 ]] || fail "path repeated: $(cat "$TMP/err")"
ok
done_checks
