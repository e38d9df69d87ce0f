#!/usr/bin/env bash
# The source column as a feature of the model (docs/model.md, "The source
# column"): two systems write the very same line under different labels
# (Linux and Thunderbird's pam_unix "session closed ..."); with the
# source feature (`train --source-feature auto`, on here: 36 labels, svm,
# 2+ sources) `classify` tells them apart by source, through the stage;
# with `--source-feature off` one label wins both; a row with an empty
# source is still answered; a bundle with it is format version 4.
source "$(dirname "$0")/../lib.sh"
python3 - "$TMP/train.csv" "$TMP/test.csv" <<'PY'
import csv, random, sys
r = random.Random(7)
words = "alpha beta gamma delta kappa sigma orion vega lyra atlas hydra falcon raven cobalt".split()
def rows(n):
    out = []
    for k in range(34):  # 34 labels of one system each: the svm (more than 32)
        src = "Sys%d" % (k % 4)
        for _ in range(n):
            out.append((src, "event %s %s happened on node%d code %d" % (
                words[k % 14], words[(k * 5 + 3) % 14], r.randint(1, 99), k), "%s-E%d" % (src, k)))
    for _ in range(n):
        u = r.choice(["bob", "carol", "dave"])
        out.append(("Linux", "session closed for user %s by (uid=0)" % u, "Linux-E4"))
        out.append(("Thunderbird", "session closed for user %s by (uid=0)" % u, "Thunderbird-E5"))
    return out
for path, n in ((sys.argv[1], 6), (sys.argv[2], 3)):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "log_message", "target_label"])
        w.writerows(rows(n))
PY
printf 'rules: []\n' >"$TMP/norules.yaml"
R=(--rules "$TMP/norules.yaml" --route '*=model')
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/m" "${R[@]}" --json >"$TMP/t.json" 2>"$TMP/t.err" ||
  fail "train: $(cat "$TMP/t.err")"
grep -q '"format_version": 4' "$TMP/m/meta.json" || fail "format_version: $(head -3 "$TMP/m/meta.json")"
grep -q '"source_feature": 0.1' "$TMP/t.json" || fail "no source_feature in the figures"
ok
"$LOGIFY" classify "$TMP/test.csv" --model "$TMP/m" "${R[@]}" -o "$TMP/p.csv" 2>/dev/null || fail classify
python3 - "$TMP/test.csv" "$TMP/p.csv" <<'PY' || fail "with the source feature"
import csv, sys
t = list(csv.DictReader(open(sys.argv[1]))); p = list(csv.DictReader(open(sys.argv[2])))
shared = [(a["target_label"], b["target_label"]) for a, b in zip(t, p) if a["source"] in ("Linux", "Thunderbird")]
assert len(shared) == 6 and all(x == y for x, y in shared), shared
acc = sum(a["target_label"] == b["target_label"] for a, b in zip(t, p)) / len(t)
assert acc == 1.0, acc
PY
ok
# without it the shared line gets one label from both systems
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/m0" "${R[@]}" --source-feature off --json \
  >"$TMP/t0.json" 2>/dev/null || fail "train off"
grep -q '"format_version": 3' "$TMP/m0/meta.json" || fail "off: format_version"
"$LOGIFY" classify "$TMP/test.csv" --model "$TMP/m0" "${R[@]}" -o "$TMP/p0.csv" 2>/dev/null || fail classify
python3 - "$TMP/test.csv" "$TMP/p0.csv" <<'PY' || fail "without the source feature"
import csv, sys
t = list(csv.DictReader(open(sys.argv[1]))); p = list(csv.DictReader(open(sys.argv[2])))
got = {b["target_label"] for a, b in zip(t, p) if a["source"] in ("Linux", "Thunderbird")}
assert len(got) == 1, got
PY
ok
# a row without a source is answered (the line's words alone)
printf 'source,log_message\n,event alpha delta happened on node7 code 0\n' >"$TMP/nosrc.csv"
"$LOGIFY" classify "$TMP/nosrc.csv" --model "$TMP/m" "${R[@]}" 2>/dev/null | grep -q ',Sys0-E0$' ||
  fail "empty source: $("$LOGIFY" classify "$TMP/nosrc.csv" --model "$TMP/m" "${R[@]}" 2>&1)"
ok
# on without feature weights is refused
"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/m1" "${R[@]}" --source-feature on \
  --feature-weights none 2>"$TMP/e1" && fail "on + none accepted"
grep -q "needs feature weights" "$TMP/e1" || fail "message: $(cat "$TMP/e1")"
ok
echo "model_source: $CHECKS checks passed"
