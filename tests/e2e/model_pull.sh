#!/usr/bin/env bash
# `logify model pull` against a local hub (tests/fixtures/bert/hub_server.py
# on 127.0.0.1, a free port): a transfer broken mid-file is resumed with a
# Range request, HF_TOKEN is sent, optional files answering 404 are
# skipped, the result equals the fixture and loads; a missing model is a
# 404 error; a partial file from an earlier run is resumed; a download that
# keeps breaking fails but keeps its partial file; a corrupt download is
# refused and never renamed into place; 401/403 and other HTTP errors, files
# that are not what they claim, a tokenizer.json-only model, a partial file
# longer than the remote one (416: downloaded again).
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
SRC="$FX/tiny_mean"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_hub ROOT LOG [flags]: starts a server, sets PORT
start_hub() {
  local root=$1 log=$2
  shift 2
  rm -f "$TMP/port"
  python3 "$FX/hub_server.py" "$root" acme/tiny "$TMP/port" "$log" "$@" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
  [[ -s "$TMP/port" ]] || fail "hub server did not start"
  PORT=$(cat "$TMP/port")
}

stop_hub() {
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
}

same_as_fixture() {
  for f in config.json vocab.txt modules.json tokenizer_config.json sentence_bert_config.json \
           special_tokens_map.json model.safetensors 1_Pooling/config.json; do
    cmp -s "$SRC/$f" "$1/$f" || fail "$f differs after pull"
  done
  [[ -z $(find "$1" -name '*.incomplete') ]] || fail "an .incomplete file was left in $1"
}

# 1. a connection broken in the middle of model.safetensors
start_hub "$SRC" "$TMP/log1" --break-once model.safetensors
HF_ENDPOINT="http://127.0.0.1:$PORT" HF_TOKEN=sekrit "$LOGIFY" model pull acme/tiny --dir "$TMP/m1" 2>"$TMP/err1" ||
  fail "pull failed: $(cat "$TMP/err1")"
same_as_fixture "$TMP/m1"
grep -q "model.safetensors range=bytes=[1-9]" "$TMP/log1" || fail "no resumed Range request: $(cat "$TMP/log1")"
grep -q "auth=Bearer sekrit" "$TMP/log1" || fail "HF_TOKEN not sent"
grep -q "/acme/tiny/resolve/main/config_sentence_transformers.json" "$TMP/log1" || fail "optional file not asked"
"$LOGIFY" model info "$TMP/m1" >/dev/null || fail "pulled model does not load"
ok

# 2. a model that does not exist: 404 named, nothing left in place
expect_fail 1 "404" -- env HF_ENDPOINT="http://127.0.0.1:$PORT" "$LOGIFY" model pull acme/nothere --dir "$TMP/m2"
grep -q "config.json" "$TMP/err" || fail "404 message does not name the file"
[[ ! -e "$TMP/m2/config.json" ]] || fail "404 left a file"
# a revision goes into the URL; no token: no Authorization header
HF_ENDPOINT="http://127.0.0.1:$PORT/" "$LOGIFY" model pull acme/tiny --revision v1.0 --dir "$TMP/m2" 2>/dev/null ||
  fail "pull --revision failed"
grep -q "/acme/tiny/resolve/v1.0/model.safetensors range=None auth=None" "$TMP/log1" || fail "revision or auth wrong"
ok
stop_hub

# 3. a transfer that keeps breaking: fails after the retries, partial kept
start_hub "$SRC" "$TMP/log3" --break-always model.safetensors
expect_fail 1 "download failed" -- env HF_ENDPOINT="http://127.0.0.1:$PORT" "$LOGIFY" model pull acme/tiny --dir "$TMP/m3"
[[ -s "$TMP/m3/model.safetensors.incomplete" ]] || fail "partial file not kept"
[[ ! -e "$TMP/m3/model.safetensors" ]] || fail "incomplete file renamed into place"
kept=$(stat -c %s "$TMP/m3/model.safetensors.incomplete")
stop_hub
# ... and the next run resumes from where it stopped
start_hub "$SRC" "$TMP/log4"
HF_ENDPOINT="http://127.0.0.1:$PORT" "$LOGIFY" model pull acme/tiny --dir "$TMP/m3" 2>"$TMP/err3" ||
  fail "resumed pull failed: $(cat "$TMP/err3")"
same_as_fixture "$TMP/m3"
grep -q "model.safetensors range=bytes=$kept-" "$TMP/log4" || fail "did not resume at $kept: $(cat "$TMP/log4")"
ok
stop_hub

# 4. a corrupt safetensors header: refused, not renamed into place
cp -r "$SRC" "$TMP/bad"
printf 'zzzzzzzz' | dd of="$TMP/bad/model.safetensors" bs=1 conv=notrunc 2>/dev/null
start_hub "$TMP/bad" "$TMP/log5"
expect_fail 1 "model.safetensors" -- env HF_ENDPOINT="http://127.0.0.1:$PORT" "$LOGIFY" model pull acme/tiny --dir "$TMP/m5"
[[ ! -e "$TMP/m5/model.safetensors" ]] || fail "corrupt file renamed into place"
stop_hub

# 5. what a hub may answer instead: 401/403 (a gated model: says HF_TOKEN),
# another HTTP error, files that are not what they claim, a model with only
# tokenizer.json, one with neither vocabulary
pull() { env HF_ENDPOINT="http://127.0.0.1:$PORT" "$LOGIFY" model pull acme/tiny --dir "$@"; }
for st in 401 403; do
  start_hub "$SRC" "$TMP/log6" --status config.json=$st
  expect_fail 1 "HTTP $st (gated or private model? set HF_TOKEN)" -- pull "$TMP/m6"
  stop_hub
done
start_hub "$SRC" "$TMP/log6" --status config.json=418
expect_fail 1 "config.json: HTTP 418" -- pull "$TMP/m6"
stop_hub
cp -r "$SRC" "$TMP/c7"
echo '{"hidden_size": ' >"$TMP/c7/config.json"
start_hub "$TMP/c7" "$TMP/log7"
expect_fail 1 "config.json: downloaded file is not JSON" -- pull "$TMP/m7"
stop_hub
cp -r "$SRC" "$TMP/c8"
echo '{"path": "1_Pooling"}' >"$TMP/c8/modules.json"
start_hub "$TMP/c8" "$TMP/log8"
expect_fail 1 "not a JSON array of modules" -- pull "$TMP/m8"
stop_hub
cp -r "$SRC" "$TMP/c9"
rm "$TMP/c9/vocab.txt"
start_hub "$TMP/c9" "$TMP/log9"
expect_fail 1 "neither vocab.txt nor tokenizer.json found (404)" -- pull "$TMP/m9"
stop_hub
start_hub "$FX/tiny_tokjson" "$TMP/log10"
pull "$TMP/m10" 2>"$TMP/err10" || fail "pull of a tokenizer.json model: $(cat "$TMP/err10")"
[[ -s "$TMP/m10/tokenizer.json" && ! -e "$TMP/m10/vocab.txt" ]] || fail "tokenizer.json not fetched"
grep -q "resolve/main/vocab.txt" "$TMP/log10" || fail "vocab.txt not asked first"
"$LOGIFY" model info "$TMP/m10" >/dev/null || fail "the tokenizer.json model does not load"
ok
stop_hub
# a partial file from another version, longer than the remote one: 416,
# then downloaded again from the start
start_hub "$SRC" "$TMP/log11"
mkdir -p "$TMP/m11"
head -c $(($(stat -c %s "$SRC/model.safetensors") + 10)) /dev/zero >"$TMP/m11/model.safetensors.incomplete"
pull "$TMP/m11" 2>"$TMP/err11" || fail "pull over a longer partial file: $(cat "$TMP/err11")"
same_as_fixture "$TMP/m11"
grep -q "model.safetensors range=bytes=$(($(stat -c %s "$SRC/model.safetensors") + 10))-" "$TMP/log11" ||
  fail "the longer partial file was not offered first: $(cat "$TMP/log11")"
ok
stop_hub

expect_fail 2 "exactly one NAME" -- "$LOGIFY" model pull
expect_fail 1 "expected owner/name" -- "$LOGIFY" model pull "../etc" --dir "$TMP/x"
done_checks
