#!/usr/bin/env bash
# cluster_large.sh - `logify cluster` beyond the old 200,000-row cap: a
# generated log file of 260,000 rows (2,000-odd distinct lines, a few
# hundred distinct embedding vectors) used to be refused; now it clusters,
# and what it gives is what the file of its distinct lines (first
# occurrence of each, in order) gives: the same cluster ids and the same
# coordinates for every row (DBSCAN with min_samples 1 does not depend on
# multiplicities, and UMAP runs on the same distinct vectors), one point per
# input row in input order, cluster sizes and rule coverage counted in rows.
# The cap now counts distinct vectors: 200,001 distinct ones are refused
# with a message that says so.
set -euo pipefail
: "${LOGIFY:?}" "${LOGIFY_ROOT:=$(dirname "$0")/../..}"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$PY" "$LOGIFY_ROOT/tests/e2e/gen_cluster_logs.py" 260000 "$tmp/big.csv" 3 1.0 3000
awk '!seen[$0]++' "$tmp/big.csv" > "$tmp/distinct.csv"
# --dims 64 keeps embeddings.npy (rows x dims floats) small; short layouts
# --by-message: the property is about identical messages (template-first
# would fold the lines of one template, which this does not test)
opts=(--dims 64 --epochs 30 --no-progress --by-message)
"$LOGIFY" cluster --data "$tmp/big.csv" --out "$tmp/b" "${opts[@]}" 2> "$tmp/log" ||
    { cat "$tmp/log"; fail "260,000 rows refused"; }
cat "$tmp/log"
"$LOGIFY" cluster --data "$tmp/distinct.csv" --out "$tmp/u" "${opts[@]}" 2> "$tmp/ulog" ||
    { cat "$tmp/ulog"; fail "distinct lines failed"; }
grep -q "^logify cluster: 260000 rows, [0-9]* distinct vectors" "$tmp/log" || fail "no distinct count"
"$LOGIFY" rules check "$tmp/b/suggested_rules.yaml" || fail "suggested rules do not compile"

"$PY" - "$tmp" <<'PYEOF'
import csv, re, struct, sys
tmp = sys.argv[1]
rows = list(csv.DictReader(open(f"{tmp}/big.csv", newline="")))
n = len(rows)
pts = list(csv.DictReader(open(f"{tmp}/b/points.csv", newline="")))
assert len(pts) == n == 260000, (len(pts), n)
upts = list(csv.DictReader(open(f"{tmp}/u/points.csv", newline="")))
key = lambda r: (r["source"], r["log_message"], r["target_label"])
first = {key(p): p for p in upts}
assert len(first) == len(upts), "distinct.csv has repeated lines"
seen_ids = set()
for i, (p, r) in enumerate(zip(pts, rows)):
    assert int(p["row"]) == i + 1, i
    assert key(p) == key(r), f"row {i + 1}: not in input order"
    u = first[key(p)]
    # the same cluster id (first-core-row numbering) and the same layout
    assert p["cluster"] == u["cluster"], f"row {i + 1}: cluster {p['cluster']} vs {u['cluster']} on distinct lines"
    assert (p["x"], p["y"]) == (u["x"], u["y"]), f"row {i + 1}: coordinates differ from the distinct run"
    seen_ids.add(p["cluster"])
# embeddings.npy: one row per input row
raw = open(f"{tmp}/b/embeddings.npy", "rb").read(128)
hl = struct.unpack("<H", raw[8:10])[0]
m = re.search(r"'shape': \((\d+), (\d+)\)", raw[10:10 + hl].decode())
assert m and int(m.group(1)) == n and int(m.group(2)) == 64, m
# clusters.csv counts rows
cl = list(csv.DictReader(open(f"{tmp}/b/clusters.csv", newline="")))
assert sum(int(c["size"]) for c in cl) == n
sizes = {}
for p in pts:
    sizes[p["cluster"]] = sizes.get(p["cluster"], 0) + 1
assert {c["id"]: int(c["size"]) for c in cl} == sizes, "clusters.csv sizes are not row counts"
# suggested rules: coverage = rows of big.csv the pattern matches
text = open(f"{tmp}/b/suggested_rules.yaml").read()
rules = re.findall(r"label: '((?:[^']|'')*)'\n    pattern: '((?:[^']|'')*)'\n    description: '[^']*coverage (\d+) rows[^']*\((\d+)/(\d+)\)", text)
assert len(rules) >= 20, len(rules)
msgs = {}
for r in rows:
    msgs.setdefault(r["log_message"], []).append(r["target_label"])
for label, pat, cov, correct, _ in rules[:25]:
    rx = re.compile(pat.replace("''", "'"))
    label = label.replace("''", "'")
    hit = [l for mm, ls in msgs.items() if rx.search(mm) for l in ls]
    assert len(hit) == int(cov), (pat, len(hit), cov)
    assert sum(l == label for l in hit) == int(correct), (pat, correct)
print(f"ok: {n} rows, {len(upts)} distinct lines, {len(seen_ids)} clusters, same ids and coordinates as the distinct run; {len(rules)} rules, coverage in rows checked on 25")
PYEOF

# the cap counts distinct vectors: 200,001 distinct 2-d rows are refused
"$PY" - "$tmp/many.npy" <<'PYEOF'
import struct, sys, math
n = 200001
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 2), }" % n
hdr += " " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    f.write(b"".join(struct.pack("<ff", math.cos(i * 1e-5), math.sin(i * 1e-5)) for i in range(n)))
PYEOF
if "$LOGIFY" cluster --embeddings "$tmp/many.npy" --out "$tmp/m" --no-progress 2> "$tmp/err"; then
    fail "200,001 distinct vectors accepted"
fi
cat "$tmp/err"
grep -q "distinct" "$tmp/err" && grep -q "200000" "$tmp/err" || fail "cap error does not say it counts distinct vectors"
# every row the same vector: one distinct vector, no UMAP to run, all at (0, 0)
printf 'log_message,target_label\nUser 12 logged in,A\nUser 13 logged in,A\nUser 14 logged in,B\n' > "$tmp/same.csv"
"$LOGIFY" cluster --data "$tmp/same.csv" --out "$tmp/s" --no-progress 2> "$tmp/slog" ||
    { cat "$tmp/slog"; fail "one distinct vector failed"; }
grep -q "3 rows, 1 distinct vectors" "$tmp/slog" || fail "one distinct vector: $(cat "$tmp/slog")"
[ "$(grep -c '^[0-9],0,0.00000,0.00000,' "$tmp/s/points.csv")" -eq 3 ] || fail "one distinct vector: points.csv"
echo "cluster_large e2e: OK"
