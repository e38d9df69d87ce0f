#!/usr/bin/env bash
# LLM stage failures are not silent (issue 14, item 4): a base URL on a
# closed port, or answers that are no allowed label, print once on stderr
# what failed and how many rows it cost; --summary counts rows by reason.
source "$(dirname "$0")/../lib.sh"
start_fake_llm
printf 'source,log_message\nS,weird thing one\nS,weird thing two 2\nS,weird thing 3 three\n' >"$TMP/in.csv"
export LOGIFY_LLM_RETRIES=0 LOGIFY_LLM_BATCH=1

# ---- a closed port: the reason and the row count, once
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
LOGIFY_LLM_BASE_URL=http://127.0.0.1:$closed/v1 timeout 60 "$LOGIFY" classify "$TMP/in.csv" \
  --route '*=llm' >"$TMP/out" 2>"$TMP/err" || rc=$?
[[ $rc -eq 0 ]] || fail "exit $rc: $(cat "$TMP/err")"
[[ $(grep -c "llm stage left" "$TMP/err") -eq 1 ]] || fail "want the warning once: $(cat "$TMP/err")"
grep -q "warning: llm stage left 3 rows Unclassified: 3 request failed (first: .*connect" "$TMP/err" ||
  fail "warning text: $(cat "$TMP/err")"
ok
# --summary: counts by reason
LOGIFY_LLM_BASE_URL=http://127.0.0.1:$closed/v1 timeout 60 "$LOGIFY" classify "$TMP/in.csv" \
  --route '*=llm' --summary >"$TMP/out" 2>"$TMP/err" || fail "summary run: $(cat "$TMP/err")"
grep -q "llm unlabelled by reason: request failed 3, not sent (circuit open or deadline spent) 0, answer not an allowed label 0" "$TMP/err" ||
  fail "summary by reason: $(cat "$TMP/err")"
ok

# ---- off-list answers: counted under their own reason, with the answer
LOGIFY_LLM_BASE_URL=http://127.0.0.1:$PORT/m/offlist+id=f1/v1 timeout 60 "$LOGIFY" classify "$TMP/in.csv" \
  --route '*=llm' --summary >"$TMP/out" 2>"$TMP/err" || fail "offlist run: $(cat "$TMP/err")"
grep -q "llm stage left 3 rows Unclassified: 3 answer not an allowed label (first: llm answer not an allowed label: 'Banana')" "$TMP/err" ||
  fail "offlist warning: $(cat "$TMP/err")"
ok

# ---- all labelled: no warning
LOGIFY_LLM_BASE_URL=http://127.0.0.1:$PORT/m/ok+id=f2/v1 timeout 60 "$LOGIFY" classify "$TMP/in.csv" \
  --route '*=llm' >"$TMP/out" 2>"$TMP/err" || fail "ok run: $(cat "$TMP/err")"
grep -q "llm stage left" "$TMP/err" && fail "a warning although every row was labelled: $(cat "$TMP/err")"
[[ $(grep -c "Workflow Error" "$TMP/out") -eq 3 ]] || fail "ok labels: $(cat "$TMP/out")"
ok
done_checks
