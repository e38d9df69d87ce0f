#!/usr/bin/env python3
"""coverage.py [--build DIR] [--doc FILE] [--tests-rc N]

`make coverage`, after the suite ran in the gcov build (build-cov/): reads
the coverage data with gcovr (pinned in tests/requirements.txt, installed
into the test venv by `make venv`; LOGIFY_VENV overrides build/venv),
prints line and branch coverage per file of src/, then per folder and in
all. With --doc, writes the summary (date, CPU, totals, per
folder, per file) into that Markdown file between the lines
`<!-- coverage:begin -->` and `<!-- coverage:end -->`.

Branches are gcc's (gcov's -b): each outcome of each condition the compiled
code tests, counted by gcovr with its default filters."""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def pct(c, t):
    return 100.0 * c / t if t else 100.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build-cov"))
    ap.add_argument("--doc", help="Markdown file to write the summary into")
    ap.add_argument("--tests-rc", type=int, default=0, help="the suite's exit status (noted)")
    a = ap.parse_args()
    venv = os.environ.get("LOGIFY_VENV") or os.path.join(ROOT, "build", "venv")
    gcovr = os.path.join(venv, "bin", "gcovr")
    if not os.access(gcovr, os.X_OK):
        sys.exit(f"coverage: no gcovr in {venv} (run 'make venv': tests/requirements.txt pins it)")
    out = subprocess.run(
        [gcovr, "--root", ROOT, "--object-directory", a.build, "--filter", os.path.join(ROOT, "src") + "/",
         "--json-summary", "-", "-j", str(os.cpu_count() or 2),
         # counters of threaded code are updated atomically (CMakeLists.txt:
         # -fprofile-update=atomic); a negative count would still be gcov's
         # bug 68080, not ours: warned about, not fatal
         "--gcov-ignore-parse-errors=negative_hits.warn_once_per_file"],
        capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"coverage: gcovr failed: {out.stderr.strip()}")
    data = json.loads(out.stdout)
    files = sorted(data["files"], key=lambda f: f["filename"])
    if not files:
        sys.exit(f"coverage: no coverage data in {a.build} (did the suite run in a --coverage build?)")
    folders = {}
    for f in files:
        d = os.path.dirname(f["filename"])
        s = folders.setdefault(d, [0, 0, 0, 0])
        s[0] += f["line_covered"]
        s[1] += f["line_total"]
        s[2] += f["branch_covered"]
        s[3] += f["branch_total"]
    tl = sum(f["line_covered"] for f in files), sum(f["line_total"] for f in files)
    tb = sum(f["branch_covered"] for f in files), sum(f["branch_total"] for f in files)
    w = max(len(f["filename"]) for f in files)
    print(f"{'file':{w}}  {'lines':>16}  {'branches':>16}  untaken")
    for f in files:
        print(f"{f['filename']:{w}}  {f['line_covered']:5}/{f['line_total']:5} {pct(f['line_covered'], f['line_total']):5.1f}%"
              f"  {f['branch_covered']:5}/{f['branch_total']:5} {pct(f['branch_covered'], f['branch_total']):5.1f}%"
              f"  {f['branch_total'] - f['branch_covered']:5}")
    print()
    for d, s in sorted(folders.items()):
        print(f"{d + '/':{w}}  {s[0]:5}/{s[1]:5} {pct(s[0], s[1]):5.1f}%  {s[2]:5}/{s[3]:5} {pct(s[2], s[3]):5.1f}%")
    print(f"{'src/ in all':{w}}  {tl[0]:5}/{tl[1]:5} {pct(*tl):5.1f}%  {tb[0]:5}/{tb[1]:5} {pct(*tb):5.1f}%")
    if not a.doc:
        return 0
    lines = [BEGIN,
             f"Last `make coverage`: {datetime.date.today().isoformat()}, {cpu()}"
             + ("" if a.tests_rc == 0 else f" (the suite exited {a.tests_rc}: figures of a partial run)")
             + f": lines {pct(*tl):.1f}% ({tl[0]} of {tl[1]}), branches {pct(*tb):.1f}% ({tb[0]} of {tb[1]}).",
             "",
             "| folder | lines | branches |",
             "|---|---:|---:|"]
    for d, s in sorted(folders.items()):
        lines.append(f"| `{d}/` | {pct(s[0], s[1]):.1f}% | {pct(s[2], s[3]):.1f}% |")
    lines.append(f"| all of `src/` | {pct(*tl):.1f}% | {pct(*tb):.1f}% |")
    lines += ["", "Per file (lines covered / total, branches covered / total):", "",
              "| file | lines | branches |", "|---|---:|---:|"]
    for f in files:
        lines.append(f"| `{f['filename']}` | {f['line_covered']}/{f['line_total']} "
                     f"{pct(f['line_covered'], f['line_total']):.1f}% | {f['branch_covered']}/{f['branch_total']} "
                     f"{pct(f['branch_covered'], f['branch_total']):.1f}% |")
    lines.append(END)
    text = open(a.doc, encoding="utf-8").read()
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(a.doc, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"coverage: summary written to {a.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
