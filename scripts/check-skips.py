#!/usr/bin/env python3
"""check-skips.py JUNIT.xml [ALLOWLIST]: lists the tests a CTest run skipped
(from `ctest --output-junit`) with their reason; with CI=true, exits 1 when a
skipped test is not on the allow-list (tests/skip-allowlist.txt), so a lost
dependency (../shared, the venv, a tool) cannot turn tests into silent
passes in CI. Outside CI it only reports."""
import os
import sys
import xml.etree.ElementTree as ET


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    allow_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "tests", "skip-allowlist.txt")
    allowed = {}
    for line in open(allow_path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, why = line.partition(" ")
            allowed[name] = why.strip()
    tree = ET.parse(sys.argv[1])
    skipped = []
    for case in tree.iter("testcase"):
        sk = case.find("skipped")
        if sk is None:
            continue
        out = case.findtext("system-out") or ""
        reason = next((l.strip() for l in out.splitlines() if "SKIP" in l), sk.get("message") or "")
        skipped.append((case.get("name"), reason[:200]))
    ci = os.environ.get("CI") == "true"
    bad = [n for n, _ in skipped if n not in allowed]
    for name, reason in skipped:
        tag = "allowed" if name in allowed else ("NOT ALLOWED in CI" if ci else "skipped")
        print(f"skip: {name} ({tag}): {reason}")
    if ci and bad:
        print(f"check-skips: {len(bad)} test(s) skipped in CI that are not on {allow_path}: "
              f"{', '.join(bad)}", file=sys.stderr)
        return 1
    print(f"check-skips: {len(skipped)} skipped, {len(skipped) - len(bad)} on the allow-list")
    return 0


if __name__ == "__main__":
    sys.exit(main())
