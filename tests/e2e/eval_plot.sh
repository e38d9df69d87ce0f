#!/usr/bin/env bash
# `logify eval --plot FILE.svg`: the SVG parses as XML, holds one cell per
# non-empty (true, predicted) pair whose count equals the eval JSON's
# confusion, and per-label precision / recall / F1 / support equal to its
# per_label figures; with 9 labels and with 200 (hash models trained here
# on generated data, some label names full of XML/HTML specials: they
# must come back as text, never as elements). Then errors: an unwritable
# plot path fails and leaves nothing behind.
source "$(dirname "$0")/../lib.sh"
GEN="$LOGIFY_ROOT/tests/gen/gen_labeled.py"

check_plot() { # check_plot SVG JSON N_LABELS
  python3 - "$@" <<'PY'
import json, sys, xml.etree.ElementTree as ET
svg_path, json_path, n_labels = sys.argv[1], sys.argv[2], int(sys.argv[3])
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(svg_path).getroot()  # raises on anything that is not XML
j = json.load(open(json_path))
conf = j["confusion"]
# every element is an SVG one: a label never became markup
tags = {e.tag for e in root.iter()}
assert tags <= {NS + t for t in ("svg", "rect", "text", "title", "g", "line")}, tags
cells = {}
for e in root.iter(NS + "rect"):
    if e.get("class") != "cell":
        continue
    key = (e.get("data-truth"), e.get("data-pred"))
    assert key not in cells, "two cells for %r" % (key,)
    rows = int(e.get("data-rows"))
    title = e.find(NS + "title").text
    assert title.startswith("%s -> %s: %d rows" % (key[0], key[1], rows)), title
    cells[key] = (rows, e)
want = {(t, p): n for t, row in conf.items() for p, n in row.items()}
assert set(cells) == set(want), "cells %d vs confusion %d; missing %s extra %s" % (
    len(cells), len(want), sorted(set(want) - set(cells))[:3], sorted(set(cells) - set(want))[:3])
for k, n in want.items():
    assert cells[k][0] == n, (k, cells[k][0], n)
assert sum(want.values()) == j["rows"], (sum(want.values()), j["rows"])
# the counts printed in cells (where they fit) say the same
size = float(next(iter(cells.values()))[1].get("width"))
for t in root.iter(NS + "text"):
    if t.get("class") == "count":
        x, y = float(t.get("x")), float(t.get("y"))
        hit = [r for r, e in cells.values()
               if float(e.get("x")) <= x <= float(e.get("x")) + size
               and float(e.get("y")) <= y <= float(e.get("y")) + size]
        assert hit == [int(t.text)], (t.text, hit)
# the axes: every label of the report, once down and once across
per = j["per_label"]
assert len(per) == j["labels_in_macro"]
truth_labels = [t.find(NS + "title").text for t in root.iter(NS + "text") if t.get("class") == "truth-label"]
pred_labels = [t.find(NS + "title").text for t in root.iter(NS + "text") if t.get("class") == "pred-label"]
assert sorted(truth_labels) == sorted(per) == sorted(pred_labels), (len(truth_labels), len(per))
assert len(per) >= n_labels, (len(per), n_labels)
assert int(root.get("data-labels")) == len(per)
# the metrics column: the JSON's figures
seen = 0
for g in root.iter(NS + "g"):
    if g.get("class") != "label-metrics":
        continue
    m = per[g.get("data-label")]
    for k in ("precision", "recall", "f1"):
        assert abs(float(g.get("data-" + k)) - m[k]) < 1e-4, (g.get("data-label"), k)
    assert int(g.get("data-support")) == m["support"]
    seen += 1
assert seen == len(per)
# legible: cells no smaller than 7 px, the picture no larger than ~2,500 px
w, h = float(root.get("width")), float(root.get("height"))
assert size >= 7 and w < 2600 and h < 2600, (size, w, h)
print("plot ok: %d labels, %d cells, cell %.0f px, %.0fx%.0f" % (len(per), len(cells), size, w, h))
PY
}

for n in 9 200; do
  rows=$((n <= 9 ? n * 40 : n * 10))
  python3 "$GEN" "$n" "$rows" 11 --hostile >"$TMP/d$n.csv"
  # --feature-weights none: the SVM's purity weights (and C 100) answer this
  # generator's 200 labels too well (27 mistaken cells) to test a plot of many
  # mistakes; unweighted features leave ~90
  "$LOGIFY" train --data "$TMP/d$n.csv" --out "$TMP/m$n" --seed 1 --encoder hash:text=1 --feature-weights none >/dev/null
  "$LOGIFY" eval --data "$TMP/d$n.csv" --model "$TMP/m$n" --json --plot "$TMP/p$n.svg" >"$TMP/e$n.json"
  check_plot "$TMP/p$n.svg" "$TMP/e$n.json" "$n" || fail "plot with $n labels"
  # the hostile names are in the figure as text
  grep -qF '&lt;/script&gt;&lt;script&gt;alert(7)' "$TMP/p$n.svg" || fail "$n labels: escaped name missing"
  if grep -q '<script' "$TMP/p$n.svg" || grep -q '<b>' "$TMP/p$n.svg"; then fail "$n labels: markup from a label"; fi
  ok
  [[ $n -eq 9 ]] || continue
  # the text report is unchanged by --plot, and the same plot comes out again
  "$LOGIFY" eval --data "$TMP/d$n.csv" --model "$TMP/m$n" >"$TMP/t1.txt"
  "$LOGIFY" eval --data "$TMP/d$n.csv" --model "$TMP/m$n" --plot "$TMP/q$n.svg" >"$TMP/t2.txt"
  cmp "$TMP/t1.txt" "$TMP/t2.txt" || fail "--plot changed the text report"
  cmp "$TMP/p$n.svg" "$TMP/q$n.svg" || fail "$n labels: the plot differs between two runs"
  ok
done
# 200 labels with most mistakes spread around: many off-diagonal cells
python3 - "$TMP/e200.json" <<'PY' || fail "200-label case too easy to test anything"
import json, sys
j = json.load(open(sys.argv[1]))
off = sum(1 for t, row in j["confusion"].items() for p in row if p != t)
assert len(j["per_label"]) >= 200 and off >= 50, (len(j["per_label"]), off)
PY
ok

# errors: a plot where no file can be written fails and leaves nothing
expect_fail 1 "$TMP/nodir/p.svg" -- "$LOGIFY" eval --data "$TMP/d9.csv" --model "$TMP/m9" --plot "$TMP/nodir/p.svg"
[[ ! -e "$TMP/nodir" ]] || fail "a directory appeared"
ok
echo "eval_plot: $CHECKS checks passed"
