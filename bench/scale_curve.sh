#!/usr/bin/env bash
# scale_curve.sh - time and peak memory of `logify train` against labels
# and rows (docs/model.md): synthetic labels, each a 6-word template from a
# 3,000-word vocabulary plus an id and a number.
# Usage: bench/scale_curve.sh BUILD_DIR "LABELS:ROWS ..." (default
# "1000:10000 1000:100000 10000:100000 10000:1000000"); writes BUILD_DIR/bench-scale/.
set -euo pipefail
BUILD=${1:?build dir}
SIZES=${2:-"1000:10000 1000:100000 10000:100000 10000:1000000"}
OUT=$BUILD/bench-scale
mkdir -p "$OUT"
printf 'rules: []\n' >"$OUT/norules.yaml"
for size in $SIZES; do
  L=${size%%:*} N=${size##*:}
  python3 - "$L" "$N" "$OUT/d.csv" <<'PY'
import random, sys
L, N, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
r = random.Random(7)
syl = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "do", "gri", "zu", "fa", "bel", "tor"]
vocab = sorted({"".join(r.choice(syl) for _ in range(r.randint(2, 4))) for _ in range(4000)})[:3000]
tpl = [" ".join(r.choice(vocab) for _ in range(6)) for _ in range(L)]
with open(path, "w") as f:
    f.write("source,log_message,target_label\n")
    for i in range(N):
        k = i % L if i < L else int(L * r.random() ** 2)  # every label once, then a skew
        f.write("S,%s id=%x took %d ms,L%05d\n" % (tpl[k], r.getrandbits(40), r.randint(1, 9999), k))
PY
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/time" "$BUILD/logify" train --data "$OUT/d.csv" \
    --out "$OUT/m" --rules "$OUT/norules.yaml" --route '*=model' --json >"$OUT/t.json"
  read -r wall user sys rss <"$OUT/time"
  python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))
print("labels %6s rows %8s: wall %7s s, cpu %7.1f s, peak rss %6.0f MB, test accuracy %.4f, %s" % (
    sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]) + float(sys.argv[6]),
    int(sys.argv[7]) / 1024, t["test"]["accuracy"], t["classifier"]))
' "$OUT/t.json" "$L" "$N" "$wall" "$user" "$sys" "$rss"
done
