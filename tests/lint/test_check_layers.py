#!/usr/bin/env python3
"""test_check_layers.py - scripts/check-layers.py fails on what it must catch.

Each case copies src/ and include/ of the repository into a temporary tree,
breaks one rule there and expects exit status 1 with the line that names the
break; the untouched copy must pass. The symbol cases compile two or three
tiny files with cc into a fake build directory. Standard library only
(CTest: lint.layers_selftest).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("LOGIFY_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "check-layers.py")


def run(root, *extra):
    p = subprocess.run([sys.executable, SCRIPT, "--root", root, *extra],
                       capture_output=True, text=True)
    return p.returncode, p.stdout


class Copy(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="layers.")
        for d in ("src", "include"):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(self.tmp, d))

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def add_line(self, rel, line):
        p = os.path.join(self.tmp, rel)
        with open(p) as f:
            text = f.read()
        with open(p, "w") as f:
            f.write(line + "\n" + text)

    def assert_fails(self, needle, *extra):
        rc, out = run(self.tmp, *extra)
        self.assertEqual(rc, 1, out)
        self.assertIn(needle, out)

    def test_copy_passes(self):
        rc, out = run(self.tmp)
        self.assertEqual(rc, 0, out)

    def test_include_against_direction(self):
        self.add_line("src/core/stage.c", '#include "logify/server.h"')
        self.assert_fails('src/core/stage.c:1: #include "logify/server.h": core/ may not use '
                          'server/')

    def test_stage_may_not_use_pipeline(self):
        self.add_line("src/rules/rules.c", '#include "logify/pipeline.h"')
        self.assert_fails("rules/ may not use pipeline/")

    def test_public_header_against_direction(self):
        # a header counts for the folder that owns it
        self.add_line("include/logify/ytree.h", '#include "logify/model.h"')
        self.assert_fails("include/logify/ytree.h:1:")
        self.assert_fails("core/ may not use model/")

    def test_circle_between_folders(self):
        self.add_line("src/core/stage.c", '#include "logify/rules.h"')
        self.assert_fails("circle between folders: core <-> rules")

    def test_private_header_of_another_folder(self):
        self.add_line("src/model/logreg.c", '#include "bert/sbert_internal.h"')
        self.assert_fails("the private header of bert/")

    def test_include_without_folder(self):
        self.add_line("src/bert/sbert.c", '#include "sbert_internal.h"')
        self.assert_fails("a quoted include names its folder")

    def test_folder_not_in_picture(self):
        os.mkdir(os.path.join(self.tmp, "src", "web"))
        with open(os.path.join(self.tmp, "src", "web", "web.c"), "w") as f:
            f.write("int lg_web;\n")
        self.assert_fails("src/web/: folder not in the picture")

    def test_file_outside_folders(self):
        with open(os.path.join(self.tmp, "src", "stray.c"), "w") as f:
            f.write("int lg_stray;\n")
        self.assert_fails("src/stray.c: a source file lives in its subsystem's folder")

    def test_public_header_without_owner(self):
        with open(os.path.join(self.tmp, "include", "logify", "orphan.h"), "w") as f:
            f.write("/* orphan */\n")
        self.assert_fails("include/logify/orphan.h: public header owned by no folder")

    def test_circle_between_files_by_includes(self):
        # knn.c including umap.h (umap.c's header, which includes knn.h):
        # the knn <-> umap circle this layout broke
        self.add_line("src/cluster/knn.c", '#include "logify/umap.h"')
        self.assert_fails("circle between files (includes): cluster/knn <-> cluster/umap")


class Symbols(unittest.TestCase):
    """A fake tree and build: files that call each other with no header."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="layers-sym.")
        self.files = {}

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def put(self, rel, text):
        p = os.path.join(self.tmp, "src", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
        o = os.path.join(self.tmp, "build", "CMakeFiles", "logifycore.dir", "src", rel + ".o")
        os.makedirs(os.path.dirname(o), exist_ok=True)
        subprocess.run(["cc", "-c", "-o", o, p], check=True)

    def test_circle_by_symbols(self):
        self.put("core/a.c", "int lg_b(int);\nint lg_a(int x) { return x ? lg_b(x - 1) : 0; }\n")
        self.put("core/b.c", "int lg_a(int);\nint lg_b(int x) { return lg_a(x); }\n")
        rc, out = run(self.tmp)
        self.assertEqual(rc, 0, out)  # the #include lines show nothing
        rc, out = run(self.tmp, "--objects", os.path.join(self.tmp, "build"))
        self.assertEqual(rc, 1, out)
        self.assertIn("circle between files (includes and symbols): core/a <-> core/b", out)

    def test_use_against_direction_by_symbols(self):
        self.put("core/c.c", "int lg_serve(void);\nint lg_c(void) { return lg_serve(); }\n")
        self.put("server/s.c", "int lg_serve(void) { return 1; }\n")
        rc, out = run(self.tmp, "--objects", os.path.join(self.tmp, "build"))
        self.assertEqual(rc, 1, out)
        self.assertIn("src/core/c.c uses lg_serve (src/server/s.c): core/ may not use server/",
                      out)

    def test_clean_fake_tree_passes(self):
        self.put("core/c.c", "int lg_c(void) { return 1; }\n")
        self.put("server/s.c", "int lg_c(void);\nint lg_serve(void) { return lg_c(); }\n")
        rc, out = run(self.tmp, "--objects", os.path.join(self.tmp, "build"))
        self.assertEqual(rc, 0, out)


if __name__ == "__main__":
    unittest.main(verbosity=1)
