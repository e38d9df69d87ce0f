"""Grouping and parsing accuracy of template miners on a CSV with ground
truth (tests/gen/gen_template_logs.py: system, log_message, event_id,
event_template), one miner run per system as loghub benchmarks do.

  eval_templates.py DATA.csv --logify BIN [--min-ga X] [--min-pa X]
  eval_templates.py DATA.csv --drain3          (needs drain3 importable)
  eval_templates.py --self-test                (the metrics on worked cases)

Grouping accuracy (Zhu et al., ICSE-SEIP 2019, "Tools and Benchmarks for
Automated Log Parsing"): a line is parsed correctly when the set of lines
in its predicted group equals the set of lines of its true event; GA is
the share of such lines. Parsing accuracy: the line's predicted template
equals its true template after whitespace normalisation (runs of blanks
become one blank, ends stripped). Prints one line per system and the
averages over systems; exits 1 when an average is under --min-ga/--min-pa.
"""
import argparse, csv, io, os, re, subprocess, sys, tempfile, time
from collections import defaultdict

csv.field_size_limit(1 << 30)


def norm(t):
    return re.sub(r"\s+", " ", t).strip()


def grouping_accuracy(truth, pred):
    """truth, pred: lists of labels per line."""
    tgroups, pgroups = defaultdict(set), defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, pred)):
        tgroups[t].add(i)
        pgroups[p].add(i)
    ok = 0
    for p, lines in pgroups.items():
        t = truth[next(iter(lines))]
        if tgroups[t] == lines:
            ok += len(lines)
    return ok / len(truth) if truth else 1.0


def parsing_accuracy(truth_t, pred_t):
    ok = sum(1 for a, b in zip(truth_t, pred_t) if norm(a) == norm(b))
    return ok / len(truth_t) if truth_t else 1.0


def load(path):
    by = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by[row["system"]].append(row)
    return by


def run_logify(binary, rows, extra):
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, "in.csv"), os.path.join(d, "out.csv")
        with open(inp, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["log_message"])
            for r in rows:
                w.writerow([r["log_message"]])
        t0 = time.perf_counter()
        subprocess.run([binary, "templates", inp, "-o", out] + extra, check=True)
        secs = time.perf_counter() - t0
        with open(out, newline="") as f:
            got = list(csv.DictReader(f))
    if len(got) != len(rows):
        sys.exit("logify wrote %d rows for %d" % (len(got), len(rows)))
    return [g["template_id"] for g in got], [g["template"] for g in got], secs


def drain3_miner():
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig
    from drain3.masking import MaskingInstruction
    cfg = TemplateMinerConfig()
    cfg.profiling_enabled = False
    # generic masks (no per-system ones): IPs with an optional port, hex, numbers
    cfg.masking_instructions = [
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(:\d+)?((?=[^A-Za-z0-9])|$)", "*"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)(0x[a-fA-F0-9]+)((?=[^A-Za-z0-9])|$)", "*"),
        MaskingInstruction(r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "*"),
    ]
    return TemplateMiner(config=cfg)


def run_drain3(rows):
    m = drain3_miner()
    t0 = time.perf_counter()
    ids = [m.add_log_message(r["log_message"])["cluster_id"] for r in rows]
    secs = time.perf_counter() - t0
    # final templates, as the loghub benchmark reports them
    tmpl = {c.cluster_id: c.get_template() for c in m.drain.clusters}
    return ids, [tmpl[i] for i in ids], secs


def self_test():
    """The definitions on small cases worked by hand."""
    assert grouping_accuracy(list("aabb"), [1, 1, 2, 2]) == 1.0
    assert grouping_accuracy(list("aabb"), [1, 1, 1, 2]) == 0.0  # both events broken
    assert grouping_accuracy(list("aabbc"), [1, 1, 2, 3, 4]) == 0.6  # a and c right
    assert grouping_accuracy(list("aab"), [1, 2, 3]) == 1 / 3  # split a: only b right
    assert parsing_accuracy(["a  <*> b", "x"], [" a <*>\tb ", "y"]) == 0.5
    print("eval_templates: self-test OK")


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--logify")
    ap.add_argument("--drain3", action="store_true")
    ap.add_argument("--min-ga", type=float)
    ap.add_argument("--min-pa", type=float)
    ap.add_argument("--arg", action="append", default=[], help="extra logify argument")
    a = ap.parse_args()
    by = load(a.data)
    ga_sum = pa_sum = 0.0
    lines = 0
    secs = 0.0
    name = "drain3" if a.drain3 else "logify"
    for sysname, rows in by.items():
        if a.drain3:
            ids, tps, s = run_drain3(rows)
        else:
            ids, tps, s = run_logify(a.logify, rows, a.arg)
        ga = grouping_accuracy([r["event_id"] for r in rows], ids)
        pa = parsing_accuracy([r["event_template"] for r in rows], tps)
        print("%-8s %-10s lines %6d  events %3d  groups %4d  GA %.3f  PA %.3f" %
              (name, sysname, len(rows), len({r["event_id"] for r in rows}), len(set(ids)), ga, pa))
        ga_sum += ga
        pa_sum += pa
        lines += len(rows)
        secs += s
    n = len(by)
    print("%-8s average    GA %.3f  PA %.3f  (%d systems, %d lines)" % (name, ga_sum / n, pa_sum / n, n, lines))
    bad = (a.min_ga is not None and ga_sum / n < a.min_ga) or (a.min_pa is not None and pa_sum / n < a.min_pa)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
