#!/usr/bin/env bash
# Model stage: hash encoder + logistic regression throughput (encode +
# predict on one thread, the seed messages in batches of 1024), and
# training time on the seed data, against scikit-learn (TF-IDF word 1-2 +
# char 3-5 grams + LogisticRegression, bench/sklearn_model_anchor.py) in
# the same run. Best of 3 each. Throughput is given in thread CPU time (the
# machines are shared; CPU time does not count the neighbours) and in wall
# time; the model stage's own time inside `logify classify --stats` is
# printed as well.
set -euo pipefail
: "${LOGIFY:?}" "${LOGIFY_SHARED:?}"
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$(dirname "$LOGIFY")" && pwd)
REPS=${REPS:-100} # 2,410 x 100 = 241,000 messages
N_ANCHOR=${N_ANCHOR:-10000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SEED="$LOGIFY_SHARED/datasets/synthetic_logs.csv"

# a bundle trained now (keeps the bench independent of models/default)
"$LOGIFY" train --data "$SEED" --out "$TMP/model" >/dev/null

# ---- throughput: the library on one thread
# shellcheck disable=SC2046
gcc -O2 -I"$HERE/../include" "$HERE/bench_model.c" "$BUILD/liblogifycore.a" \
  $(pkg-config --libs libhs libpcre2-8 yaml-0.1 jansson libcurl libmicrohttpd libutf8proc openblas) \
  -lcsv -llbfgs -lm -lpthread -o "$TMP/bench_model"
cbest=""; wbest=""
for i in 1 2 3; do
  read -r n w c < <("$TMP/bench_model" "$TMP/model" "$SEED" "$REPS" 1024 |
    sed -n 's/messages=\([0-9]*\) wall_s=\([0-9.]*\) cpu_s=\([0-9.]*\).*/\1 \2 \3/p')
  if [[ -z "$cbest" ]] || python3 -c "import sys; sys.exit(0 if $c < $cbest else 1)"; then cbest=$c; fi
  if [[ -z "$wbest" ]] || python3 -c "import sys; sys.exit(0 if $w < $wbest else 1)"; then wbest=$w; fi
done

# ---- the same through `logify classify` (model stage time, CSV excluded)
python3 - "$SEED" "$TMP/big.csv" 40 <<'PY'
import sys
lines = open(sys.argv[1], newline="").read().splitlines(True)
with open(sys.argv[2], "w", newline="") as f:
    f.write(lines[0])
    for _ in range(int(sys.argv[3])):
        f.writelines(lines[1:])
PY
crow=$(( $(wc -l <"$TMP/big.csv") - 1 ))
sbest=""
for i in 1 2 3; do
  "$LOGIFY" classify "$TMP/big.csv" --model "$TMP/model" --route '*=model' --route 'LegacyCRM=model' \
    -o "$TMP/out.csv" --stats 2>"$TMP/stats.$i"
  s=$(sed -n 's/.*time:.* model \([0-9.]*\) s.*/\1/p' "$TMP/stats.$i")
  if [[ -z "$sbest" ]] || python3 -c "import sys; sys.exit(0 if $s < $sbest else 1)"; then sbest=$s; fi
done

# ---- training time
tbest=""; tall=""; tcpu=""
for i in 1 2 3; do
  "$LOGIFY" train --data "$SEED" --out "$TMP/m$i" --json >"$TMP/train.$i.json"
  read -r fit total cpu < <(python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["seconds"]
print(s["encode"] + s["refit"], s["total"], s["cpu_total"])' "$TMP/train.$i.json")
  if [[ -z "$tbest" ]] || python3 -c "import sys; sys.exit(0 if $fit < $tbest else 1)"; then tbest=$fit; tall=$total; fi
  if [[ -z "$tcpu" ]] || python3 -c "import sys; sys.exit(0 if $cpu < $tcpu else 1)"; then tcpu=$cpu; fi
done
read -r f1 acc < <(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["test"]
print(t["macro_f1"], t["accuracy"])' "$TMP/train.1.json")

/usr/bin/python3 "$HERE/sklearn_model_anchor.py" "$SEED" "$N_ANCHOR" >"$TMP/anchor.txt"
python3 - "$n" "$cbest" "$wbest" "$crow" "$sbest" "$tbest" "$tall" "$f1" "$acc" "$TMP/anchor.txt" "$tcpu" <<'PY'
import re, sys
tcpu = float(sys.argv[11])
n, cpu, wall, crow, stage = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
fit, total, f1, acc = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9])
a = open(sys.argv[10]).read()
a_fit = float(re.search(r"train rows=\d+ seconds=([0-9.]+)", a).group(1))
a_f1 = float(re.search(r"test_macro_f1=([0-9.]+)", a).group(1))
a_mps = float(re.search(r" messages_per_s=([0-9.]+)", a).group(1))
a_cps = float(re.search(r"cpu_messages_per_s=([0-9.]+)", a).group(1))
print(f"model stage, hash encoder + logistic regression, seed messages ({n} encoded + predicted, one thread):")
print(f"  logify       {n / cpu:12,.0f} messages/s CPU time, {n / wall:10,.0f} wall   (target >= 500,000 per core)")
print(f"  scikit-learn {a_cps:12,.0f} messages/s CPU time, {a_mps:10,.0f} wall   (TF-IDF transform + predict_proba)")
print(f"  ratio        {(n / cpu) / a_cps:12.1f} x (CPU time)")
print(f"  inside 'logify classify' (model stage only, {crow} rows): {crow / stage:,.0f} messages/s wall")
print(f"training on the seed data's 1,903 model rows (encode + fit on all rows):")
print(f"  logify       {fit:8.3f} s   (whole 'logify train' incl. CSV, rules, split fit + reports: {total:.3f} s wall, {tcpu:.3f} s CPU)   (target well under 1 s)")
print(f"  scikit-learn {a_fit:8.3f} s   (TF-IDF fit + LogisticRegression fit)")
print(f"  ratio        {a_fit / fit:8.1f} x faster")
print(f"test split macro-F1: logify {f1:.4f} (accuracy {acc:.4f}), scikit-learn {a_f1:.4f}   (target >= 0.99)")
PY
