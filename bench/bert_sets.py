#!/usr/bin/env python3
"""bert_sets.py SEED_CSV EVERY LONG SEED_OUT LONG_OUT: the two sets of the
BERT benchmarks: every EVERY-th seed message, one a line; and LONG long
lines of 12 consecutive seed messages joined with " | " (the model
truncates them to 256 tokens). The same sets as bench_bert.sh builds
inline (used by bench_bert_int8.sh)."""
import csv
import sys

seed, every, n, seed_out, long_out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = [r["log_message"].replace("\n", " ").replace("\r", " ")
        for r in csv.DictReader(open(seed, newline="", encoding="utf-8"))]
with open(seed_out, "w", encoding="utf-8") as f:
    f.write("".join(m + "\n" for m in rows[::every]))
with open(long_out, "w", encoding="utf-8") as f:
    f.write("".join(" | ".join(rows[(i * 12 + j) % len(rows)] for j in range(12)) + "\n" for i in range(n)))
