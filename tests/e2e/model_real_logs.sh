#!/usr/bin/env bash
# The model stage on generated real-looking logs (tests/gen/gen_real_logs.py,
# small sizes so the test takes seconds): more than 256 labels with a long
# tail (1-row labels trained on), train on some systems and `logify eval` on
# fresh lines of them (accuracy), on systems never seen (>= 90%
# Unclassified, "unlike any training line"), and the reports' standard
# definitions in `eval --json`.
source "$(dirname "$0")/../lib.sh"
GEN=(python3 "$LOGIFY_ROOT/tests/gen/gen_real_logs.py" --labels-per-system 50)
SEEN=HDFS,Hadoop,Spark,Zookeeper,Apache,Linux,BGL,OpenStack
HELD=Android,Windows,HealthApp  # no template shared with the seen ones (OpenSSH shares pam_unix lines with Linux)
"${GEN[@]}" --systems "$SEEN" --lines-per-system 400 --seed 1 --out "$TMP/train.csv"
"${GEN[@]}" --systems "$SEEN" --lines-per-system 100 --seed 2 --out "$TMP/fresh.csv"
"${GEN[@]}" --systems "$HELD" --lines-per-system 150 --seed 3 --out "$TMP/unseen.csv"
printf 'rules: []\n' >"$TMP/norules.yaml"
R=(--rules "$TMP/norules.yaml" --route '*=model')

"$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/m" "${R[@]}" --json >"$TMP/t.json" 2>"$TMP/t.err" ||
  fail "train: $(cat "$TMP/t.err")"
python3 - "$TMP/t.json" "$TMP/train.csv" <<'PY' || fail "train figures: $(head -c 1500 "$TMP/t.json")"
import collections, csv, json, sys
j = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
counts = collections.Counter(r["target_label"] for r in rows)
assert len(counts) > 256, len(counts)                 # past the old cap
assert j["labels"] == sorted(counts), "every label is learned, 1-row ones too"
assert sum(1 for c in counts.values() if c == 1) > 0
assert j["rare_label_count"] == 0 and j["training_rows"] == len(rows)
assert j["classifier"] == "ovr_linear_svm", j["classifier"]
assert j["feature_weights"] == "purity" and j["C"] == 100, (j["feature_weights"], j["C"])
assert j["encoder"].endswith(",text=1,pos=3,hdr=1"), j["encoder"]  # the svm's encoder: headers apart
assert j["source_feature"] == 0.1, j.get("source_feature")  # 8 sources: on
assert j["test"]["accuracy"] >= 0.9, j["test"]["accuracy"]
PY
ok
# the feature weights and the source feature travel in the bundle (format version 4)
grep -q '"format_version": 4' "$TMP/m/meta.json" || fail "format_version: $(head -5 "$TMP/m/meta.json")"
[ -s "$TMP/m/features.bin" ] || fail "no features.bin"
ok
"$LOGIFY" eval --data "$TMP/fresh.csv" --model "$TMP/m" "${R[@]}" --json >"$TMP/fresh.json" 2>/dev/null ||
  fail "eval fresh"
"$LOGIFY" eval --data "$TMP/unseen.csv" --model "$TMP/m" "${R[@]}" --json >"$TMP/unseen.json" 2>/dev/null ||
  fail "eval unseen"
python3 - "$TMP/fresh.json" "$TMP/unseen.json" <<'PY' || fail "eval figures: $(head -c 600 "$TMP/fresh.json") $(head -c 600 "$TMP/unseen.json")"
import json, sys
f = json.load(open(sys.argv[1])); u = json.load(open(sys.argv[2]))
assert f["accuracy"] >= 0.85, f["accuracy"]           # seen systems keep their accuracy
assert "union of true and predicted" in f["definitions"], f["definitions"]
share = u["unclassified"]["rows"] / u["rows"]
assert share >= 0.9, (share, u["unclassified"])      # systems never seen: Unclassified
assert u["unclassified"]["reasons"].get("unlike any training line", 0) > 0.8 * u["rows"], u["unclassified"]
assert u["accuracy"] == 0.0 and u["macro_f1"] == 0.0  # every true label unknown
assert "Unclassified" in u["per_label"]
PY
ok
# the reason in detail, with the similarity and the threshold
"$LOGIFY" classify "$TMP/unseen.csv" --model "$TMP/m" "${R[@]}" --explain 2>/dev/null >"$TMP/u.csv"
grep -qE ',Unclassified,none,,unlike any training line: similarity 0\.[0-9]{2} < 0\.[0-9]{2},[0-9a-f]{16}$' "$TMP/u.csv" ||
  fail "detail: $(head -5 "$TMP/u.csv")"
ok
