#!/usr/bin/env bash
# A model directory whose vocabulary is tokenizer.json instead of vocab.txt
# (tests/fixtures/bert/tiny_tokjson: tiny_mean's weights, linked, and a
# tokenizer.json written by scripts/gen_tokenizer_json.py from tiny_mean's
# vocab.txt + tokenizer_config.json, in all-MiniLM-L6-v2's shape with
# truncation and padding at 128):
# - the committed tokenizer.json is what the generator writes today;
# - `logify model tokenize` and `logify embed` give byte-identical output
#   to tiny_mean (vocab.txt), and the vectors match tiny_mean's PyTorch
#   reference; `model info` names tokenizer.json;
# - sentence_bert_config.json's max_seq_length wins over the file's
#   truncation; without it, truncation.max_length applies;
# - with vocab.txt and tokenizer.json both present, vocab.txt is used;
# - BPE, a Whitespace pre-tokenizer and a directory with neither file are
#   refused with messages naming the file and the field;
# - `logify model pull` of a hub model without vocab.txt fetches
#   tokenizer.json (tests/fixtures/bert/hub_server.py on 127.0.0.1);
# - train + classify with --encoder sbert:DIR, and the bundle refuses the
#   directory once its tokenizer.json changed (the config hash covers it).
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
TJ="$FX/tiny_tokjson"
GEN="$LOGIFY_ROOT/scripts/gen_tokenizer_json.py"
if ! command -v python3 >/dev/null; then
  echo "SKIP: python3 is absent (the generator and compare.py need it)" >&2
  exit 77
fi
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# the committed fixture is the generator's output
python3 "$GEN" "$FX/tiny_mean/vocab.txt" "$FX/tiny_mean/tokenizer_config.json" -o "$TMP/tj.json" \
  --max-length 128 --padding 128 2>/dev/null
cmp -s "$TMP/tj.json" "$TJ/tokenizer.json" || fail "tiny_tokjson/tokenizer.json differs from the generator's"
[[ ! -e "$TJ/vocab.txt" ]] || fail "tiny_tokjson must not hold vocab.txt"
ok

# same ids and same vectors as the vocab.txt fixture
python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["texts"]]' \
  "$FX/tiny_mean/reference.json" >"$TMP/in.txt"
printf '%s\n' "a [SEP] b [MASK]x [cls]" "Ünïcödé İstanbul 中文字符" "tab	sep ctrl$(printf '\001')x" >>"$TMP/in.txt"
"$LOGIFY" model tokenize "$FX/tiny_mean" <"$TMP/in.txt" >"$TMP/tok_vocab.txt"
"$LOGIFY" model tokenize "$TJ" <"$TMP/in.txt" >"$TMP/tok_json.txt"
cmp -s "$TMP/tok_vocab.txt" "$TMP/tok_json.txt" || fail "token ids differ: $(diff "$TMP/tok_vocab.txt" "$TMP/tok_json.txt" | head -5)"
ok
# byte for byte needs one projection kernel on both sides: forced, so that
# the check is the same on every CPU (the packed kernel and OpenBLAS
# differ by ~1e-7 on a tiny model; docs/bert.md)
for args in "--batch 1 --threads 1" "--batch 64 --threads 2"; do
  # shellcheck disable=SC2086
  LOGIFY_SBERT_GEMM=packed "$LOGIFY" embed --model "$FX/tiny_mean" $args <"$TMP/in.txt" >"$TMP/emb_vocab.txt"
  # shellcheck disable=SC2086
  LOGIFY_SBERT_GEMM=packed "$LOGIFY" embed --model "$TJ" $args <"$TMP/in.txt" >"$TMP/emb_json.txt"
  cmp -s "$TMP/emb_vocab.txt" "$TMP/emb_json.txt" || fail "vectors differ ($args)"
  ok
done
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["texts"]))' "$FX/tiny_mean/reference.json")
head -n "$n" "$TMP/emb_json.txt" >"$TMP/emb_ref.txt"
head -n "$n" "$TMP/tok_json.txt" >"$TMP/tok_ref.txt"
echo -n "tiny_tokjson vs tiny_mean's reference: "
python3 "$FX/compare.py" "$TMP/emb_ref.txt" "$TMP/tok_ref.txt" "$FX/tiny_mean/reference.json" || fail "reference"
echo "$(wc -l <"$TMP/in.txt") texts: ids and vectors byte-identical to the vocab.txt fixture"
ok
"$LOGIFY" model info "$TJ" >"$TMP/info"
grep -q "max_seq_length 24, .*uncased tokenizer from tokenizer.json" "$TMP/info" || fail "info: $(cat "$TMP/info")"
ok

# truncation.max_length applies when sentence_bert_config.json does not say
cp -rL "$TJ" "$TMP/trunc"
rm "$TMP/trunc/sentence_bert_config.json"
python3 "$GEN" "$FX/tiny_mean/vocab.txt" "$FX/tiny_mean/tokenizer_config.json" \
  -o "$TMP/trunc/tokenizer.json" --max-length 10 2>/dev/null
"$LOGIFY" model info "$TMP/trunc" | grep -q "max_seq_length 10," || fail "truncation.max_length not used"
"$LOGIFY" model tokenize "$TMP/trunc" <"$TMP/in.txt" >"$TMP/tok10.txt"
python3 - "$TMP/tok10.txt" "$TMP/tok_json.txt" <<'EOF' || fail "truncated ids"
import json, sys
short = [json.loads(l)["ids"] for l in open(sys.argv[1])]
full = [json.loads(l)["ids"] for l in open(sys.argv[2])]
for s, f in zip(short, full):
    want = f if len(f) <= 10 else f[:9] + [f[-1]]
    assert s == want, (s, f)
assert any(len(f) > 10 for f in full)
EOF
ok

# both files: vocab.txt + tokenizer_config.json win (a cased tokenizer.json is ignored)
cp -rL "$FX/tiny_mean" "$TMP/both"
echo '{"do_lower_case": false}' >"$TMP/cased.json"
python3 "$GEN" "$FX/tiny_mean/vocab.txt" "$TMP/cased.json" -o "$TMP/both/tokenizer.json" 2>/dev/null
"$LOGIFY" model tokenize "$TMP/both" <"$TMP/in.txt" | cmp -s - "$TMP/tok_vocab.txt" || fail "both: ids differ"
"$LOGIFY" model info "$TMP/both" | grep -q "uncased tokenizer from vocab.txt" || fail "both: info"
ok

# the sbert:DIR encoder: train + classify; the bundle's config hash covers
# tokenizer.json, so a changed tokenizer.json is refused (no tokenizer_config.json
# here: the file's lowercase is what counts)
cp -rL "$TJ" "$TMP/enc"
{
  echo "source,log_message,target_label"
  for i in $(seq 1 10); do
    echo "ModernCRM,Disk /dev/sda$i is $((80 + i))% full,Resource Usage"
    echo "ModernCRM,Multiple login failures for user $i,Security Alert"
  done
} >"$TMP/train.csv"
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/bundle" --encoder "sbert:$TMP/enc" \
  --min-label-rows 2 >"$TMP/train.out" 2>&1 || fail "train: $(cat "$TMP/train.out")"
"$LOGIFY" classify "$TMP/train.csv" --model "$TMP/bundle" --route '*=model:0' -o "$TMP/out.csv" \
  2>"$TMP/err" || fail "classify: $(cat "$TMP/err")"
[[ $(wc -l <"$TMP/out.csv") -eq 21 ]] || fail "classify output rows: $(wc -l <"$TMP/out.csv")"
sed -i 's/"lowercase": true/"lowercase": false/' "$TMP/enc/tokenizer.json"
expect_fail 1 "configured differently" -- "$LOGIFY" classify "$TMP/train.csv" --model "$TMP/bundle" \
  --route '*=model:0' -o "$TMP/out2.csv"
"$LOGIFY" model info "$TMP/enc" | grep -q " cased tokenizer from tokenizer.json" || fail "cased info"
ok

# refusals
cp -rL "$TJ" "$TMP/bpe"
python3 - "$TMP/bpe/tokenizer.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["model"]["type"] = "BPE"
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_fail 1 "$TMP/bpe/tokenizer.json: model.type is 'BPE'; only WordPiece (BERT) tokenizers are supported" \
  -- "$LOGIFY" embed --model "$TMP/bpe"
cp -rL "$TJ" "$TMP/ws"
python3 - "$TMP/ws/tokenizer.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["pre_tokenizer"] = {"type": "Whitespace"}
json.dump(d, open(sys.argv[1], "w"))
EOF
expect_fail 1 "tokenizer.json: pre_tokenizer.type 'Whitespace' is not supported" \
  -- "$LOGIFY" model tokenize "$TMP/ws"
rm "$TMP/ws/tokenizer.json"
expect_fail 1 "vocab.txt: missing, and no tokenizer.json either" -- "$LOGIFY" model info "$TMP/ws"

# model pull: vocab.txt answers 404, tokenizer.json is fetched
rm -f "$TMP/port"
python3 "$FX/hub_server.py" "$TJ" acme/tokjson "$TMP/port" "$TMP/hub.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
[[ -s "$TMP/port" ]] || fail "hub server did not start"
HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")" "$LOGIFY" model pull acme/tokjson --dir "$TMP/pulled" \
  2>"$TMP/pull.err" || fail "pull: $(cat "$TMP/pull.err")"
[[ -f "$TMP/pulled/tokenizer.json" && ! -e "$TMP/pulled/vocab.txt" ]] || fail "pull: files"
cmp -s "$TJ/tokenizer.json" "$TMP/pulled/tokenizer.json" || fail "pull: tokenizer.json differs"
grep -q "/resolve/main/vocab.txt" "$TMP/hub.log" || fail "pull did not ask for vocab.txt first"
"$LOGIFY" model tokenize "$TMP/pulled" <"$TMP/in.txt" | cmp -s - "$TMP/tok_vocab.txt" || fail "pulled: ids"
ok
# a hub model with neither file
mkdir -p "$TMP/novocab/1_Pooling"
cp "$TJ"/{config.json,modules.json} "$TMP/novocab/"
cp "$TJ/1_Pooling/config.json" "$TMP/novocab/1_Pooling/"
rm -f "$TMP/port"
python3 "$FX/hub_server.py" "$TMP/novocab" acme/novocab "$TMP/port" "$TMP/hub2.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
[[ -s "$TMP/port" ]] || fail "hub server did not start"
HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")" expect_fail 1 "neither vocab.txt nor tokenizer.json found" \
  -- "$LOGIFY" model pull acme/novocab --dir "$TMP/pulled2"
done_checks
