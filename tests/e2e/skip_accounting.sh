#!/usr/bin/env bash
# `classify --on-error skip` accounts for every input row (issue 14, item 2):
# a bad row that spans lines costs only its first line, each skipped line is
# named on stderr, and the summary's counts add up to the rows read.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')

# 6 rows; an unterminated quote on line 5 (of the file)
printf 'source,log_message\nS,a\nS,b\nS,c\nS,"unterminated\nS,d\nS,e\n' >"$TMP/in.csv"
"$LOGIFY" classify "$TMP/in.csv" --on-error skip --summary "${RULES_ONLY[@]}" >"$TMP/out.csv" 2>"$TMP/err" ||
  fail "classify: $(cat "$TMP/err")"
[[ $(tail -n +2 "$TMP/out.csv" | cut -d, -f2 | paste -sd' ') == "a b c d e" ]] ||
  fail "rows out: $(cat "$TMP/out.csv")"
grep -q "line 5 skipped: unterminated quoted field" "$TMP/err" || fail "line 5 not named: $(cat "$TMP/err")"
[[ $(grep -c "skipped:" "$TMP/err") -eq 1 ]] || fail "more than one line skipped: $(cat "$TMP/err")"
grep -q "6 rows read = 5 written + 1 malformed skipped" "$TMP/err" || fail "summary: $(cat "$TMP/err")"
ok

# a multi-line row with a wrong field count, and a quote closing lines later
printf 'source,log_message\nS,"x\ny",extra\nS,z\nS,"abc\nS,d\nS,"e"\n' >"$TMP/in2.csv"
"$LOGIFY" classify "$TMP/in2.csv" --on-error skip --summary "${RULES_ONLY[@]}" >"$TMP/out2.csv" 2>"$TMP/err2" ||
  fail "classify: $(cat "$TMP/err2")"
for l in 2 3 5; do grep -q "line $l skipped" "$TMP/err2" || fail "line $l not named: $(cat "$TMP/err2")"; done
[[ $(tail -n +2 "$TMP/out2.csv" | cut -d, -f2 | paste -sd' ') == "z d e" ]] || fail "rows out: $(cat "$TMP/out2.csv")"
grep -q "6 rows read = 3 written + 3 malformed skipped" "$TMP/err2" || fail "summary: $(cat "$TMP/err2")"
ok
done_checks
