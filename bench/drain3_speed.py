"""Drain3's mining speed on a plain file, one message per line (used by
bench/bench_templates.sh). Reads all lines first, then times only the
add_log_message loop, with the same generic masks as
tests/gen/eval_templates.py. Prints `lines=N seconds=S lines_per_s=R`."""
import os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "gen"))
import eval_templates  # noqa: E402

lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
m = eval_templates.drain3_miner()
t0 = time.perf_counter()
for line in lines:
    m.add_log_message(line)
secs = time.perf_counter() - t0
print("lines=%d seconds=%.3f lines_per_s=%.0f" % (len(lines), secs, len(lines) / secs))
