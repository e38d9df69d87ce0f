#!/usr/bin/env bash
# bench_real_logs.sh - the model stage on generated real-looking logs
# (tests/gen/gen_real_logs.py, 16 systems, ~1,500 labels, long tail):
#   1. 50/50 split: `logify train` on one half, `logify eval` on the other
#      (accuracy, macro-F1, training time) - compare with
#      bench/sklearn_real_baseline.py (TF-IDF + LinearSVC) on the same file;
#   2. open set: train on 12 systems, eval on 4 never seen: share of their
#      lines that come out Unclassified.
#   3. the anchor in the same run: bench/sklearn_real_baseline.py (TF-IDF word
#      1-2 + char 2-4 grams + LinearSVC, its own 50/50 split of the same
#      file) with the bench venv's scikit-learn; accuracy, macro-F1,
#      training time and the ratio.
# Usage: bench/bench_real_logs.sh [BUILD_DIR] (default build); writes into
# BUILD_DIR/bench-real/. LINES_PER_SYSTEM (default 500 in make bench: the
# anchor needs ~15 min of CPU at the generator's full 2,000 per system, the
# shape of the issue's hidden evaluation); MIN_LINES_PER_LABEL (default 8:
# a long tail whose 50/50 split leaves few held-out lines with a label never
# trained on, as in a corpus where the anchor reaches 0.996; 1: the plain
# tail, docs/model.md); LABELS_PER_SYSTEM (default 95 x LINES_PER_SYSTEM /
# 2,000: the lines a label has stay those of the full-size corpus, so the
# 500-line run of make bench keeps its shape, with ~380 labels); NO_HEADER=1:
# the message bodies only (gen_real_logs.py --no-header, a parsed log's
# content column); FREE_TEXT=1: a quarter of the templates get a variable
# of 1-6 free words (gen_real_logs.py --free-text); DATELESS=1: Spark's
# header without a date (gen_real_logs.py --dateless); SKIP_ANCHOR=1 / SKIP_OPEN_SET=1 leave those parts out;
# BENCH_OUT: the output directory instead of BUILD_DIR/bench-real.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
LOGIFY=$BUILD/logify
OUT=${BENCH_OUT:-$BUILD/bench-real}
mkdir -p "$OUT"
GEN="python3 $ROOT/tests/gen/gen_real_logs.py"
[ "${NO_HEADER:-0}" = 1 ] && GEN="$GEN --no-header"
[ "${FREE_TEXT:-0}" = 1 ] && GEN="$GEN --free-text"
[ "${DATELESS:-0}" = 1 ] && GEN="$GEN --dateless"
LINES=${LINES_PER_SYSTEM:-500}
MINL=${MIN_LINES_PER_LABEL:-8}
LABELS=${LABELS_PER_SYSTEM:-$(( LINES * 95 / 2000 > 2 ? LINES * 95 / 2000 : 2 ))}
$GEN --out "$OUT/real.csv" --seed 1 --lines-per-system "$LINES" --labels-per-system "$LABELS" \
  --min-lines-per-label "$MINL"
python3 - "$OUT" <<'PY'
import csv, random, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/real.csv")))
random.Random(42).shuffle(rows)
h = len(rows) // 2
for name, part in (("train", rows[:h]), ("test", rows[h:])):
    with open(f"{out}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["source", "log_message", "target_label"])
        w.writerows([r["source"], r["log_message"], r["target_label"]] for r in part)
PY
# sources must not meet the default routes/rules: an empty rules file, every
# source to the model
printf 'rules: []\n' >"$OUT/norules.yaml"
R=(--rules "$OUT/norules.yaml" --route '*=model')
/usr/bin/time -f "%e %U %S %M" -o "$OUT/train.time" \
  "$LOGIFY" train --data "$OUT/train.csv" --out "$OUT/model" "${R[@]}" --json >"$OUT/train.json"
"$LOGIFY" eval --data "$OUT/test.csv" --model "$OUT/model" "${R[@]}" --json >"$OUT/eval.json"
# every line the open set lets through answered, as the anchor answers every line
"$LOGIFY" eval --data "$OUT/test.csv" --model "$OUT/model" "${R[@]}" --threshold 0 --json \
  >"$OUT/eval-t0.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
t = json.load(open(out + "/train.json")); e = json.load(open(out + "/eval.json"))
e0 = json.load(open(out + "/eval-t0.json"))
wall, user, sys_, rss = open(out + "/train.time").read().split()
print("50/50: labels %d, train rows %d, classifier %s, logify train wall %s s, cpu %.1f s, "
      "peak rss %d MB (uptime load: %s)" % (
    len(t["labels"]), t["training_rows"], t["classifier"], wall, float(user) + float(sys_),
    int(rss) // 1024, open("/proc/loadavg").read().split()[0]))
print("  eval: accuracy %.4f macro_f1 %.4f weighted_f1 %.4f unclassified %d of %d %s" % (
    e["accuracy"], e["macro_f1"], e["weighted_f1"], e["unclassified"]["rows"], e["rows"], e["unclassified"]["reasons"]))
print("  eval --threshold 0: accuracy %.4f macro_f1 %.4f unclassified %d %s" % (
    e0["accuracy"], e0["macro_f1"], e0["unclassified"]["rows"], e0["unclassified"]["reasons"]))
PY
PY=${LOGIFY_VENV:-$ROOT/build/venv}/bin/python
if [ "${SKIP_ANCHOR:-0}" = 1 ]; then
  echo "anchor: not run (SKIP_ANCHOR=1)"
elif "$PY" -c 'import sklearn' 2>/dev/null; then
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/anchor.time" \
    "$PY" "$ROOT/bench/sklearn_real_baseline.py" "$OUT/real.csv" --seed 42 >"$OUT/anchor.json"
  python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
a = json.load(open(out + "/anchor.json")); t = json.load(open(out + "/train.json"))
e = json.load(open(out + "/eval.json")); e0 = json.load(open(out + "/eval-t0.json"))
_, au, asy, _ = open(out + "/anchor.time").read().split()
_, lu, lsy, _ = open(out + "/train.time").read().split()
acpu, lcpu = float(au) + float(asy), float(lu) + float(lsy)
print("anchor (TF-IDF + LinearSVC, same file, its own 50/50 split): accuracy %.4f macro_f1 %.4f "
      "fit %.1f s wall, process cpu %.1f s" % (a["accuracy"], a["macro_f1"], a["train_seconds"], acpu))
print("ratio: accuracy %+.4f (threshold 0: %+.4f), macro_f1 %+.4f, "
      "training cpu %.1fx less (logify train %.1f s cpu, whole process)" % (
    e["accuracy"] - a["accuracy"], e0["accuracy"] - a["accuracy"], e["macro_f1"] - a["macro_f1"],
    acpu / max(lcpu, 1e-9), lcpu))
PY
else
  echo "bench_real_logs: no scikit-learn in the bench venv (make venv-bench): anchor not run" >&2
  exit 1
fi
[ "${SKIP_OPEN_SET:-0}" = 1 ] && exit 0
HELD="HDFS,OpenSSH,Android,Windows"
$GEN --out "$OUT/seen.csv" --seed 1 --exclude "$HELD" --min-lines-per-label "$MINL"
$GEN --out "$OUT/unseen.csv" --seed 2 --systems "$HELD" --min-lines-per-label "$MINL"
$GEN --out "$OUT/seen2.csv" --seed 3 --exclude "$HELD" --min-lines-per-label "$MINL"
"$LOGIFY" train --data "$OUT/seen.csv" --out "$OUT/model-seen" "${R[@]}" --json >"$OUT/train-seen.json"
"$LOGIFY" eval --data "$OUT/unseen.csv" --model "$OUT/model-seen" "${R[@]}" --json >"$OUT/eval-unseen.json"
"$LOGIFY" eval --data "$OUT/seen2.csv" --model "$OUT/model-seen" "${R[@]}" --json >"$OUT/eval-seen2.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
u = json.load(open(out + "/eval-unseen.json")); s = json.load(open(out + "/eval-seen2.json"))
print("open set: unseen systems %d rows, Unclassified %.4f %s" % (
    u["rows"], u["unclassified"]["rows"] / u["rows"], u["unclassified"]["reasons"]))
print("  seen systems (fresh lines, seed 3): accuracy %.4f, Unclassified %d %s" % (
    s["accuracy"], s["unclassified"]["rows"], s["unclassified"]["reasons"]))
PY
