#!/usr/bin/env bash
# --encoder sbert:DIR in `logify train`, `logify classify` and `logify eval`
# on the committed tiny fixture (tests/fixtures/bert/tiny_mean): the bundle
# records the sbert encoder, classify and eval use it, and a bundle whose
# model directory changed is refused.
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
cp -r "$FX/tiny_mean" "$TMP/enc"
{
  echo "source,log_message,target_label"
  for i in $(seq 1 15); do
    echo "ModernCRM,Disk /dev/sda$i is $((80 + i))% full,Resource Usage"
    echo "ModernCRM,Multiple login failures for user $i,Security Alert"
    echo "ModernHR,Backup job $i completed successfully,System Notification"
  done
} >"$TMP/train.csv"
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/bundle" --encoder "sbert:$TMP/enc" \
  --min-label-rows 2 >"$TMP/train.out" 2>&1 || fail "train: $(cat "$TMP/train.out")"
grep -q "encoder sbert:$TMP/enc" "$TMP/train.out" || fail "train did not use sbert: $(cat "$TMP/train.out")"
grep -q "sbert" "$TMP/bundle/meta.json" || fail "bundle does not record the encoder"
ok
"$LOGIFY" classify "$TMP/train.csv" --model "$TMP/bundle" --route '*=model:0' -o "$TMP/out.csv" 2>"$TMP/err" ||
  fail "classify: $(cat "$TMP/err")"
[[ $(wc -l <"$TMP/out.csv") -eq 46 ]] || fail "classify output rows: $(wc -l <"$TMP/out.csv")"
ok
"$LOGIFY" eval --data "$TMP/train.csv" --model "$TMP/bundle" --route '*=model:0' >"$TMP/eval.out" 2>&1 ||
  fail "eval: $(cat "$TMP/eval.out")"
grep -q "accuracy" "$TMP/eval.out" || fail "eval printed no accuracy"
ok
# other weights under the same path: the bundle must refuse them
cp "$FX/tiny_f16/model.safetensors" "$TMP/enc/model.safetensors"
sed -i 's/"num_hidden_layers": 2/"num_hidden_layers": 3/; s/"intermediate_size": 64/"intermediate_size": 48/' "$TMP/enc/config.json"
sed -i 's/"max_seq_length": 24/"max_seq_length": 20/' "$TMP/enc/sentence_bert_config.json"
expect_fail 1 "configured differently" -- "$LOGIFY" classify "$TMP/train.csv" --model "$TMP/bundle" --route '*=model:0' -o "$TMP/out2.csv"
done_checks
