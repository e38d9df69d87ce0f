#!/usr/bin/env bash
# Template mining: Logify (`logify templates`, reading and writing included,
# and the miner's loop alone: bench/bench_templates_core.c) against Drain3
# 0.9.11 from PyPI (its mining loop only, generic masks), on the same
# generated input in the same run: lines/s of both (wall clock and CPU
# time: on a shared machine the CPU time is the fairer), the ratios, and
# the grouping/parsing accuracy of both (tests/gen/eval_templates.py, one
# run per system, 2,000 lines each). Logify: best of 3. Then small files
# (bench/templates_small.py): one 2,000-line file per system, Logify's
# whole command against Drain3's loop and Drain3's whole command, CPU time,
# medians of interleaved runs.
# Drain3 comes from a venv: $DRAIN3_PYTHON, else build/venv (make
# venv-bench); pinned in bench/requirements.txt.
set -euo pipefail
: "${LOGIFY:?}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PER_SYSTEM=${PER_SYSTEM:-50000} # x 16 systems
PYD=${DRAIN3_PYTHON:-}
for c in "${LOGIFY_VENV:-$ROOT/build/venv}/bin/python"; do
  if [[ -z "$PYD" && -x "$c" ]] && "$c" -c "import drain3" 2>/dev/null; then PYD=$c; fi
done
if [[ -z "$PYD" ]]; then
  echo "bench_templates: no Python with drain3 (make venv-bench, or set DRAIN3_PYTHON)" >&2
  exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
GEN=$ROOT/tests/gen
python3 "$GEN/gen_template_logs.py" "$TMP/big.csv" --lines-per-system "$PER_SYSTEM" --plain "$TMP/big.txt"
lines=$(wc -l <"$TMP/big.txt")
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)

# the command: best of 3 by wall clock and, apart, by CPU time (user+sys of
# all its threads); each run writes a new output file, as a first run does
# (overwriting one costs ext4 a flush of the new file at the rename, which
# is the file system's, not the miner's)
best="" user=""
for i in 1 2 3; do
  rm -f "$TMP/out.csv"
  /usr/bin/time -o "$TMP/time.$i" -f "%U %S" "$LOGIFY" templates "$TMP/big.txt" -o "$TMP/out.csv" --summary 2>"$TMP/sum.$i"
  s=$(sed -n 's/.* lines in \([0-9.]*\) s.*/\1/p' "$TMP/sum.$i" | head -1)
  if [[ -z "$best" ]] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then best=$s; fi
  u=$(tail -1 "$TMP/time.$i")
  if [[ -z "$user" ]] || python3 -c "import sys; a, b = '$u'.split(), '$user'.split(); sys.exit(0 if float(a[0]) + float(a[1]) < float(b[0]) + float(b[1]) else 1)"; then user=$u; fi
done
# the miner alone, lines in memory (as Drain3's loop): best of 3 by CPU time
BUILD=$(dirname "$LOGIFY")
# shellcheck disable=SC2046
gcc -O2 -I"$ROOT/include" "$ROOT/bench/bench_templates_core.c" "$BUILD/liblogifycore.a" \
  $(pkg-config --libs libpcre2-8 yaml-0.1 jansson libutf8proc) \
  -lcsv -llbfgs -lm -lpthread -o "$TMP/bench_core"
core=""
for i in 1 2 3; do
  c=$("$TMP/bench_core" "$TMP/big.txt")
  if [[ -z "$core" ]] || [[ ${c##*cpu_lines_per_s=} -gt ${core##*cpu_lines_per_s=} ]]; then core=$c; fi
done
"$PYD" "$ROOT/bench/drain3_speed.py" "$TMP/big.txt" >"$TMP/drain3"
drain=$(sed -n 's/.* lines_per_s=\([0-9]*\).*/\1/p' "$TMP/drain3")
drain_cpu=$(sed -n 's/.*cpu_lines_per_s=\([0-9]*\).*/\1/p' "$TMP/drain3")

python3 "$GEN/gen_template_logs.py" "$TMP/acc.csv"
python3 "$GEN/eval_templates.py" "$TMP/acc.csv" --logify "$LOGIFY" >"$TMP/acc.logify"
"$PYD" "$GEN/eval_templates.py" "$TMP/acc.csv" --drain3 >"$TMP/acc.drain3"
python3 - "$lines" "$best" "$drain" "$user" "$cpu" "$TMP/acc.logify" "$TMP/acc.drain3" "$drain_cpu" "$core" <<'PY'
import re, sys
lines, secs, drain = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
u, s = (float(x) for x in sys.argv[4].split())
drain_cpu = float(sys.argv[8])
ours, ours_cpu = lines / secs, lines / (u + s)
print("CPU: %s" % sys.argv[5])
systems = re.search(r"\((\d+) systems", open(sys.argv[6]).read()).group(1)
print("input: %d generated lines (%s systems' styles)" % (lines, systems))
print("logify templates : %9.0f lines/s wall (read, mine, write a CSV), %.0f lines/s of its CPU time (user+sys %.2f s)"
      % (ours, ours_cpu, u + s))
print("drain3 0.9.11    : %9.0f lines/s wall, %.0f lines/s of its CPU time (mining loop only)" % (drain, drain_cpu))
core = dict(re.findall(r"(\w+)=([0-9.]+)", sys.argv[9]))
cw, cc = float(core["lines_per_s"]), float(core["cpu_lines_per_s"])
print("logify miner     : %9.0f lines/s wall, %.0f lines/s of its CPU time (lg_tpl_add loop only)" % (cw, cc))
print("ratio, command   : %.1fx wall clock, %.1fx CPU time (vs Drain3's loop)" % (ours / drain, ours_cpu / drain_cpu))
print("ratio, miner     : %.1fx wall clock, %.1fx CPU time (loop vs loop)" % (cw / drain, cc / drain_cpu))
for f in sys.argv[6:8]:
    last = open(f).read().splitlines()[-1]
    print("accuracy %s" % last)
PY

# small files: one 2,000-line file per system, whole commands, CPU time,
# interleaved (bench/templates_small.py): start-up counts here
"$PYD" "$ROOT/bench/templates_small.py" "$LOGIFY" "$PYD" "$TMP/small" \
  --rounds "${SMALL_ROUNDS:-5}" --reps "${SMALL_REPS:-10}"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
