"""The console's routes of `logify serve` (docs/console.md) with a plain HTTP
client: GET / and its assets (embedded, strict Content-Security-Policy,
open without the API key like /docs), the upload options the console uses
(?format=jsonl&explain=1&templates=1: the bytes of `logify classify
--explain [--format jsonl]`, template ids of a fresh miner whatever the
server saw before), and the cluster job (POST /v1/jobs/cluster, GET
/v1/jobs/ID, DELETE /v1/jobs/ID) against `logify cluster` on the same rows. Each test starts
its own server and checks that it exits 0 (ASan: no leak, every job joined).
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_console.py"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import LOGIFY, SHARED, Server, multipart, raw_socket, upload  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
TEST_CSV = os.path.join(ROOT, "resources/test.csv")
SEED = os.path.join(SHARED, "datasets/synthetic_logs.csv")


def cli(*args):
    return subprocess.run([LOGIFY, *args], capture_output=True, check=False)


def wait_job(srv, job_id, headers=None, limit=300):
    deadline = time.time() + limit
    while time.time() < deadline:
        st, _, body = srv.request("GET", "/v1/jobs/" + job_id, headers=headers)
        assert st == 200, (st, body)
        j = json.loads(body)
        if j["state"] != "running":
            return j
        time.sleep(0.1)
    raise AssertionError("job still running")


class Console(unittest.TestCase):
    def finish(self, srv):
        self.assertEqual(srv.close(), 0, "server exit code")

    def test_page_and_assets(self):
        srv = Server()
        try:
            st, hd, body = srv.request("GET", "/")
            self.assertEqual(st, 200)
            self.assertTrue(hd["content-type"].startswith("text/html"))
            csp = hd["content-security-policy"]
            for want in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                         "frame-ancestors 'none'"):
                self.assertIn(want, csp)
            self.assertNotIn("unsafe", csp)
            self.assertEqual(hd["x-content-type-options"], "nosniff")
            page = body.decode()
            self.assertIn('<script src="/console/console.js" defer></script>', page)
            self.assertEqual(page.count("<script"), 1, "no inline script")
            self.assertNotIn("style=", page)
            self.assertNotIn("http://", page.replace("http://www.w3.org", ""), "no outside URL")
            with open(os.path.join(ROOT, "web/console/index.html"), "rb") as f:
                self.assertEqual(body, f.read(), "the embedded page is web/console/index.html")
            for path, ctype, src in (("/console/console.js", "text/javascript", "console.js"),
                                     ("/console/console.css", "text/css", "console.css")):
                st, hd, body = srv.request("GET", path)
                self.assertEqual(st, 200, path)
                self.assertTrue(hd["content-type"].startswith(ctype), hd)
                with open(os.path.join(ROOT, "web/console", src), "rb") as f:
                    self.assertEqual(body, f.read(), path)
                if src == "console.js":
                    self.assertNotIn(b".innerHTML", body)
                self.assertNotIn(b"eval(", body)
                # revalidation: the same ETag answers 304 with no body
                st2, _, body2 = srv.request("GET", path, headers={"If-None-Match": hd["etag"]})
                self.assertEqual((st2, body2), (304, b""))
            st, _, body = srv.request("HEAD", "/")
            self.assertEqual((st, body), (200, b""))
            self.assertEqual(srv.request("GET", "/console/nope.js")[0], 404)
            self.assertEqual(srv.request("POST", "/", b"x")[0], 405)
        finally:
            self.finish(srv)

    def test_api_key(self):
        srv = Server("--api-key", "s3cret")
        try:
            self.assertEqual(srv.request("GET", "/")[0], 200, "the page is open: it asks for the key")
            self.assertEqual(srv.request("GET", "/console/console.js")[0], 200)
            self.assertEqual(srv.request("POST", "/v1/jobs/cluster", b"log_message\na\nb\n")[0], 401)
            self.assertEqual(srv.request("GET", "/v1/jobs/0123")[0], 401)
            st, _, body = srv.request("POST", "/v1/jobs/cluster", b"log_message\na\nb\n",
                                      {"Authorization": "Bearer s3cret"})
            self.assertEqual(st, 202, body)
            j = wait_job(srv, json.loads(body)["id"], {"Authorization": "Bearer s3cret"})
            self.assertEqual(j["state"], "done")
        finally:
            self.finish(srv)

    def test_upload_options_equal_the_cli(self):
        srv = Server()
        try:
            with open(TEST_CSV, "rb") as f:
                data = f.read()
            # another upload first: the server's miner has seen more lines than the CLI's
            if os.path.exists(SEED):
                with open(SEED, "rb") as f:
                    self.assertEqual(upload(srv, f.read(), "seed.csv")[0], 200)
            for query, args, ctype in (("?format=jsonl&explain=1", ["--format", "jsonl", "--explain"], "application/x-ndjson"),
                                       ("?format=csv&explain=1", ["--explain"], "text/csv"),
                                       ("?format=jsonl", ["--format", "jsonl"], "application/x-ndjson"),
                                       ("?format=jsonl&templates=1", ["--format", "jsonl", "--templates"], "application/x-ndjson"),
                                       ("", [], "text/csv")):
                st, hd, body = self.post(srv, data, query)
                self.assertEqual(st, 200, (query, body[:300]))
                self.assertTrue(hd["content-type"].startswith(ctype), (query, hd))
                want = cli("classify", TEST_CSV, *args).stdout
                self.assertEqual(body, want, "POST /classify/%s == logify classify %s" % (query, " ".join(args)))
            for bad in ("?format=xml", "?explain=yes", "?templates=2"):
                st, _, body = self.post(srv, data, bad)
                self.assertEqual(st, 400, (bad, body))
            # a malformed file: the reason the CLI gives, after the prototype's prefix
            bad = b"source,log_message\nModernCRM,ok\nModernCRM,\"open\n"
            st, _, body = self.post(srv, bad, "?format=jsonl&explain=1")
            with tempfile.NamedTemporaryFile(suffix=".csv") as f:
                f.write(bad)
                f.flush()
                err = cli("classify", f.name).stderr.decode().strip()
            detail = json.loads(body)["detail"]
            self.assertEqual(st, 400)
            self.assertTrue(detail.startswith("Malformed CSV: "), detail)
            self.assertTrue(err.endswith(": " + detail[len("Malformed CSV: "):]), (err, detail))
        finally:
            self.finish(srv)

    def test_failure_after_the_answer_started(self):
        """A bad row past --hold: the answer has gone out as 200; every row
        the workers had is written, then the reason as the last NDJSON line
        (never rows after it); ?cut=0 then ends the answer properly, without
        it the transfer is cut off (no last chunk)."""
        rows = ["source,log_message"] + ["ModernCRM,User User%d logged in." % i for i in range(40000)]
        data = ("\n".join(rows + ['ModernCRM,"never closed']) + "\n").encode()
        with tempfile.NamedTemporaryFile(suffix=".csv") as f:
            f.write(data)
            f.flush()
            c = cli("classify", f.name, "--format", "jsonl", "--explain")
        self.assertNotEqual(c.returncode, 0)
        cli_rows = c.stdout.decode().splitlines()
        body, ctype = multipart([("file", "late.csv", data)])
        srv = Server()
        try:
            for cut, clean in (("&cut=0", True), ("", False)):
                for _ in range(3):
                    s = raw_socket(srv.port)
                    s.sendall(("POST /classify/?format=jsonl&explain=1%s HTTP/1.1\r\nHost: x\r\n"
                               "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (cut, ctype, len(body))).encode() + body)
                    got = b""
                    while True:
                        k = s.recv(1 << 16)
                        if not k:
                            break
                        got += k
                    s.close()
                    head, _, chunked = got.partition(b"\r\n\r\n")
                    self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                    self.assertEqual(chunked.endswith(b"\r\n0\r\n\r\n"), clean, cut)
                    text, rest = b"", chunked
                    while rest:  # de-chunk what came
                        size, _, rest = rest.partition(b"\r\n")
                        n = int(size, 16)
                        if n == 0:
                            break
                        text, rest = text + rest[:n], rest[n + 2:]
                    lines = text.decode().splitlines()
                    self.assertEqual(json.loads(lines[-1]), {"detail": "Malformed CSV: line 40002: unterminated quoted field"})
                    # the CLI writes the rows its writer had too (how many depends on its batches)
                    n = min(len(lines) - 1, len(cli_rows))
                    self.assertGreater(n, 30000)
                    self.assertEqual(lines[:n], cli_rows[:n], "the rows before the reason are the CLI's, in order")
                    self.assertTrue(all('"target_label"' in x for x in lines[:-1]))
        finally:
            self.finish(srv)

    def post(self, srv, data, query):
        body, ctype = multipart([("file", "test.csv", data)])
        return srv.request("POST", "/classify/" + query, body, {"Content-Type": ctype})

    def test_cluster_job_equals_the_cli(self):
        # generated rows: three kinds of line, a few numbers each
        rows = [("Disk /dev/sd%d is %d%% full" % (i % 4, 80 + i % 17), "Resource Usage") for i in range(60)]
        rows += [("User User%d logged in." % i, "User Action") for i in range(40)]
        rows += [("GET /api/items/%d HTTP/1.1 status: 200" % i, "HTTP Status") for i in range(30)]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["log_message", "target_label"])
        w.writerows(rows)
        data = buf.getvalue().encode()
        srv = Server()
        try:
            self.assertEqual(srv.request("GET", "/v1/jobs/cluster")[0], 405)
            self.assertEqual(srv.request("GET", "/v1/jobs/0000")[0], 404)
            self.assertEqual(srv.request("POST", "/v1/jobs/cluster", b"")[0], 400)
            st, _, body = srv.request("POST", "/v1/jobs/cluster", data, {"Content-Type": "text/csv"})
            self.assertEqual(st, 202, body)
            j = wait_job(srv, json.loads(body)["id"])
            self.assertEqual(j["state"], "done", j)
            r = j["result"]
            self.assertEqual((r["rows"], len(r["points"])), (len(rows), 3 * len(rows)))
            self.assertEqual(sum(g["size"] for g in r["groups"]), len(rows))
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "in.csv")
                with open(path, "wb") as f:
                    f.write(data)
                c = cli("cluster", "--data", path, "--out", os.path.join(d, "out"))
                self.assertEqual(c.returncode, 0, c.stderr)
                with open(os.path.join(d, "out/points.csv")) as f:
                    pts = list(csv.DictReader(f))
                with open(os.path.join(d, "out/clusters.csv")) as f:
                    cls = list(csv.DictReader(f))
                with open(os.path.join(d, "out/suggested_rules.yaml")) as f:
                    sugg = f.read()
            # the same clustering, row for row, and the same groups
            self.assertEqual([int(p["cluster"]) for p in pts], r["points"][2::3])
            self.assertEqual([(int(c["id"]), int(c["size"]), c["dominant_label"], c["template"]) for c in cls],
                             [(g["id"], g["size"], g["label"], g["template"] or "") for g in r["groups"]])
            for x, y in zip(pts, [r["points"][3 * i:3 * i + 2] for i in range(len(rows))]):
                self.assertAlmostEqual(float(x["x"]), y[0], places=3)
                self.assertAlmostEqual(float(x["y"]), y[1], places=3)
            # template-first, as the CLI by default: a rule per template, the
            # same rules file byte for byte, each rule under its template's cluster
            self.assertEqual(r["by"], "template")
            self.assertIn(", %d templates (docs/templates.md)" % r["templates"], c.stderr.decode())
            self.assertEqual(r["suggested_rules"], sugg)
            rules = [x for g in r["groups"] for x in g["rules"]]
            self.assertEqual(sorted(x["id"] for x in rules),
                             sorted(l.split("id: ", 1)[1] for l in sugg.splitlines() if l.startswith("  - id: ")))
            self.assertTrue(rules)
            for g in r["groups"]:
                for x in g["rules"]:
                    self.assertIn("rules:", x["yaml"])
                    self.assertTrue(x["group"].startswith("template ") and x["group"].endswith(" in cluster %d" % g["id"]), x["group"])
            # a failed job says why (the CLI's words)
            st, _, body = srv.request("POST", "/v1/jobs/cluster", b"message\nx\ny\n")
            j = wait_job(srv, json.loads(body)["id"])
            self.assertEqual((j["state"], j["error"]), ("failed", "line 1: the header has no log_message column"))
        finally:
            self.finish(srv)


    def test_cluster_job_cancel(self):
        """DELETE /v1/jobs/ID stops a running job (state canceled, never
        done: the job is made long enough that it cannot finish first) and
        frees its slot: with every slot running a new job is 503 until one
        is canceled. A finished job is removed. The server exits 0 (under
        ASan: nothing of the canceled jobs leaked)."""
        import random
        rnd = random.Random(7)
        vocab = ["%s%s" % (a, b) for a in ("acct", "auth", "batch", "cache", "conn", "disk", "eng", "fetch", "gate", "host")
                 for b in "abcdefghij"]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["log_message", "target_label"])
        # ~8,000 templates, hence ~8,000 distinct vectors: DBSCAN, kNN and
        # 500 UMAP epochs on them take tens of seconds
        for i in range(8000):
            w.writerow([" ".join(rnd.choice(vocab) for _ in range(rnd.randint(4, 12))), "L%d" % (i % 5)])
        big = buf.getvalue().encode()
        srv = Server()
        try:
            def post():
                st, _, body = srv.request("POST", "/v1/jobs/cluster", big, {"Content-Type": "text/csv"})
                return st, json.loads(body)

            def get(job_id):
                st, _, body = srv.request("GET", "/v1/jobs/" + job_id)
                return st, json.loads(body)

            ids = []
            for _ in range(4):
                st, j = post()
                self.assertEqual(st, 202, j)
                ids.append(j["id"])
            st, j = post()
            self.assertEqual(st, 503, j)
            # cancel the first once it is at work (past the queue)
            deadline = time.time() + 120
            while get(ids[0])[1]["phase"] == "queued" and time.time() < deadline:
                time.sleep(0.05)
            phase = get(ids[0])[1]["phase"]
            self.assertIn(phase, ("templates", "embed", "dbscan", "knn", "layout"))
            t0 = time.time()
            st, _, body = srv.request("DELETE", "/v1/jobs/" + ids[0])
            self.assertEqual((st, json.loads(body)), (202, {"id": ids[0], "state": "canceling"}))
            j = wait_job(srv, ids[0])
            print("\n  canceled in phase %s %s/%s, %.2f s after DELETE (load %s)" %
                  (j["phase"], j["done"], j["total"], time.time() - t0, os.getloadavg()[0]), file=sys.stderr)
            self.assertEqual(j["state"], "canceled", j)
            self.assertNotIn("result", j)
            # its slot is free again
            st, j = post()
            self.assertEqual(st, 202, j)
            ids.append(j["id"])
            for job_id in ids[1:]:
                st, _, body = srv.request("DELETE", "/v1/jobs/" + job_id)
                self.assertEqual(st, 202, body)
            for job_id in ids[1:]:
                self.assertEqual(wait_job(srv, job_id)["state"], "canceled")
            # the first one's slot went to the fifth job: it is gone
            self.assertEqual(get(ids[0])[0], 404)
            # a finished job is removed; then it is 404
            st, _, body = srv.request("DELETE", "/v1/jobs/" + ids[1])
            self.assertEqual((st, json.loads(body)), (200, {"id": ids[1], "state": "deleted"}))
            self.assertEqual(get(ids[1])[0], 404)
            self.assertEqual(srv.request("DELETE", "/v1/jobs/" + ids[1])[0], 404)
            self.assertEqual(srv.request("DELETE", "/v1/jobs/cluster")[0], 405)
            st, hd, _ = srv.request("POST", "/v1/jobs/" + ids[2], b"x")
            self.assertEqual((st, hd.get("allow")), (405, "GET, HEAD, DELETE"))
            # a short job still runs to the end after all that
            st, _, body = srv.request("POST", "/v1/jobs/cluster", b"log_message\na b\nc d\n")
            self.assertEqual(st, 202)
            self.assertEqual(wait_job(srv, json.loads(body)["id"])["state"], "done")
            # and a running job left at shutdown is canceled, not waited for
            self.assertEqual(post()[0], 202)
        finally:
            self.finish(srv)


    def test_eval_equals_the_cli(self):
        """POST /v1/eval?name=F: `logify eval --json` on the same file (every
        figure) plus "svg", byte for byte `logify eval --plot`'s file; labels
        full of markup stay text in it; a malformed file is the CLI's reason."""
        import xml.etree.ElementTree as ET
        hostile = '<img src=x onerror=alert(1)>'
        with open(TEST_CSV, newline="") as f:
            rows = list(csv.DictReader(f))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "labelled & <b>.csv")
            with open(path, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["source", "log_message", "target_label"])
                for i, r in enumerate(rows):  # truths the cascade gets right, wrong, and markup
                    w.writerow([r["source"], r["log_message"], (hostile, "User Action", "Security Alert", "</svg><script>x</script>")[i % 4]])
            with open(path, "rb") as f:
                data = f.read()
            c = cli("eval", "--data", path, "--json", "--plot", os.path.join(d, "plot.svg"))
            self.assertEqual(c.returncode, 0, c.stderr)
            want = json.loads(c.stdout)
            with open(os.path.join(d, "plot.svg"), encoding="utf-8") as f:
                want_svg = f.read()
            bad = b"source,log_message,target_label\nModernCRM,ok,A\nModernCRM,\"open\n"
            with open(os.path.join(d, "bad.csv"), "wb") as f:
                f.write(bad)
            bad_err = cli("eval", "--data", os.path.join(d, "bad.csv")).stderr.decode().strip()
        srv = Server()
        try:
            st, hd, body = srv.request("POST", "/v1/eval?name=" + urllib.parse.quote("labelled & <b>.csv"), data,
                                       {"Content-Type": "text/csv"})
            self.assertEqual(st, 200, body[:300])
            self.assertTrue(hd["content-type"].startswith("application/json"))
            got = json.loads(body)
            svg = got.pop("svg")
            self.assertEqual(svg, want_svg, "the SVG is logify eval --plot's, byte for byte")
            got.pop("model"), want.pop("model")  # a path here, "default bundle" there
            self.assertEqual(got, want, "every figure is logify eval --json's")
            self.assertEqual(got["rows"], len(rows))
            self.assertIn(hostile, got["per_label"])
            root = ET.fromstring(svg)  # XML; a label never became markup
            tags = {e.tag.split("}")[1] for e in root.iter()}
            self.assertTrue(tags <= {"svg", "rect", "text", "title", "g", "line"}, tags)
            self.assertNotIn("<img", svg)
            self.assertIn(hostile, [e.text for e in root.iter("{http://www.w3.org/2000/svg}title")] +
                          [t for e in root.iter() for t in [e.get("data-truth")] if t])
            # malformed: the CLI's reason after the file's name
            st, _, body = srv.request("POST", "/v1/eval?name=bad.csv", bad, {"Content-Type": "text/csv"})
            self.assertEqual(st, 400)
            self.assertTrue(bad_err.endswith(": " + json.loads(body)["detail"].split(": ", 1)[1]), (bad_err, body))
            self.assertTrue(json.loads(body)["detail"].startswith("bad.csv: line 3: "), body)
            st, _, body = srv.request("POST", "/v1/eval", b"source,log_message\nA,b\n")
            self.assertEqual(st, 400)
            self.assertIn("missing required column 'target_label'", json.loads(body)["detail"])
            self.assertEqual(srv.request("POST", "/v1/eval", b"")[0], 400)
            self.assertEqual(srv.request("GET", "/v1/eval")[0], 405)
        finally:
            self.finish(srv)


if __name__ == "__main__":
    unittest.main(verbosity=1)
