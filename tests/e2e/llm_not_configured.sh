#!/usr/bin/env bash
# No API key and no base URL: the LLM stage is off. Rows routed to it come
# out Unclassified with detail "llm not configured", stderr carries exactly
# one warning about it, the exit status is 0; other rows are unaffected.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
cat >"$TMP/in.csv" <<'IN'
source,log_message
LegacyCRM,Case escalation for ticket ID 7324 failed because the assigned support agent is no longer active.
BillingSystem,User 12345 logged in.
LegacyCRM,The 'BulkEmailSender' feature is no longer supported.
IN
for flags in "" "--threads 1" "--format jsonl"; do
  rc=0
  # shellcheck disable=SC2086
  timeout 60 "$LOGIFY" classify "$TMP/in.csv" --explain $flags >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc -eq 0 ]] || fail "exit $rc ($flags): $(cat "$TMP/err")"
  [[ $(grep -c "llm" "$TMP/err") -eq 1 ]] || fail "want one llm warning ($flags): $(cat "$TMP/err")"
  grep -q "warning: .*LegacyCRM.*llm not configured" "$TMP/err" || fail "warning text: $(cat "$TMP/err")"
  [[ $(grep -c "llm not configured" "$TMP/out") -eq 2 ]] || fail "details ($flags): $(cat "$TMP/out")"
  [[ $(grep -c "Unclassified" "$TMP/out") -eq 2 ]] || fail "labels ($flags): $(cat "$TMP/out")"
  grep -q "User Action" "$TMP/out" || fail "other rows changed ($flags): $(cat "$TMP/out")"
  ok
done
# an empty key is no key
rc=0
GROQ_API_KEY= timeout 60 "$LOGIFY" classify "$TMP/in.csv" --explain >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 && $(grep -c "llm not configured" "$TMP/out") -eq 2 ]] || fail "empty key: $(cat "$TMP/err")"
ok
# said only when rows are routed there (issue 14, item 12): not for a file
# without LegacyCRM rows, not for a missing file; once for many batches
printf 'source,log_message\nBillingSystem,User 12345 logged in.\n' >"$TMP/nolegacy.csv"
timeout 60 "$LOGIFY" classify "$TMP/nolegacy.csv" >"$TMP/out" 2>"$TMP/err" || fail "no LegacyCRM rows: $(cat "$TMP/err")"
[[ ! -s "$TMP/err" ]] || fail "a warning with no row routed to the llm stage: $(cat "$TMP/err")"
ok
rc=0
timeout 60 "$LOGIFY" classify "$TMP/missing.csv" >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc -eq 1 ]] && ! grep -q "llm" "$TMP/err" || fail "missing file (exit $rc): $(cat "$TMP/err")"
ok
{ echo source,log_message; for i in $(seq 50); do echo "LegacyCRM,Case $i failed."; done; } >"$TMP/many.csv"
timeout 60 "$LOGIFY" classify "$TMP/many.csv" --threads 3 --batch 2 >"$TMP/out" 2>"$TMP/err" || fail "many: $(cat "$TMP/err")"
[[ $(grep -c "llm not configured" "$TMP/err") -eq 1 ]] || fail "want the warning once: $(cat "$TMP/err")"
ok
done_checks
