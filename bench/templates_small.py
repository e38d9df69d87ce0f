"""Template mining on small files, whole commands (used by
bench/bench_templates.sh; docs/templates.md, "Start-up"): one 2,000-line
file per system of tests/gen/gen_template_logs.py, as the evaluation on real
logs runs them. In every round, for every file, interleaved:
  - `logify templates FILE -o OUT` (the whole command: start-up, read,
    mine, write), REPS times;
  - Drain3's whole command (`python bench/drain3_speed.py FILE`: start-up,
    imports, read, mine), which also reports the CPU time of its
    add_log_message loop alone;
  - `logify --version` (start-up alone), REPS times.
Each figure is the CPU time (user+sys of the process and its threads, from
wait4) and the median over all runs of a file; the totals add the 10
files' medians. CPU time, not wall clock: the machine is shared.
With --before OTHER_LOGIFY, another build (e.g. main's) runs interleaved
with LOGIFY, the same way, and its figures are printed beside (before and
after a change, in one run).
usage: templates_small.py LOGIFY DRAIN3_PYTHON DIR [--rounds R] [--reps N] [--before LOGIFY]"""
import argparse, os, re, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_of(argv):
    """(user+sys seconds of the child, its stdout)"""
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            sys.exit("templates_small: %s failed (exit %d)" % (" ".join(argv), p.returncode))
        out.seek(0)
        return ru.ru_utime + ru.ru_stime, out.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("logify")
    ap.add_argument("drain3_python")
    ap.add_argument("dir")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--lines", type=int, default=2000)
    ap.add_argument("--before", help="another logify binary, run interleaved for comparison")
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "tests", "gen"))
    import gen_template_logs  # noqa: E402
    systems = sorted(gen_template_logs.SYSTEMS)
    os.makedirs(a.dir, exist_ok=True)
    files = {}
    for s in systems:
        files[s] = os.path.join(a.dir, s + ".txt")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "gen", "gen_template_logs.py"),
                        os.path.join(a.dir, s + ".csv"), "--systems", s, "--lines-per-system",
                        str(a.lines), "--plain", files[s]], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(a.dir, "out.csv")
    ours, version, dloop, dcmd, bours, bversion = ({s: [] for s in systems} for _ in range(6))
    for _ in range(a.rounds):
        for s in systems:
            for _ in range(a.reps):
                if os.path.exists(out):  # a new file each run, as a first run writes
                    os.unlink(out)
                ours[s].append(cpu_of([a.logify, "templates", files[s], "-o", out])[0])
                if a.before:
                    os.unlink(out)
                    bours[s].append(cpu_of([a.before, "templates", files[s], "-o", out])[0])
            c, text = cpu_of([a.drain3_python, os.path.join(HERE, "drain3_speed.py"), files[s]])
            dcmd[s].append(c)
            dloop[s].append(float(re.search(r"cpu_seconds=([0-9.]+)", text).group(1)))
            for _ in range(a.reps):
                version[s].append(cpu_of([a.logify, "--version"])[0])
                if a.before:
                    bversion[s].append(cpu_of([a.before, "--version"])[0])
    med = {k: {s: statistics.median(v[s]) for s in systems} for k, v in
           (("ours", ours), ("version", version), ("dloop", dloop), ("dcmd", dcmd),
            ("bours", bours), ("bversion", bversion)) if a.before or k[0] != "b"}
    tot = {k: sum(v.values()) for k, v in med.items()}
    n = len(systems)
    print("small files: %d files of %d lines (one per system), %d rounds, medians of %d (logify) "
          "and %d (drain3) runs per file, CPU time user+sys" % (n, a.lines, a.rounds,
                                                              a.rounds * a.reps, a.rounds))
    print("  logify templates, whole command: %6.2f ms a file (logify --version alone: %.2f ms)"
          % (1e3 * tot["ours"] / n, 1e3 * tot["version"] / n))
    print("  drain3 0.9.11, mining loop     : %6.2f ms a file" % (1e3 * tot["dloop"] / n))
    print("  drain3 0.9.11, whole command   : %6.2f ms a file (python bench/drain3_speed.py)"
          % (1e3 * tot["dcmd"] / n))
    print("  ratio, 2,000 lines: %.1fx Drain3's loop, %.1fx Drain3's command (per system: %s)"
          % (tot["dloop"] / tot["ours"], tot["dcmd"] / tot["ours"],
             ", ".join("%s %.1f" % (s, med["dloop"][s] / med["ours"][s]) for s in systems)))
    if a.before:
        print("  --before %s: %6.2f ms a file (--version %.2f ms), %.1fx Drain3's loop; "
              "this build takes %.2fx its CPU time" % (a.before, 1e3 * tot["bours"] / n,
                                                      1e3 * tot["bversion"] / n, tot["dloop"] / tot["bours"],
                                                      tot["ours"] / tot["bours"]))


if __name__ == "__main__":
    main()
