#!/usr/bin/env bash
# A header naming a column we read or write twice is an error that names the
# columns (issue 14, item 3), never a stale value left in the second one.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')
check_dup() { # header, row, name, columns, extra options
  printf '%s\n%s\n' "$1" "$2" >"$TMP/in.csv"
  echo "previous" >"$TMP/out.csv"
  expect_fail 1 "column '$3' appears twice in the header (columns $4)" -- \
    "$LOGIFY" classify "$TMP/in.csv" -o "$TMP/out.csv" "${RULES_ONLY[@]}" "${@:5}"
  [[ $(cat "$TMP/out.csv") == previous ]] || fail "the output was written"
}
check_dup 'source,log_message,target_label,target_label' 'S,Backup completed successfully.,old1,old2' \
  target_label "3 and 4"
check_dup 'source,log_message,source' 'A,x,B' source "1 and 3"
check_dup 'log_message,source,log_message' 'x,A,y' log_message "1 and 3"
check_dup 'source,log_message,stage,stage' 'A,x,s1,s2' stage "3 and 4" --explain
# without --explain, stage is not ours: kept as data, twice
printf 'source,log_message,stage,stage\nA,Backup completed successfully.,s1,s2\n' >"$TMP/in.csv"
"$LOGIFY" classify "$TMP/in.csv" "${RULES_ONLY[@]}" >"$TMP/o.csv" || fail "stage twice without --explain"
[[ $(tail -1 "$TMP/o.csv") == "A,Backup completed successfully.,s1,s2,System Notification" ]] ||
  fail "other repeated names: $(cat "$TMP/o.csv")"
ok
done_checks
