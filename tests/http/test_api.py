"""Every endpoint of `logify serve` and its error answers, with http.client
against the real binary ($LOGIFY). Python 3 standard library only.
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_api.py"""
import csv
import http.client
import io
import json
import os
import re
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import Server, multipart, upload  # noqa: E402

LOGIN = "User User123 logged in."  # decided by the built-in rules: User Action
BACKUP = "Backup completed successfully."  # System Notification


def rows(text):
    return list(csv.reader(io.StringIO(text)))


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server()

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.close()
        assert rc == 0, "server exit code %s" % rc

    # ---- health, readiness ---------------------------------------------------------

    def test_healthz(self):
        st, hd, body = self.srv.request("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assertTrue(hd.get("x-request-id"))
        st, _, body = self.srv.request("HEAD", "/healthz")
        self.assertEqual((st, body), (200, b""))

    def test_readyz(self):
        st, _, body = self.srv.request("GET", "/readyz")
        self.assertEqual(st, 200)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "ready")
        self.assertEqual(set(doc["stages"]), {"rules", "model", "llm"})
        self.assertTrue(doc["stages"]["rules"]["loaded"])

    # ---- POST /classify/ ------------------------------------------------------------

    def test_upload_csv(self):
        data = ("source,log_message,extra\nModernCRM,%s,a\nBillingSystem,\"%s\",\"b,c\"\n"
                % (LOGIN, BACKUP)).encode()
        st, hd, body = upload(self.srv, data)
        self.assertEqual(st, 200, body)
        self.assertTrue(hd["content-type"].startswith("text/csv"))
        got = rows(body.decode())
        self.assertEqual(got[0], ["source", "log_message", "extra", "target_label"])
        self.assertEqual(got[1], ["ModernCRM", LOGIN, "a", "User Action"])
        self.assertEqual(got[2], ["BillingSystem", BACKUP, "b,c", "System Notification"])

    def test_upload_prototype_quirk(self):
        data = b'source,log_message\nModernCRM, "User User9 logged out."\r\n'
        st, _, body = upload(self.srv, data)
        self.assertEqual(st, 200, body)
        self.assertEqual(rows(body.decode())[1], ["ModernCRM", "User User9 logged out.", "User Action"])

    def test_upload_not_csv_name(self):
        st, hd, body = upload(self.srv, b"source,log_message\na,b\n", filename="logs.txt")
        self.assertEqual(st, 400)
        self.assertEqual(hd["content-type"], "application/json")
        self.assertEqual(json.loads(body), {"detail": "File must be a CSV."})

    def test_upload_missing_column(self):
        st, _, body = upload(self.srv, b"src,message\na,b\n")
        self.assertEqual(st, 400)
        d = json.loads(body)["detail"]
        self.assertTrue(d.startswith("CSV must contain 'source' and 'log_message' columns."), d)
        self.assertIn("'source'", d)

    def test_upload_malformed_row_names_line(self):
        data = b"source,log_message\na,ok\nb,\"unterminated\nc,d\n"
        st, _, body = upload(self.srv, data)
        self.assertEqual(st, 400)
        self.assertRegex(json.loads(body)["detail"], r"line 3\b")
        st, _, body = upload(self.srv, b"source,log_message\na,ok\nb,c,d\n")
        self.assertEqual(st, 400)
        self.assertRegex(json.loads(body)["detail"], r"line 3: expected 2 fields")

    def test_upload_empty_file(self):
        st, _, body = upload(self.srv, b"")
        self.assertEqual(st, 400)
        self.assertIn("no header row", json.loads(body)["detail"])

    def test_upload_without_file_field(self):
        body, ctype = multipart([("other", None, b"x")])
        st, _, data = self.srv.request("POST", "/classify/", body, {"Content-Type": ctype})
        self.assertEqual(st, 422)
        self.assertEqual(json.loads(data)["detail"][0]["loc"], ["body", "file"])
        st, _, data = self.srv.request("POST", "/classify/", b"{}", {"Content-Type": "application/json"})
        self.assertEqual(st, 422)

    def test_upload_no_trailing_slash(self):
        body, ctype = multipart([("file", "x.csv", b"source,log_message\na,%s\n" % BACKUP.encode())])
        st, _, data = self.srv.request("POST", "/classify", body, {"Content-Type": ctype})
        self.assertEqual(st, 200)

    def test_concurrent_uploads_do_not_mix(self):
        n, per = 8, 300
        results = [None] * n

        def one(i):
            lines = ["source,log_message"] + ["S%d,msg %d-%d" % (i, i, k) for k in range(per)]
            results[i] = upload(self.srv, ("\n".join(lines) + "\n").encode(), filename="t%d.csv" % i)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, (st, _, body) in enumerate(results):
            self.assertEqual(st, 200)
            got = rows(body.decode())[1:]
            self.assertEqual([r[:2] for r in got], [["S%d" % i, "msg %d-%d" % (i, k)] for k in range(per)])

    # ---- POST /v1/classify ----------------------------------------------------------

    def test_json(self):
        logs = [{"source": "ModernCRM", "log_message": LOGIN}, {"source": "X", "log_message": BACKUP},
                {"log_message": "something else entirely"}, {"source": None, "log_message": ""}]
        st, hd, doc = self.srv.json("POST", "/v1/classify", {"logs": logs})
        self.assertEqual(st, 200, doc)
        self.assertEqual(hd["content-type"], "application/json")
        res = doc["results"]
        self.assertEqual(len(res), 4)
        self.assertEqual((res[0]["label"], res[0]["stage"], res[0]["confidence"]), ("User Action", "rules", 1.0))
        self.assertEqual(res[1]["label"], "System Notification")
        for r in res:
            self.assertEqual(set(r), {"label", "stage", "confidence", "detail", "template_id"})
            self.assertIn(r["stage"], ("none", "rules", "model", "llm"))
        st, _, doc = self.srv.json("POST", "/v1/classify", {"logs": []})
        self.assertEqual((st, doc), (200, {"results": []}))

    def test_json_errors(self):
        st, _, body = self.srv.request("POST", "/v1/classify", b"{not json", {"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        self.assertIn("invalid JSON", json.loads(body)["detail"])
        st, _, doc = self.srv.json("POST", "/v1/classify", {"log": []})
        self.assertEqual(st, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["body", "logs"])
        st, _, doc = self.srv.json("POST", "/v1/classify", {"logs": [{"log_message": "a"}, {"source": "x"}]})
        self.assertEqual(st, 422)
        self.assertEqual(doc["detail"][0]["loc"], ["body", "logs", 1, "log_message"])
        st, _, doc = self.srv.json("POST", "/v1/classify", {"logs": [{"log_message": 5}]})
        self.assertEqual(st, 422)
        st, _, doc = self.srv.json("POST", "/v1/classify", [1, 2])
        self.assertEqual(st, 422)

    def test_json_parser_edges(self):
        """server_json.c against Python's json on escapes, unicode, skipped values, bad input."""
        msg = r"User User123 logged \u0069n\u002e"  # JSON escapes for "i" and "."
        body = (r'{"x": {"a": [1, -2.5e+3, true, false, null, {"b": "\ud83d\ude00"}]}, "logs": ['
                r'{"source": "S\"q", "log_message": "' + msg + r'", "extra": [[[]]]},'
                r'{"log_message": "Backup completed successfully.", "log_message": "last wins"},'
                '{"log_message": "caf\u00e9 \\t\\n\\/ \U0001f600"}], "tail": 0}')
        self.assertEqual(len(json.loads(body)["logs"]), 3)  # it is JSON
        st, _, data = self.srv.request("POST", "/v1/classify", body.encode(), {"Content-Type": "application/json"})
        self.assertEqual(st, 200, data)
        res = json.loads(data)["results"]
        self.assertEqual(len(res), 3)
        self.assertEqual(res[0]["label"], "User Action")
        self.assertNotEqual(res[1]["label"], "System Notification")  # the last duplicate key counts
        bads = [b'{"logs": [}', rb'{"logs": ["\x"]}', b'{"logs": []} x', b'{"logs": [01]}',
                b'{"logs": [{"log_message": "a\nb"}]}',
                b'\xff', b'{"logs": [{"log_message": "\xc3\x28"}]}', b'',
                b'{"logs": [{"log_message": "tab\there"}]}', b'{"logs": [1.]}', b'{"logs": [tru]}']
        for bad in bads:
            with self.assertRaises(ValueError, msg=bad):  # Python agrees that it is not JSON
                json.loads(bad)
            st, _, data = self.srv.request("POST", "/v1/classify", bad, {"Content-Type": "application/json"})
            self.assertEqual(st, 400, bad)
            self.assertRegex(json.loads(data)["detail"], r"^invalid JSON at line \d+, column \d+: ", bad)
        # JSON that Python takes and the server refuses on purpose (as jansson does): NUL in a
        # string, a lone surrogate, nesting deeper than 64
        for doc in (rb'{"logs": [{"log_message": "\u0000"}]}', rb'{"logs": [{"log_message": "\ud800"}]}',
                    b'{"x": ' + b'[' * 100 + b']' * 100 + b', "logs": []}'):
            json.loads(doc)
            self.assertEqual(self.srv.request("POST", "/v1/classify", doc)[0], 400, doc)
        st, _, data = self.srv.request("POST", "/v1/classify", b'{"logs": [{"log_message": "a",\n "source": 3}]}')
        self.assertEqual(st, 422)
        self.assertEqual(json.loads(data)["detail"][0]["loc"], ["body", "logs", 0, "source"])
        st, _, data = self.srv.request("POST", "/v1/classify", b'{"logs": {"log_message": "a"}}')
        self.assertEqual((st, json.loads(data)["detail"][0]["type"]), (422, "list_type"))
        st, _, data = self.srv.request("POST", "/v1/classify", b'{"logs": [1]}')
        self.assertEqual((st, json.loads(data)["detail"][0]["loc"]), (422, ["body", "logs", 0]))
        # a non-object before objects (a heap overflow the fuzzer found in the reader)
        doc = b'{"logs": [1, "x", ' + b','.join([b'{"log_message": "a"}'] * 40) + b']}'
        st, _, data = self.srv.request("POST", "/v1/classify", doc)
        self.assertEqual((st, json.loads(data)["detail"][0]["loc"]), (422, ["body", "logs", 0]))
        self.assertEqual(self.srv.request("GET", "/healthz")[0], 200)

    # ---- POST /v1/classify/stream ---------------------------------------------------

    def test_stream(self):
        lines = [json.dumps({"source": "ModernCRM", "log_message": LOGIN, "host": "h%d" % i}) for i in range(600)]
        body = ("\n".join(lines) + "\n\n" + json.dumps({"log_message": BACKUP})).encode()  # no final newline
        c = self.srv.conn()
        c.request("POST", "/v1/classify/stream", body=iter([body[:1000], body[1000:5001], body[5001:]]),
                  headers={"Content-Type": "application/x-ndjson"}, encode_chunked=True)
        r = c.getresponse()
        data = r.read()
        c.close()
        self.assertEqual(r.status, 200, data)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(r.getheader("Content-Type"), "application/x-ndjson")
        out = [json.loads(x) for x in data.decode().splitlines()]
        self.assertEqual(len(out), 601)
        self.assertEqual([o.get("host") for o in out[:600]], ["h%d" % i for i in range(600)])
        self.assertEqual(out[0]["target_label"], "User Action")
        self.assertEqual(out[0]["stage"], "rules")
        self.assertEqual(out[600]["target_label"], "System Notification")

    def test_stream_bad_line(self):
        body = b'{"log_message":"a"}\n{"log_message": 3}\n'
        st, _, data = self.srv.request("POST", "/v1/classify/stream?on_error=fail", body)
        self.assertEqual(st, 400)
        self.assertTrue(json.loads(data)["detail"].startswith("line 2:"))
        st, _, data = self.srv.request("POST", "/v1/classify/stream?on_error=fail", b'{"log_message":"a"}\n[oops\n')
        self.assertEqual(st, 400)
        self.assertIn("line 2", json.loads(data)["detail"])

    # ---- routing --------------------------------------------------------------------

    def test_404_405(self):
        st, _, body = self.srv.request("GET", "/nope")
        self.assertEqual((st, json.loads(body)), (404, {"detail": "Not Found"}))
        st, hd, body = self.srv.request("GET", "/classify/")
        self.assertEqual((st, json.loads(body)), (405, {"detail": "Method Not Allowed"}))
        self.assertEqual(hd["allow"], "POST")
        st, hd, _ = self.srv.request("POST", "/metrics", b"x")
        self.assertEqual(st, 405)
        self.assertIn("GET", hd["allow"])

    def test_keep_alive(self):
        c = self.srv.conn()
        for _ in range(3):
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            c.request("POST", "/v1/classify", body=json.dumps({"logs": [{"log_message": LOGIN}]}))
            r = c.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
        c.close()

    def test_request_id_in_access_log(self):
        st, hd, _ = self.srv.request("GET", "/readyz", headers={"X-Request-Id": "my-req.42"})
        self.assertEqual(hd["x-request-id"], "my-req.42")
        st, hd, _ = self.srv.request("GET", "/readyz", headers={"X-Request-Id": "bad id\x01"})
        gen = hd["x-request-id"]
        self.assertRegex(gen, r"^[0-9a-f]{8}-[0-9a-f]{8}$")
        for want in ("id=my-req.42 ", "id=%s " % gen):
            for _ in range(100):  # the log line is written when the request completes
                if want in self.srv.stderr():
                    break
                threading.Event().wait(0.02)
            self.assertIn(want, self.srv.stderr())

    # ---- metrics, OpenAPI, docs -------------------------------------------------------

    def test_metrics(self):
        self.srv.json("POST", "/v1/classify", {"logs": [{"log_message": LOGIN}, {"log_message": BACKUP}]})
        self.srv.request("GET", "/nope")
        st, hd, body = self.srv.request("GET", "/metrics")
        self.assertEqual(st, 200)
        self.assertTrue(hd["content-type"].startswith("text/plain; version=0.0.4"))
        text = body.decode()
        line = re.compile(r'^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"(,[a-z_]+="(?:[^"\\]|\\.)*")*\})? [0-9.e+-]+$')
        for ln in text.splitlines():
            if not ln.startswith("#"):
                self.assertRegex(ln, line)

        def val(name):
            m = re.search("^" + re.escape(name) + r" (\S+)$", text, re.M)
            self.assertIsNotNone(m, name)
            return float(m.group(1))

        self.assertGreaterEqual(val('logify_http_requests_total{route="/v1/classify",status="200"}'), 1)
        self.assertGreaterEqual(val('logify_http_requests_total{route="other",status="404"}'), 1)
        self.assertGreaterEqual(val('logify_rows_total{stage="rules"}'), 2)
        self.assertGreaterEqual(val('logify_label_rows_total{label="User Action"}'), 1)
        self.assertEqual(val("logify_http_requests_in_flight"), 0)
        n = val('logify_http_request_duration_seconds_count{route="/v1/classify"}')
        self.assertEqual(val('logify_http_request_duration_seconds_bucket{route="/v1/classify",le="+Inf"}'), n)

    def test_openapi(self):
        st, hd, body = self.srv.request("GET", "/openapi.json")
        self.assertEqual(st, 200)
        doc = json.loads(body)
        self.assertTrue(doc["openapi"].startswith("3."))
        want = {"/classify/": "post", "/v1/classify": "post", "/v1/classify/stream": "post", "/healthz": "get",
                "/readyz": "get", "/metrics": "get", "/openapi.json": "get", "/docs": "get", "/": "get",
                "/v1/jobs/cluster": "post", "/v1/jobs/{id}": "get delete", "/v1/eval": "post",
                "/admin/reload": "post"}
        self.assertEqual({p: sorted(v) for p, v in doc["paths"].items()}, {p: sorted(m.split()) for p, m in want.items()})
        want = [(p, m) for p, ms in want.items() for m in ms.split()]

        def refs(o):
            if isinstance(o, dict):
                for k, v in o.items():
                    if k == "$ref":
                        yield v
                    else:
                        yield from refs(v)
            elif isinstance(o, list):
                for v in o:
                    yield from refs(v)

        for ref in refs(doc):  # every $ref resolves
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
        for path, method in want:  # each documented operation exists and its codes are documented
            st, _, _ = self.srv.request(method.upper(), path.replace("{id}", "0" * 32), b"" if method == "post" else None)
            if "{" not in path:  # an unknown job id is a documented 404
                self.assertNotIn(st, (404, 405), path)
            self.assertIn(str(st), doc["paths"][path][method]["responses"], path)

    def test_docs(self):
        st, hd, body = self.srv.request("GET", "/docs")
        self.assertEqual(st, 200)
        self.assertTrue(hd["content-type"].startswith("text/html"))
        page = body.decode()
        self.assertIn("/openapi.json", page)
        self.assertNotRegex(page, r"(src|href)=\"https?://")  # no CDN
        if "swagger-ui-bundle.js" in page:
            for asset, ctype in (("swagger-ui-bundle.js", "application/javascript"), ("swagger-ui.css", "text/css")):
                st, hd, body = self.srv.request("GET", "/docs/" + asset)
                self.assertEqual(st, 200)
                self.assertTrue(hd["content-type"].startswith(ctype))
                self.assertGreater(len(body), 1000)
        else:
            print("note: swagger-ui-dist not installed (make docs-assets); /docs uses the built-in page",
                  file=sys.stderr)
        st, _, _ = self.srv.request("GET", "/docs/../../etc/passwd")
        self.assertEqual(st, 404)


class DocsAssets(unittest.TestCase):
    """--docs-assets DIR: the files a swagger-ui-dist holds are served under
    /docs/ and /docs becomes the Swagger UI page; a directory without them
    leaves the built-in page (a warning says so)."""

    def test_docs_assets_dir(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            files = {"swagger-ui-bundle.js": b"/* bundle */ var SwaggerUIBundle = 1;\n" * 40,
                     "swagger-ui.css": b".swagger-ui { color: black }\n" * 40,
                     "favicon-32x32.png": b"\x89PNG\r\n\x1a\n" + bytes(100)}
            for name, data in files.items():
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            srv = Server("--docs-assets", d)
            try:
                st, hd, page = srv.request("GET", "/docs")
                self.assertEqual(st, 200)
                self.assertIn(b"swagger-ui-bundle.js", page)
                for name, ctype in (("swagger-ui-bundle.js", "application/javascript"),
                                    ("swagger-ui.css", "text/css"), ("favicon-32x32.png", "image/png")):
                    st, hd, body = srv.request("GET", "/docs/" + name)
                    self.assertEqual((st, body), (200, files[name]), name)
                    self.assertTrue(hd["content-type"].startswith(ctype), hd["content-type"])
                st, _, _ = srv.request("GET", "/docs/other.js")
                self.assertEqual(st, 404)
            finally:
                self.assertEqual(srv.close(), 0)
            os.unlink(os.path.join(d, "swagger-ui.css"))  # the bundle alone is not enough
            srv = Server("--docs-assets", d)
            try:
                st, _, page = srv.request("GET", "/docs")
                self.assertEqual(st, 200)
                self.assertNotIn(b"swagger-ui-bundle.js", page)
                self.assertEqual(srv.request("GET", "/docs/swagger-ui-bundle.js")[0], 404)
                self.assertIn("no swagger-ui-dist files in", srv.stderr())
            finally:
                self.assertEqual(srv.close(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
