#!/usr/bin/env bash
# cluster.sh - `logify cluster` end to end on the seed data: every output
# file exists and parses, one point per row, the embeddings' shape, the map
# is self-contained and draws one marker per spot (row counts add up), the
# suggested rules compile (`logify rules check`), a
# fixed seed gives the same layout, bad arguments fail clearly.
set -euo pipefail
: "${LOGIFY:?}" "${LOGIFY_SHARED:=$(dirname "$0")/../../../shared}"
data="$LOGIFY_SHARED/datasets/synthetic_logs.csv"
if [ ! -f "$data" ]; then
    echo "SKIP: $data not found (../shared is absent)"
    exit 77
fi
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# short layouts keep the sanitizer run brief; the full run is the benchmark's
"$LOGIFY" cluster --data "$data" --out "$tmp/c" --epochs 40 --no-progress 2> "$tmp/log" ||
    { cat "$tmp/log"; fail "logify cluster failed"; }
cat "$tmp/log"
grep -q "DBSCAN (cosine, eps 0.2, min_samples 1): [0-9]* clusters" "$tmp/log" || fail "no DBSCAN summary"
grep -q "silhouette 0\.[0-9]" "$tmp/log" || fail "no silhouette"
# the seed figures of docs/cluster.md. Template-first (the default): 336
# templates (those of `logify templates`: words that turned <*> before their
# template settled are split back, as 'User <*> logged in.' / 'logged out.'),
# 332 distinct vectors, 294 clusters, silhouette 0.819, a rule per template
# of 5+ rows: 38, one below precision 1.0
grep -q "^logify cluster: 2410 rows, 336 templates" "$tmp/log" || fail "template count changed"
grep -q "^logify cluster: 2410 rows, 332 distinct vectors" "$tmp/log" || fail "distinct vectors changed"
grep -q "): 294 clusters, 0 noise rows, silhouette 0\.819[0-9] " "$tmp/log" || fail "seed clustering figures changed"
grep -q "^suggested rules: 38 (templates of >= 5 rows), 1 with precision < 1.0" "$tmp/log" || fail "seed rule figures changed"
grep -q "^  # template: User User<num> logged in\.$" "$tmp/c/suggested_rules.yaml" &&
    grep -q "^  # template: User User<num> logged out\.$" "$tmp/c/suggested_rules.yaml" ||
    fail "'logged in.' and 'logged out.' are not two templates with a rule each"
grep -q "^  # template [0-9a-f]\{16\} in cluster [0-9]* ([0-9]* rows): coverage" "$tmp/c/suggested_rules.yaml" ||
    fail "rules do not name their template and cluster"
# --by-message (embed each message, a rule per cluster): the figures from
# before templates, unchanged by clustering distinct vectors with weights:
# 340 clusters, silhouette 0.793, 30 rules at precision 1.0
"$LOGIFY" cluster --data "$data" --out "$tmp/m" --epochs 40 --no-progress --by-message 2> "$tmp/mlog" ||
    { cat "$tmp/mlog"; fail "logify cluster --by-message failed"; }
grep -q "^logify cluster: 2410 rows, 408 distinct vectors" "$tmp/mlog" || fail "--by-message: distinct vectors changed"
grep -q "): 340 clusters, 0 noise rows, silhouette 0\.793[0-9] " "$tmp/mlog" || fail "--by-message: clustering figures changed"
grep -q "^suggested rules: 30 (clusters of >= 5 rows), 0 with precision < 1.0" "$tmp/mlog" || fail "--by-message: rule figures changed"
grep -q "^  # cluster [0-9]* ([0-9]* rows): coverage" "$tmp/m/suggested_rules.yaml" || fail "--by-message: rules name clusters"
"$LOGIFY" rules check "$tmp/m/suggested_rules.yaml" >/dev/null || fail "--by-message rules do not check"
for f in points.csv embeddings.npy clusters.csv map.svg map.html suggested_rules.yaml; do
    [ -s "$tmp/c/$f" ] || fail "$f missing or empty"
done

"$PY" - "$data" "$tmp/c" <<'PYEOF'
import csv, struct, sys, re, xml.etree.ElementTree as ET
data, out = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(data, newline="")))
n = len(rows)
pts = list(csv.DictReader(open(f"{out}/points.csv", newline="")))
assert len(pts) == n, (len(pts), n)
assert list(pts[0].keys()) == ["row", "cluster", "x", "y", "target_label", "source", "log_message"], pts[0].keys()
for i, (p, r) in enumerate(zip(pts, rows)):
    assert int(p["row"]) == i + 1
    assert p["log_message"] == r["log_message"] and p["target_label"] == r["target_label"], i
    float(p["x"]), float(p["y"]), int(p["cluster"])
raw = open(f"{out}/embeddings.npy", "rb").read()
assert raw[:6] == b"\x93NUMPY"
hl = struct.unpack("<H", raw[8:10])[0]
hdr = raw[10:10 + hl].decode()
m = re.search(r"'shape': \((\d+), (\d+)\)", hdr)
assert "'<f4'" in hdr and m and int(m.group(1)) == n, hdr
d = int(m.group(2))
assert len(raw) == 10 + hl + 4 * n * d and (10 + hl) % 64 == 0
cl = list(csv.DictReader(open(f"{out}/clusters.csv", newline="")))
assert sum(int(c["size"]) for c in cl) == n
ids = {p["cluster"] for p in pts}
assert {c["id"] for c in cl} == ids, "clusters.csv and points.csv disagree"
assert all(0 < float(c["label_share"]) <= 1 for c in cl)
svg = ET.parse(f"{out}/map.svg").getroot()
circles = svg.findall(".//{http://www.w3.org/2000/svg}circle")
# one marker per spot and label (rows with one vector share their spot),
# plus one legend marker per label
spots = {(p["x"], p["y"], p["target_label"]) for p in pts}
labels = {p["target_label"] for p in pts}
assert len(circles) == len(spots) + len(labels), (len(circles), len(spots), len(labels))
assert len(spots) < n   # the seed data has repeated vectors
html = open(f"{out}/map.html", encoding="utf-8").read()
assert "<script src" not in html and "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
assert html.count('"msg":[') == 1 and "setMode('label')" in html
w = [int(v) for v in re.search(r'"w":\[([0-9,]*)\]', html).group(1).split(",")]
assert sum(w) == n and len(w) < n, (sum(w), len(w))   # markers stand for every row
print(f"ok: {n} points, {d} dims, {len(cl)} clusters, {len(circles)} svg circles")
PYEOF

"$LOGIFY" rules check "$tmp/c/suggested_rules.yaml" || fail "suggested rules do not compile"
grep -q "^version: 1" "$tmp/c/suggested_rules.yaml" || fail "no version"
[ "$(grep -c '^  - id: ' "$tmp/c/suggested_rules.yaml")" -ge 5 ] || fail "fewer than 5 suggested rules"

# same seed, same layout (one thread); another seed, another layout
# (on the first 400 rows' vectors, read back from embeddings.npy, to stay brief)
"$PY" - "$tmp/c/embeddings.npy" "$tmp/e400.npy" <<'PYEOF'
import struct, sys
raw = open(sys.argv[1], "rb").read()
hl = struct.unpack("<H", raw[8:10])[0]
hdr = raw[10:10 + hl].decode()
d = int(hdr.split("'shape': (")[1].split(",")[1].split(")")[0])
new = "{'descr': '<f4', 'fortran_order': False, 'shape': (400, %d), }" % d
new += " " * ((64 - (10 + len(new) + 1) % 64) % 64) + "\n"
open(sys.argv[2], "wb").write(raw[:8] + struct.pack("<H", len(new)) + new.encode() + raw[10 + hl:10 + hl + 400 * d * 4])
PYEOF
"$LOGIFY" cluster --embeddings "$tmp/e400.npy" --out "$tmp/u1" --umap-only --epochs 50 --no-progress 2>/dev/null
"$LOGIFY" cluster --embeddings "$tmp/e400.npy" --out "$tmp/u2" --umap-only --epochs 50 --no-progress 2>/dev/null
"$LOGIFY" cluster --embeddings "$tmp/e400.npy" --out "$tmp/u3" --umap-only --epochs 50 --seed 7 --no-progress 2>/dev/null
[ "$(wc -l < "$tmp/u1/points.csv")" -eq 401 ] || fail "400-row layout: points.csv"
cmp -s "$tmp/u1/points.csv" "$tmp/u2/points.csv" || fail "same seed gave different layouts"
! cmp -s "$tmp/u1/points.csv" "$tmp/u3/points.csv" || fail "another seed gave the same layout"

# a tiny input: no rule worth suggesting still gives a valid (empty) rules file
printf 'log_message\nfirst message\nsecond one here\n' > "$tmp/two.csv"
"$LOGIFY" cluster --data "$tmp/two.csv" --out "$tmp/t" --no-progress 2>/dev/null || fail "two rows failed"
"$LOGIFY" rules check "$tmp/t/suggested_rules.yaml" || fail "empty suggested rules do not load"
[ "$(wc -l < "$tmp/t/points.csv")" -eq 3 ] || fail "two rows: points.csv"

# errors name what is wrong
if "$LOGIFY" cluster --data "$data" --out "$tmp/e" --encoder bogus 2> "$tmp/err"; then fail "bogus encoder accepted"; fi
grep -q "unknown encoder" "$tmp/err" || fail "unclear encoder error: $(cat "$tmp/err")"
if "$LOGIFY" cluster --out "$tmp/e" 2> "$tmp/err"; then fail "missing --data accepted"; fi
grep -q "\-\-data" "$tmp/err" || fail "unclear usage error"
printf 'source,message\nA,x\n' > "$tmp/bad.csv"
if "$LOGIFY" cluster --data "$tmp/bad.csv" --out "$tmp/e" 2> "$tmp/err"; then fail "no log_message accepted"; fi
grep -q "log_message" "$tmp/err" || fail "unclear column error"
# a run that fails after its --out directory was made leaves no partial
# output: a directory it created is removed; one that existed before keeps
# what it held (an earlier run's files)
printf 'log_message\nonly one row\n' > "$tmp/one.csv"
if "$LOGIFY" cluster --data "$tmp/one.csv" --out "$tmp/f1" --no-progress 2> "$tmp/err"; then fail "one row accepted"; fi
grep -q "at least 2 rows" "$tmp/err" || fail "unclear row count error: $(cat "$tmp/err")"
[ ! -e "$tmp/f1" ] || fail "a failed run left the --out directory it created"
if "$LOGIFY" cluster --data "$tmp/one.csv" --out "$tmp/t" --no-progress 2>/dev/null; then fail "one row accepted"; fi
[ "$(wc -l < "$tmp/t/points.csv")" -eq 3 ] && [ -s "$tmp/t/suggested_rules.yaml" ] ||
    fail "a failed run removed an earlier run's files from a directory it did not create"
# an empty directory made before the run is kept too (rmdir would succeed on it)
mkdir "$tmp/empty"
if "$LOGIFY" cluster --data "$tmp/one.csv" --out "$tmp/empty" --no-progress 2>/dev/null; then fail "one row accepted"; fi
[ -d "$tmp/empty" ] || fail "a failed run removed an empty directory it did not create"
[ -z "$(ls -A "$tmp/empty")" ] || fail "a failed run left files in $tmp/empty: $(ls -A "$tmp/empty")"
echo "cluster e2e: OK"
