"""Drain3's mining speed on a plain file, one message per line (used by
bench/bench_templates.sh). Reads all lines first, then times only the
add_log_message loop, with the same generic masks as
tests/gen/eval_templates.py. Prints `lines=N seconds=S lines_per_s=R
cpu_seconds=C cpu_lines_per_s=Q` (wall clock and the process's CPU time:
on a shared machine the CPU time is the fairer measure)."""
import os, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "gen"))
import eval_templates  # noqa: E402

lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
m = eval_templates.drain3_miner()
t0, c0 = time.perf_counter(), time.process_time()
for line in lines:
    m.add_log_message(line)
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
print("lines=%d seconds=%.3f lines_per_s=%.0f cpu_seconds=%.3f cpu_lines_per_s=%.0f"
      % (len(lines), secs, len(lines) / secs, cpu, len(lines) / cpu))
