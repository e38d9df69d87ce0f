#!/usr/bin/env bash
# `logify embed` and `logify model tokenize|info` on the committed tiny
# fixtures (tests/fixtures/bert, references from an independent PyTorch
# implementation): vectors within cosine 0.99999 / 1e-4, ids identical,
# order kept, several batch sizes and thread counts; then usage errors and
# broken model directories named in the message.
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
CMP="$FX/compare.py"

texts() { python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["texts"]]' "$1/reference.json"; }

for m in tiny_mean tiny_cls tiny_f16 tiny_bf16; do
  texts "$FX/$m" >"$TMP/in.txt"
  "$LOGIFY" model tokenize "$FX/$m" <"$TMP/in.txt" >"$TMP/tok.txt"
  for args in "--batch 1 --threads 1" "--batch 4 --threads 2" "--batch 64 --threads 2"; do
    # shellcheck disable=SC2086
    "$LOGIFY" embed --model "$FX/$m" $args <"$TMP/in.txt" >"$TMP/emb.txt"
    echo -n "$m ($args): "
    python3 "$CMP" "$TMP/emb.txt" "$TMP/tok.txt" "$FX/$m/reference.json" || fail "$m $args"
    ok
  done
done

# info
"$LOGIFY" model info "$FX/tiny_cls" >"$TMP/info"
grep -q "2 layers, hidden 32, 4 heads" "$TMP/info" || fail "model info: $(cat "$TMP/info")"
grep -q "CLS pooling" "$TMP/info" || fail "model info pooling: $(cat "$TMP/info")"
ok

# no input: no output; a file without a final newline still gives every line
"$LOGIFY" embed --model "$FX/tiny_mean" </dev/null >"$TMP/empty"
[[ ! -s "$TMP/empty" ]] || fail "empty input gave output"
printf 'one\ntwo' | "$LOGIFY" embed --model "$FX/tiny_mean" >"$TMP/two"
[[ $(wc -l <"$TMP/two") -eq 2 ]] || fail "last line without newline lost"
ok

# errors
expect_fail 2 "--model DIR is required" -- "$LOGIFY" embed
expect_fail 2 "--batch must be" -- "$LOGIFY" embed --model "$FX/tiny_mean" --batch 0
expect_fail 2 "--threads must be" -- "$LOGIFY" embed --model "$FX/tiny_mean" --threads x
expect_fail 1 "config.json: missing" -- "$LOGIFY" embed --model "$TMP/nowhere"
cp -r "$FX/tiny_mean" "$TMP/broken"
sed -i 's/"hidden_act": "gelu"/"hidden_act": "tanh"/' "$TMP/broken/config.json"
expect_fail 1 "field 'hidden_act'" -- "$LOGIFY" model tokenize "$TMP/broken"
expect_fail 2 "unknown subcommand" -- "$LOGIFY" model frobnicate
done_checks
