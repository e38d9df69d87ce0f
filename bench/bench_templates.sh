#!/usr/bin/env bash
# Template mining: Logify (`logify templates`, reading and writing included)
# against Drain3 0.9.11 from PyPI (its mining loop only, generic masks), on
# the same generated input in the same run: lines/s of both, the ratio, and
# the grouping/parsing accuracy of both (tests/gen/eval_templates.py, one
# run per system, 2,000 lines each). Logify: best of 3.
# Drain3 comes from a venv: $DRAIN3_PYTHON, else build/venv (make venv),
# else /work/venv-templates; pinned in tests/requirements.txt.
set -euo pipefail
: "${LOGIFY:?}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PER_SYSTEM=${PER_SYSTEM:-50000} # x 10 systems
PYD=${DRAIN3_PYTHON:-}
for c in "$ROOT/build/venv/bin/python" /work/venv-templates/bin/python; do
  if [[ -z "$PYD" && -x "$c" ]] && "$c" -c "import drain3" 2>/dev/null; then PYD=$c; fi
done
if [[ -z "$PYD" ]]; then
  echo "bench_templates: no Python with drain3 (make venv, or set DRAIN3_PYTHON)" >&2
  exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
GEN=$ROOT/tests/gen
python3 "$GEN/gen_template_logs.py" "$TMP/big.csv" --lines-per-system "$PER_SYSTEM" --plain "$TMP/big.txt"
lines=$(wc -l <"$TMP/big.txt")
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)

best=""
for i in 1 2 3; do
  "$LOGIFY" templates "$TMP/big.txt" -o "$TMP/out.csv" --summary 2>"$TMP/sum.$i"
  s=$(sed -n 's/.* lines in \([0-9.]*\) s.*/\1/p' "$TMP/sum.$i" | head -1)
  if [[ -z "$best" ]] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then best=$s; fi
done
user=$( { /usr/bin/time -f "%U %S" "$LOGIFY" templates "$TMP/big.txt" -o "$TMP/out.csv"; } 2>&1 | tail -1)
drain=$("$PYD" "$ROOT/bench/drain3_speed.py" "$TMP/big.txt" | sed -n 's/.*lines_per_s=\([0-9]*\).*/\1/p')

python3 "$GEN/gen_template_logs.py" "$TMP/acc.csv"
python3 "$GEN/eval_templates.py" "$TMP/acc.csv" --logify "$LOGIFY" >"$TMP/acc.logify"
"$PYD" "$GEN/eval_templates.py" "$TMP/acc.csv" --drain3 >"$TMP/acc.drain3"
python3 - "$lines" "$best" "$drain" "$user" "$cpu" "$TMP/acc.logify" "$TMP/acc.drain3" <<'PY'
import sys
lines, secs, drain = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
u, s = (float(x) for x in sys.argv[4].split())
ours = lines / secs
print("CPU: %s" % sys.argv[5])
print("input: %d generated lines (10 systems' styles)" % lines)
print("logify templates : %9.0f lines/s wall (read, mine, write a CSV), %.0f lines/s of its CPU time (user+sys %.2f s)"
      % (ours, lines / (u + s), u + s))
print("drain3 0.9.11    : %9.0f lines/s (mining loop only)" % drain)
print("ratio            : %.1fx" % (ours / drain))
for f in sys.argv[6:8]:
    last = open(f).read().splitlines()[-1]
    print("accuracy %s" % last)
PY
