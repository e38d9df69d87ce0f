#!/usr/bin/env python3
"""mutants.py [--list FILE] [--build DIR] [--only NAME ...] [--jobs N] [--check]

`make mutants`: applies each one-line mutation of tests/mutants.txt to the
source (found by its text, not by line number, so the list survives moves
and edits elsewhere in the file), rebuilds, runs the tests the mutation
names (a CTest regex; `*` = the whole suite) and reports whether the suite
killed it (a test failed) or it survived. The source file is restored after
every mutation, also on Ctrl-C. Not part of `make check` (slow): its score
goes in docs/testing.md.

Outcomes per mutation:
  killed     a test failed on the mutated code
  survived   every selected test passed: a gap, or an equivalent mutation
             (say which in the list's comment, with the reason)
  stale      the original text is not in the file exactly once (update the
             list after a refactoring)
  invalid    the mutated code does not build (not counted in the score)

List format (tests/mutants.txt): blocks that start with `## NAME`, then
`file: PATH`, `tests: REGEX`, optional `# comment` lines, then the original
line(s) prefixed with `-` and the replacement line(s) prefixed with `+`
(the text after the prefix character is used verbatim).

Speed: per mutation only the build targets its tests run are rebuilt (the
executables named in the selected tests' commands, plus `logify`, which the
end-to-end tests run); a target that a mutation leaves out may still hold an
earlier mutation's code, but no selected test runs it, and the next mutation
whose tests do run it rebuilds it first. A full build at the end leaves
build-mutants/ matching the restored tree. `--check` only verifies that
every mutation applies (its original text occurs exactly once)."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse(path):
    muts, cur = [], None
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if line.startswith("## "):
            cur = {"name": line[3:].strip(), "file": None, "tests": None, "old": [], "new": [], "note": []}
            muts.append(cur)
        elif cur is None or not line.strip():
            continue
        elif line.startswith("file:"):
            cur["file"] = line[5:].strip()
        elif line.startswith("tests:"):
            cur["tests"] = line[6:].strip()
        elif line.startswith("#"):  # after the -/+ lines: a section heading, no note
            if not cur["old"]:
                cur["note"].append(line[1:].strip())
        elif line.startswith("-"):
            cur["old"].append(line[1:])
        elif line.startswith("+"):
            cur["new"].append(line[1:])
        else:
            sys.exit(f"{path}: unexpected line in mutation {cur['name']!r}: {line!r}")
    for m in muts:
        if not (m["file"] and m["tests"] and m["old"]):
            sys.exit(f"{path}: mutation {m['name']!r} needs file:, tests: and - lines")
    return muts


def test_targets(build, regex):
    """The build targets the tests matching regex (a CTest -R regex, `*` =
    all) run: None means every target."""
    if regex == "*":
        return None
    out = subprocess.run(["ctest", "--test-dir", build, "-N", "--show-only=json-v1", "-R", regex],
                         capture_output=True, text=True, check=True).stdout
    build = os.path.realpath(build)
    targets = {"logify"}
    for t in json.loads(out).get("tests", []):
        for arg in t.get("command", []):
            path = os.path.realpath(arg)
            if os.path.dirname(path) == build and os.path.isfile(path) and os.access(path, os.X_OK):
                targets.add(os.path.basename(path))
    return sorted(targets)


def run(cmd, log, timeout=None):
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        try:
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            f.write("timed out\n")
            return 124


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", default=os.path.join(ROOT, "tests", "mutants.txt"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build-mutants"))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--check", action="store_true", help="only check that every mutation applies")
    a = ap.parse_args()
    muts = parse(a.list)
    if a.only:
        muts = [m for m in muts if m["name"] in a.only]
    if a.check:
        bad = 0
        for m in muts:
            try:
                text = open(os.path.join(ROOT, m["file"]), encoding="utf-8").read()
            except OSError:
                text = ""
            n = text.count("\n".join(m["old"]) + "\n")
            if n != 1:
                bad += 1
                print(f"stale     {m['name']} (the original occurs {n} times in {m['file']})")
        print(f"mutants: {len(muts)} mutations, {bad} stale")
        return 1 if bad else 0
    os.makedirs(a.build, exist_ok=True)
    log = os.path.join(a.build, "mutants.log")
    open(log, "w").close()
    if not os.path.exists(os.path.join(a.build, "CMakeCache.txt")):
        if run(["cmake", "-S", ROOT, "-B", a.build, "-DCMAKE_BUILD_TYPE=Release"], log):
            sys.exit(f"mutants: configure failed (see {log})")
    build = ["cmake", "--build", a.build, "-j", str(a.jobs)]
    if run(build, log):
        sys.exit(f"mutants: the unmutated tree does not build (see {log})")
    ctest = ["ctest", "--test-dir", a.build, "-j", str(a.jobs), "--timeout", "600", "--no-tests=error"]
    regexes = sorted({m["tests"] for m in muts})
    targets = {rx: test_targets(a.build, rx) for rx in regexes}
    # the selected tests must pass before anything is mutated (one run of them all)
    # (CMake's regex allows few groups: a plain alternation of the lists)
    union = None if "*" in regexes else "|".join(regexes)
    if run(ctest + ([] if union is None else ["-R", union]), log):
        sys.exit(f"mutants: the selected tests fail on the unmutated tree (see {log})")

    results = []
    restore = {}

    def put_back(*_):
        for path, text in restore.items():
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        restore.clear()

    signal.signal(signal.SIGINT, lambda *_: (put_back(), sys.exit(130)))
    signal.signal(signal.SIGTERM, lambda *_: (put_back(), sys.exit(143)))
    for m in muts:
        path = os.path.join(ROOT, m["file"])
        t0 = time.monotonic()
        try:
            text = open(path, encoding="utf-8").read()
        except OSError:
            results.append((m, "stale", 0.0))
            print(f"{'stale':9} {m['name']} ({m['file']}: no such file)", flush=True)
            continue
        old, new = "\n".join(m["old"]) + "\n", "\n".join(m["new"]) + ("\n" if m["new"] else "")
        if text.count(old) != 1:
            results.append((m, "stale", 0.0))
            print(f"{'stale':9} {m['name']} (the original occurs {text.count(old)} times in {m['file']})",
                  flush=True)
            continue
        restore[path] = text
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            tg = targets[m["tests"]]
            if run(build + ([] if tg is None else ["--target"] + tg), log):
                outcome = "invalid"
            else:
                rc = run(ctest + ([] if m["tests"] == "*" else ["-R", m["tests"]]), log)
                outcome = "killed" if rc else "survived"
        finally:
            put_back()
        results.append((m, outcome, time.monotonic() - t0))
        print(f"{outcome:9} {m['name']} ({m['file']}, tests {m['tests']}, {time.monotonic() - t0:.0f} s)",
              flush=True)
    run(build, log)  # leave the build matching the restored tree
    count = {k: sum(1 for _, o, _ in results if o == k) for k in ("killed", "survived", "stale", "invalid")}
    scored = count["killed"] + count["survived"]
    score = count["killed"] / scored if scored else 0.0
    print(f"mutants: {len(results)} mutations: {count['killed']} killed, {count['survived']} survived, "
          f"{count['stale']} stale, {count['invalid']} invalid; score {score:.1%} "
          f"(killed / (killed + survived))")
    for m, o, _ in results:
        if o == "survived":
            print(f"  survived: {m['name']}" + (f" -- {' '.join(m['note'])}" if m["note"] else ""))
    return 0 if not count["stale"] else 1


if __name__ == "__main__":
    sys.exit(main())
