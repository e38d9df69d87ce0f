#!/usr/bin/env python3
"""check-layers.py - the layering check of src/ (docs/ARCHITECTURE.md, "Layout").

Reads the #include lines of src/<folder>/*.{c,h} and include/logify/*.h and
fails when
  - a folder includes a header of a folder it may not use (against the
    direction below; a circle between folders is always against it),
  - a file includes another folder's private header (src/<other>/x.h),
  - a quoted include does not name its folder ("x.h" instead of "bert/x.h"),
  - a folder or a public header has no place in the picture, or a file
    sits directly in src/ (CMake would not compile it).
With --objects BUILD_DIR it also reads the symbols of the compiled objects
(nm) and fails on a use between folders against the direction and on a
circle between files (x.c calls y.c and y.c calls x.c, through any path):
what the #include lines cannot show when one header declares the functions
of several files.

Python 3 standard library only: a build tool, not part of the product.
Exit status: 0 clean, 1 violations (one line each), 2 usage error.
"""
import argparse
import os
import re
import subprocess
import sys

# The direction: a folder may use the folders listed (and, through them,
# everything below). Keep in step with the picture in docs/ARCHITECTURE.md.
USES = {
    "core": [],
    "bert": ["core"],
    "rules": ["core"],
    "llm": ["core"],
    "templates": ["core"],
    "model": ["bert", "rules"],  # train sets aside the rows the rules decide
    "pipeline": ["rules", "model", "llm", "templates"],  # template ids on records (issue 17)
    "cluster": ["model", "rules", "templates"],
    "server": ["pipeline"],
    "kafka": ["pipeline"],
    "cli": ["server", "kafka", "cluster", "pipeline"],
}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def closure(uses):
    """folder -> every folder below it. Raises ValueError on a circle."""
    below, state = {}, {}

    def visit(f, path):
        if state.get(f) == 1:
            raise ValueError("circle in USES: " + " -> ".join(path + [f]))
        if state.get(f) == 2:
            return below[f]
        state[f] = 1
        acc = set()
        for g in uses.get(f, []):
            if g not in uses:
                raise ValueError("USES names an unknown folder '%s' (under %s)" % (g, f))
            acc.add(g)
            acc |= visit(g, path + [f])
        state[f] = 2
        below[f] = acc
        return acc

    for f in uses:
        visit(f, [])
    return below


def find_cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, on, stack, out, n = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


class Tree:
    def __init__(self, root):
        self.root = root
        self.src = os.path.join(root, "src")
        self.pub = os.path.join(root, "include", "logify")
        self.folders = sorted(d for d in os.listdir(self.src)
                              if os.path.isdir(os.path.join(self.src, d)))
        self.sources = {}  # folder -> [file names]
        for d in self.folders:
            self.sources[d] = sorted(f for f in os.listdir(os.path.join(self.src, d))
                                     if f.endswith((".c", ".h")))

    def owner(self, header):
        """Folder of include/logify/<stem>.h: the one holding <stem>.c or
        <stem>_*.c; failing that, a family header <base>_<part>.h belongs
        to <base>.h's folder (dynlib_curl.h: dynlib.c, whose tables
        dynlib_libs.c defines). None when no folder or several do."""
        stem = header[:-2]
        while True:
            hits = {d for d, fs in self.sources.items()
                    for f in fs if f.endswith(".c") and (f == stem + ".c" or f.startswith(stem + "_"))}
            if hits or "_" not in stem:
                return hits.pop() if len(hits) == 1 else None
            stem = stem.rsplit("_", 1)[0]

    def files(self):
        """(path relative to root, folder) of every file whose includes count."""
        for d in self.folders:
            for f in self.sources[d]:
                yield os.path.join("src", d, f), d
        if os.path.isdir(self.pub):
            for f in sorted(os.listdir(self.pub)):
                if f.endswith(".h"):
                    yield os.path.join("include", "logify", f), self.owner(f)


def module_of(tree, folder, header):
    """folder/stem when header (x.h) is the header of a file x.c in folder,
    else None (an interface header shared by several files)."""
    stem = header[:-2]
    if folder in tree.sources and stem + ".c" in tree.sources[folder]:
        return folder + "/" + stem
    return None


def check_includes(root, below, modules):
    """Folder rules on the #include lines; adds to modules the edges between
    files (x.c or x.h includes y.h, the header of y.c in the same folder)."""
    tree = Tree(root)
    errors, edges = [], {}
    for f in sorted(os.listdir(tree.src)):
        if f.endswith((".c", ".h")) and os.path.isfile(os.path.join(tree.src, f)):
            errors.append("src/%s: a source file lives in its subsystem's folder (src/<folder>/%s; "
                          "CMake compiles only src/*/*.c)" % (f, f))
    for d in tree.folders:
        if d not in USES:
            errors.append("src/%s/: folder not in the picture (add it to USES in "
                          "scripts/check-layers.py and to docs/ARCHITECTURE.md)" % d)
    for rel, folder in tree.files():
        if folder is None:
            errors.append("%s: public header owned by no folder (no src/*/%s.c or %s_*.c)"
                          % (rel, os.path.basename(rel)[:-2], os.path.basename(rel)[:-2]))
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            for ln, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                inc = m.group(1)
                where = "%s:%d: #include \"%s\"" % (rel, ln, inc)
                parts = inc.split("/")
                if len(parts) != 2 or ".." in parts:
                    errors.append("%s: a quoted include names its folder: \"logify/x.h\" or "
                                  "\"<folder>/x.h\" (relative to src/)" % where)
                    continue
                top, name = parts
                if top == "logify":
                    if not os.path.isfile(os.path.join(tree.pub, name)):
                        errors.append("%s: no such public header" % where)
                        continue
                    target = tree.owner(name)
                    if target is None:
                        continue  # reported with the header itself
                else:
                    if top not in tree.sources or name not in tree.sources[top]:
                        errors.append("%s: no such header under src/" % where)
                        continue
                    target = top
                    if target != folder:
                        errors.append("%s: the private header of %s/ (a folder's private "
                                      "header stays in the folder; use its public header)"
                                      % (where, top))
                        continue
                if target == folder:
                    base = os.path.basename(rel)
                    src_mod = module_of(tree, folder, base[:-2] + ".h") if base.endswith(".c") \
                        else module_of(tree, folder, base)
                    dst_mod = module_of(tree, folder, name)
                    if src_mod and dst_mod and src_mod != dst_mod:
                        modules.setdefault(src_mod, set()).add(dst_mod)
                    continue
                edges.setdefault(folder, set()).add(target)
                if folder in below and target not in below[folder]:
                    may = ", ".join(sorted(below[folder])) or "nothing"
                    errors.append("%s: %s/ may not use %s/ (against the direction; %s/ may use: "
                                  "%s)" % (where, folder, target, folder, may))
    for comp in find_cycles(edges):
        errors.append("circle between folders: %s" % " <-> ".join(comp))
    return errors


def check_objects(root, build, below, graph):
    """Symbol-level uses between the compiled files of src/ under build/,
    added to graph (file -> files it uses). Objects whose source is gone
    (a stale build) are ignored."""
    objs = []
    for dirpath, _, files in os.walk(os.path.join(build, "CMakeFiles")):
        if "/src/" not in dirpath.replace(os.sep, "/") + "/":
            continue
        for f in files:
            if f.endswith(".c.o"):
                p = os.path.join(dirpath, f)
                rel = p.replace(os.sep, "/").split("/src/", 1)[1][: -len(".c.o")]
                if os.path.isfile(os.path.join(root, "src", rel + ".c")):
                    objs.append((rel, p))
    if not objs:
        return ["%s: no compiled objects of src/ (build first)" % build]
    defs, undefs = {}, {}
    for rel, p in objs:
        out = subprocess.run(["nm", "-P", p], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            f = line.split()
            if len(f) < 2:
                continue
            if f[1] == "U":
                undefs.setdefault(rel, set()).add(f[0])
            elif f[1] in "TDRBGSVWi":
                defs.setdefault(f[0], set()).add(rel)
    errors, seen = [], set()
    for rel, syms in sorted(undefs.items()):
        for s in sorted(syms):
            for target in sorted(defs.get(s, ())):
                if target == rel:
                    continue
                graph.setdefault(rel, set()).add(target)
                a, b = rel.split("/")[0], target.split("/")[0]
                if a != b and a in below and b not in below[a] and (rel, target) not in seen:
                    seen.add((rel, target))
                    errors.append("src/%s.c uses %s (src/%s.c): %s/ may not use %s/"
                                  % (rel, s, target, a, b))
    return errors


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   ".."), help="repository root")
    ap.add_argument("--objects", metavar="BUILD_DIR",
                    help="also check the symbols of the objects compiled in BUILD_DIR")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the picture")
    a = ap.parse_args(argv)
    try:
        below = closure(USES)
    except ValueError as e:
        print("check-layers: %s" % e, file=sys.stderr)
        return 2
    if not os.path.isdir(os.path.join(a.root, "src")):
        print("check-layers: %s has no src/" % a.root, file=sys.stderr)
        return 2
    modules = {}
    errors = check_includes(a.root, below, modules)
    if a.objects:
        errors += check_objects(a.root, a.objects, below, modules)
    for comp in find_cycles(modules):
        errors.append("circle between files (%s): %s"
                      % ("includes and symbols" if a.objects else "includes", " <-> ".join(comp)))
    for e in errors:
        print(e)
    if a.verbose or not errors:
        for f in sorted(USES, key=lambda f: (len(below[f]), f)):
            print("  %-9s -> %s" % (f, ", ".join(USES[f]) or "(nothing)"), file=sys.stderr)
    print("check-layers: %s" % ("%d violation(s)" % len(errors) if errors else "ok"),
          file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
