#!/usr/bin/env bash
# A model bundle damaged or edited by hand is refused with a message naming
# the file and the field (src/model/bundle.c), through the real binary
# (`logify eval --model`): each field of an SVM bundle's meta.json
# (classifier, weights, centroids, open set, training), and the binary
# files — truncated, bad magic, another shape, corrupted, NaN values and
# out-of-order offsets written with a matching checksum (so the value
# checks, not the checksum, must catch them). Nothing is half-loaded: each
# case exits 1 and prints no report. unit.test_bundle covers the logreg
# bundle's own fields with a bundle made in memory.
source "$(dirname "$0")/../lib.sh"

{
  echo "source,log_message,target_label"
  for i in $(seq 1 15); do
    echo "S,Disk $i on node $((i * 7)) failed hard,Error"
    echo "S,User u$i changed password,Security"
    echo "S,Backup job $i finished fine,Notice"
  done
} >"$TMP/lab.csv"
"$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/svm" --classifier svm --route '*=model' >/dev/null 2>"$TMP/err" ||
  fail "train svm: $(cat "$TMP/err")"
"$LOGIFY" eval --data "$TMP/lab.csv" --model "$TMP/svm" --route '*=model' >/dev/null 2>"$TMP/err" ||
  fail "the bundle as written does not load: $(cat "$TMP/err")"

# damaged NAME NEEDLE PYTHON: copies the bundle to $TMP/NAME, runs PYTHON
# there (meta = meta.json as a dict, written back afterwards; helpers
# below), then expects eval to fail with NEEDLE on stderr.
damaged() {
  local name=$1 needle=$2 code=$3
  rm -rf "$TMP/$name"
  cp -r "$TMP/svm" "$TMP/$name"
  python3 - "$TMP/$name" "$code" <<'PY' || fail "edit $1 did not apply"
import json, struct, sys
d, code = sys.argv[1], sys.argv[2]
meta = json.load(open(d + "/meta.json"))
def fnv(b):
    h = 1469598103934665603
    for c in b:
        h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h
def rewrite(name, key, fn):  # edits a binary file, keeps meta.json's checksum true
    b = bytearray(open(d + "/" + name, "rb").read())
    fn(b)
    open(d + "/" + name, "wb").write(b)
    meta[key]["fnv1a64"] = fnv(b)
exec(code)
json.dump(meta, open(d + "/meta.json", "w"), indent=2)
PY
  expect_fail 1 "$needle" -- "$LOGIFY" eval --data "$TMP/lab.csv" --model "$TMP/$name" --route '*=model'
  [[ ! -s "$TMP/out" ]] || fail "$name: a report was printed: $(head -3 "$TMP/out")"
}

M="meta.json:"
# ---- meta.json
damaged fmtver "$M \"format_version\" missing or not an integer" 'meta["format_version"] = "2"'
damaged label1 "$M label 1 is not a non-empty string of at most" 'meta["labels"][1] = 7'
damaged longlabel "$M label 2 is not a non-empty string of at most" 'meta["labels"][2] = "x" * 5000'
damaged nclasses "$M \"classifier.n_classes\" does not match the 3 labels" 'meta["classifier"]["n_classes"] = "3"'
damaged dim "$M \"classifier.dim\" must be an integer in 1..16777216" 'meta["classifier"]["dim"] = 16777217'
damaged nnz "$M \"classifier.nnz\" must be a non-negative integer" 'meta["classifier"]["nnz"] = -1'
damaged cand "$M \"classifier.candidates\" must be a positive integer" 'meta["classifier"]["candidates"] = 0'
damaged platt "$M \"classifier.platt_a\" and \"platt_b\" must be numbers" 'meta["classifier"]["platt_b"] = None'
damaged wfile "$M \"weights.file\" must be \"weights.bin\"" 'del meta["weights"]["file"]'
damaged wbytes "$M \"weights.bytes\" does not match 3 classes x dim 32768" 'meta["weights"]["bytes"] += 4'
damaged wsum "$M \"weights.fnv1a64\" must be 16 lower-case hex digits" 'meta["weights"]["fnv1a64"] = meta["weights"]["fnv1a64"].upper()'
damaged cfile "$M \"centroids.file\" must be \"centroids.bin\"" 'meta["centroids"]["file"] = "/etc/passwd"'
damaged cnnz "$M \"centroids.nnz\" must be a non-negative integer" 'meta["centroids"]["nnz"] = 1.5'
damaged cbytes "$M \"centroids.bytes\" does not match 3 classes" 'meta["centroids"]["bytes"] -= 4'
damaged csum "$M \"centroids.fnv1a64\" must be 16 lower-case hex digits" 'meta["centroids"]["fnv1a64"] = "00"'
damaged unk "$M \"open_set.unknown_threshold\" must be a number in [0, 1]" 'meta["open_set"]["unknown_threshold"] = 1.5'
damaged nocent "$M \"centroids\" missing (an ovr_linear_svm bundle needs them)" 'del meta["centroids"]'
damaged training "$M \"training\" must be an object" 'meta["training"] = ["rows", 45]'
# ---- the binary files
damaged wtrunc "weights.bin: 5000 bytes, meta.json says" \
  'open(d + "/weights.bin", "r+b").truncate(5000)'
damaged cmagic "centroids.bin: bad magic (not a Logify LGFYC002 file, or another format version)" \
  'rewrite("centroids.bin", "centroids", lambda b: b.__setitem__(slice(0, 8), b"LGFYC001"))'
damaged cshape "centroids.bin: shape does not match meta.json (3 classes x dim 32768" \
  'rewrite("centroids.bin", "centroids", lambda b: b.__setitem__(slice(12, 16), struct.pack("<I", 16384)))'
damaged wshape "weights.bin: shape does not match meta.json" \
  'rewrite("weights.bin", "weights", lambda b: b.__setitem__(slice(8, 12), struct.pack("<I", 4)))'
damaged csumbad "centroids.bin: checksum mismatch (the file is corrupted)" \
  'b = bytearray(open(d + "/centroids.bin", "rb").read()); b[-1] ^= 1; open(d + "/centroids.bin", "wb").write(b)'
damaged cnan "centroids.bin: value 0 is not finite" \
  'rewrite("centroids.bin", "centroids", lambda b: b.__setitem__(slice(len(b) - 4 * meta["centroids"]["nnz"], len(b) - 4 * meta["centroids"]["nnz"] + 4), struct.pack("<f", float("inf"))))'
damaged wbias "weights.bin: bias 2 is not finite" \
  'rewrite("weights.bin", "weights", lambda b: b.__setitem__(slice(len(b) - 4, len(b)), struct.pack("<f", float("nan"))))'
damaged coffs "centroids.bin: bad offsets" \
  'rewrite("centroids.bin", "centroids", lambda b: b.__setitem__(slice(24 + 8, 24 + 16), struct.pack("<Q", meta["centroids"]["nnz"] + 1)))'
damaged nocfile "centroids.bin: missing" 'import os; os.remove(d + "/centroids.bin")'

# ---- writing: --out where no directory can be made; nothing half-written
: >"$TMP/afile"
expect_fail 1 "cannot create $TMP/afile/b: Not a directory" -- \
  "$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/afile/b"
done_checks
