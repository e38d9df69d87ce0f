#!/usr/bin/env python3
"""sweep.py: runs one logify command again and again under the failalloc
interposer (tests/faults/failalloc.c), failing its Nth allocation for a
sweep of N, and checks each run (docs/testing.md, "Allocation failure"):

  - no crash: no signal, no exit status above 128, no sanitizer report;
  - exit 0: the output is byte for byte the output of a run without faults
    (a failure that was absorbed lost nothing);
  - otherwise exit 1, a message on stderr naming memory and what failed
    (an error line that is only a code's name, "logify: error: out of
    memory", is a problem), and the output file
    as it was before the run (no partial or replaced file, no temporary
    file left beside it); with --keep PATH --keep-from OLD, PATH (a file or
    a directory: a model bundle, a templates state) is a copy of OLD before
    each run and after a failed run still is, byte for byte.

usage: sweep.py --so LIB --out FILE [options] -- CMD ARGS...
CMD writes FILE (the driver puts "old" there before each run) or, with
--stdout, its output is its stdout (compared, not checked for being kept).
N: every allocation of the first --head and of the last --tail of a
counting run (every --every-th), --mid more spread over the rest, and
--from runs failing every allocation from N on. Prints one line per problem
(at most 20) and a summary; exits 1 on any problem. Python 3 stdlib only."""
import argparse
import csv
import io
import os
import re
import shutil
import subprocess
import sys

MEMORY = re.compile(r"memory|ENOMEM", re.I)
# glibc's dynamic loader exits 127 itself when it cannot allocate while
# loading a library (dlopen: "out of memory") or its thread-local storage
LOADER = re.compile(r"^(logify: )?(out of memory|cannot allocate memory for thread-local data: ABORT)$", re.M)
# lg_strerror's names: a failure message that is only one of them (or
# nothing) says that something failed but not what (a callee's bare
# `return LG_ENOMEM;`): "logify: error: out of memory" alone is a problem
BARE = {"", "ok", "out of memory", "input/output error", "malformed input", "invalid argument",
        "pattern does not compile", "size limit exceeded", "not found", "invalid model",
        "network error", "not supported", "internal error", "canceled", "unknown error"}
CRASH = re.compile(r"Sanitizer|runtime error|core dumped|Segmentation|Aborted|assert", re.I)


STDIN = None  # --stdin: a file given to every run as its standard input


def run(cmd, env, timeout):
    with open(STDIN or os.devnull, "rb") as inp:
        r = subprocess.run(cmd, env=env, stdin=inp, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


def causeless(err):
    """1 when an error line of stderr ("logify: error: ...") has no cause:
    nothing, or only an error code's name, after the prefix"""
    for line in err.splitlines():
        m = re.match(r"^(?:logify: )?error: ?(.*)$", line.strip())
        if m and m.group(1).strip().lower() in BARE:
            return 1
    return 0


def degraded_only(ref, out):
    """1 when CSV text out has ref's rows, each equal to ref's or Unclassified
    with a detail naming memory (the same source and message)"""
    try:
        r = list(csv.DictReader(io.StringIO(ref.decode())))
        o = list(csv.DictReader(io.StringIO(out.decode())))
    except (UnicodeDecodeError, csv.Error):
        return 0
    if len(r) != len(o) or not r:
        return 0
    for a, b in zip(r, o):
        if a == b:
            continue
        if (b.get("target_label") != "Unclassified" or not MEMORY.search(b.get("detail", ""))
                or (a["source"], a["log_message"]) != (b["source"], b["log_message"])):
            return 0
    return 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--so", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stdout", action="store_true")
    ap.add_argument("--head", type=int, default=250)
    ap.add_argument("--tail", type=int, default=800)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--mid", type=int, default=100)
    ap.add_argument("--from", dest="from_runs", type=int, default=10)
    ap.add_argument("--label", default="")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--spare", default="", help="FAILALLOC_SPARE: code ranges never failed")
    ap.add_argument("--thread", default="all", help="FAILALLOC_THREAD: all, main or others")
    ap.add_argument("--clean", default="", help="a directory CMD creates: removed before each run, "
                    "and absent after a failed run (no partial output)")
    ap.add_argument("--result", action="append", default=[],
                    help="with --clean: a file in it compared after exit 0 (repeatable)")
    ap.add_argument("--keep", default="", help="a file or directory CMD replaces: a copy of "
                    "--keep-from before each run, unchanged after a failed run")
    ap.add_argument("--keep-from", default="")
    ap.add_argument("--unclassified-ok", action="store_true",
                    help="exit 0 may also give, for some rows, Unclassified with a detail naming memory (the LLM "
                    "stage's degraded answer): the CSV keeps every row, in order, the others equal")
    ap.add_argument("--stdin", default="", help="a file each run reads as its standard input")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    global STDIN
    STDIN = a.stdin or None
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    outdir = os.path.dirname(os.path.abspath(a.out))
    base = dict(os.environ)
    for k in list(base):
        if k.startswith("FAILALLOC_"):
            del base[k]

    def reset():
        with open(a.out, "wb") as f:
            f.write(b"old\n")
        if a.clean:
            shutil.rmtree(a.clean, ignore_errors=True)
        if a.keep:
            if os.path.isdir(a.keep):
                shutil.rmtree(a.keep)
            elif os.path.lexists(a.keep):
                os.unlink(a.keep)
            if os.path.isdir(a.keep_from):
                shutil.copytree(a.keep_from, a.keep)
            else:
                shutil.copyfile(a.keep_from, a.keep)

    def snapshot(path):
        """{relative name: bytes} of a file or of a directory's files"""
        if os.path.isfile(path):
            return {"": open(path, "rb").read()}
        snap = {}
        for d, _, files in os.walk(path):
            for f in files:
                full = os.path.join(d, f)
                snap[os.path.relpath(full, path)] = open(full, "rb").read()
        return snap

    kept = snapshot(a.keep_from) if a.keep else None

    def results(out):
        if a.result:  # (and stdout, with --stdout)
            return (out if a.stdout else b"") + b"".join(
                open(p, "rb").read() if os.path.exists(p) else b"<missing>" for p in a.result)
        return out if a.stdout else open(a.out, "rb").read()

    reset()
    rc, ref_out, err = run(cmd, base, a.timeout)
    if rc != 0:
        sys.exit("sweep: the command fails without faults (exit %d): %s" % (rc, err))
    ref_out = results(ref_out)
    reset()
    listing = sorted(os.listdir(outdir))
    report = os.path.join(outdir, ".failalloc-report")
    reset()
    if a.spare:
        base["FAILALLOC_SPARE"] = a.spare
    base["FAILALLOC_THREAD"] = a.thread
    env = dict(base, LD_PRELOAD=a.so, FAILALLOC_MODE="count", FAILALLOC_REPORT=report)
    rc, _, err = run(cmd, env, a.timeout)
    m = re.match(r"counted (\d+) failed 0", open(report).read() if os.path.exists(report) else "")
    if rc != 0 or not m:
        sys.exit("sweep: the counting run failed (exit %d): %s" % (rc, err))
    os.unlink(report)
    total = int(m.group(1))
    ns = set(range(1 + a.offset, min(a.head, total) + 1, a.every))
    ns |= set(range(max(1, total - a.tail) + a.offset, total + 1, a.every))
    if a.mid:
        step = max(1, total // a.mid)
        ns |= set(range(1 + step // 2, total + 1, step))
    plan = [("nth", n) for n in sorted(ns)]
    if a.from_runs:
        step = max(1, total // a.from_runs)
        plan += [("from", n) for n in range(1, total + 1, step)]

    problems, absorbed, failed_clean, loader, degraded = [], 0, 0, 0, 0
    for mode, n in plan:
        reset()
        env = dict(base, LD_PRELOAD=a.so, FAILALLOC_MODE=mode, FAILALLOC_N=str(n))
        try:
            rc, out, err = run(cmd, env, a.timeout)
        except subprocess.TimeoutExpired:
            problems.append("%s %d: hung (over %g s)" % (mode, n, a.timeout))
            continue
        data = results(out)
        tail = err.strip().splitlines()[-1:] or [""]
        what = None
        if rc < 0 or rc > 128 or CRASH.search(err):
            what = "crash (exit %d): %s" % (rc, err[-400:])
        elif rc == 0:
            if data != ref_out and a.unclassified_ok and degraded_only(ref_out, data):
                degraded += 1
            elif data != ref_out:
                what = "exit 0 with an output that differs from the run without faults: %s" % tail[0]
            else:
                absorbed += 1
        elif rc == 127 and LOADER.search(err) and (data == ref_out or (
                (a.stdout or open(a.out, "rb").read() == b"old\n")
                and (not a.keep or snapshot(a.keep) == kept))):
            loader += 1  # glibc's dynamic loader gave up (docs/testing.md), the output old or whole
        elif rc != 1:
            what = "exit %d, want 1: %s" % (rc, tail[0])
        elif not MEMORY.search(err):
            what = "failed without naming memory: %r" % err[-300:]
        elif causeless(err):
            what = "failed without saying what: %r" % err[-300:]
        elif a.keep and snapshot(a.keep) != kept:
            what = "%s was changed or left partial: %s" % (a.keep, tail[0])
        elif not a.stdout and open(a.out, "rb").read() != b"old\n":
            what = "the existing output was changed (%d bytes now): %s" % (len(data), tail[0])
        elif sorted(os.listdir(outdir)) != listing:
            what = "left behind: %s" % sorted(set(os.listdir(outdir)) - set(listing))
        else:
            failed_clean += 1
        if what:
            problems.append("%s %d: %s" % (mode, n, what))
            for extra in set(os.listdir(outdir)) - set(listing):
                path = os.path.join(outdir, extra)
                shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
    print("sweep%s: %d allocations in a run; %d runs with a failed allocation: %d failed cleanly "
          "(exit 1, memory named, output kept), %d absorbed (exit 0, same output), %d ended by "
          "glibc's loader (exit 127), %d problems"
          % (" " + a.label if a.label else "", total, len(plan), failed_clean, absorbed, loader,
             len(problems)))
    if a.unclassified_ok:
        print("  %d runs exited 0 with rows left Unclassified with a reason, every row kept" % degraded)
    for p in problems[:20]:
        print("  " + p)
    kinds = {}
    for p in problems:  # "nth 12: kind: detail" -> kind
        kind = p.split(": ", 1)[1].split(":")[0].split(" (")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    for kind, count in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("  %d x %s" % (count, kind))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
