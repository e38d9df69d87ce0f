"""Live reload of `logify serve` (docs/reload.md) against the real binary
($LOGIFY): POST /admin/reload and SIGHUP swap in a new pipeline set while
clients keep classifying. Under load (JSON, upload and stream clients firing
without pause) 20 reloads alternate two rules files and one invalid file is
refused: no request fails, no answer mixes two sets, every request that ran
wholly between two reloads has the labels of the set then current, and
/metrics counts the reloads. A request in flight finishes on the set it
started with; a live (chunked) stream moves to the new set between pieces;
the endpoint needs the API key. Each test starts its own server and checks
that it exits 0. No timing decides a pass: waits are for events (a log
line, a count of answers), with a generous bound only against hanging.
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_reload.py"""
import csv
import http.client
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import TIMEOUT, Server, multipart, raw_socket, wait_for  # noqa: E402
from test_streaming import FullDuplex  # noqa: E402

KEY = "reload-test-key"
AUTH = {"Authorization": "Bearer " + KEY}
RULES_A = ("rules:\n"
           "  - {id: ping, label: Alpha-1, pattern: 'ping'}\n"
           "  - {id: pong, label: Alpha-2, pattern: 'pong'}\n")
RULES_B = ("rules:\n"
           "  - {id: ping, label: Beta-1, pattern: 'ping'}\n"
           "  - {id: pong, label: Beta-2, pattern: 'pong'}\n"
           "  - {id: pang, label: Beta-3, pattern: 'pang'}\n")
RULES_BAD = "rules:\n  - {id: ping, label: Broken, pattern: 'ping('}\n"
MESSAGES = ["ping %d", "pong %d", "pang %d"]
FAMILY = {("Alpha-1", "Alpha-2", "Unclassified"): "A", ("Beta-1", "Beta-2", "Beta-3"): "B"}


def family(labels):
    """'A' or 'B' when every line got the labels of one set, else None.
    labels: the labels of lines MESSAGES[i % 3], in order."""
    fams = {FAMILY.get(tuple(labels[i:i + 3])) for i in range(0, len(labels) - len(labels) % 3, 3)}
    tail = labels[len(labels) - len(labels) % 3:]
    if len(fams) != 1 or None in fams:
        return None
    f = fams.pop()
    want = next(k for k, v in FAMILY.items() if v == f)
    return f if list(tail) == list(want[:len(tail)]) else None


def metric(srv, name):
    """The value of the sample `name` in /metrics (0 when missing), asked
    with the key (a server without one ignores it)."""
    _, _, body = srv.request("GET", "/metrics", None, AUTH)
    for ln in body.decode().splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[-1])
    return 0.0


class Rules:
    """A rules file the server reads at start and at each reload; replaced
    whole (rename), so a reload reads the old or the new text, never half."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="logify-reload-")
        self.path = os.path.join(self.dir, "rules.yaml")
        self.write(RULES_A)

    def write(self, text):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- the clients of the load test -------------------------------------------------

def json_request(conn, n):
    logs = [{"source": "app", "log_message": MESSAGES[i % 3] % i} for i in range(n)]
    conn.request("POST", "/v1/classify", json.dumps({"logs": logs}),
                 dict(AUTH, **{"Content-Type": "application/json"}))
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise AssertionError("json %d %s" % (r.status, body[:200]))
    return [x["label"] for x in json.loads(body)["results"]]


def upload_request(conn, n):
    data = "source,log_message\n" + "".join("app,%s\n" % (MESSAGES[i % 3] % i) for i in range(n))
    body, ctype = multipart([("file", "logs.csv", data.encode())])
    conn.request("POST", "/classify/", body, dict(AUTH, **{"Content-Type": ctype}))
    r = conn.getresponse()
    text = r.read()
    if r.status != 200:
        raise AssertionError("upload %d %s" % (r.status, text[:200]))
    rows = list(csv.reader(io.StringIO(text.decode())))
    col = rows[0].index("target_label")
    return [row[col] for row in rows[1:]]


def stream_request(conn, n):
    # 700 lines: more than one batch of the stream (256), all on one set
    body = "".join(json.dumps({"source": "app", "log_message": MESSAGES[i % 3] % i}) + "\n" for i in range(n))
    conn.request("POST", "/v1/classify/stream", body.encode(),
                 dict(AUTH, **{"Content-Type": "application/x-ndjson"}))
    r = conn.getresponse()
    text = r.read()
    if r.status != 200:
        raise AssertionError("stream %d %s" % (r.status, text[:200]))
    return [json.loads(ln)["target_label"] for ln in text.decode().splitlines()]


class Client(threading.Thread):
    """Fires one kind of request without pause until stopped. Each answer is
    recorded with the reload clock before and after it: (v0, v1, family)."""

    def __init__(self, port, clock, kind, n):
        super().__init__(daemon=True)
        self.port, self.clock, self.kind, self.n = port, clock, kind, n
        self.stop = threading.Event()
        self.answers = []  # (v0, v1, family)
        self.failures = []
        self.cv = threading.Condition()

    def run(self):
        fn = {"json": json_request, "upload": upload_request, "stream": stream_request}[self.kind]
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        while not self.stop.is_set():
            v0 = self.clock.value
            try:
                labels = fn(conn, self.n)
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                self.failures.append("%s: %r" % (self.kind, e))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
                labels = None
            v1 = self.clock.value
            fam = family(labels) if labels is not None else None
            if labels is not None and fam is None:
                self.failures.append("%s: labels of two sets in one answer: %s" % (self.kind, labels[:9]))
            if len(self.failures) > 20:
                break
            with self.cv:
                self.answers.append((v0, v1, fam))
                self.cv.notify_all()
        conn.close()

    def count_since(self, v):
        """Answers to requests that started at clock v and ended before it moved."""
        return sum(1 for a in self.answers if a[0] == v and a[1] == v)

    def wait_answers(self, v, k):
        with self.cv:
            return self.cv.wait_for(lambda: self.count_since(v) >= k or self.failures
                                    or not self.is_alive(), TIMEOUT)


class Clock:
    """Even: no reload running (value/2 reloads done); odd: one is running."""
    value = 0


class Reload(unittest.TestCase):
    def setUp(self):
        self.rules = Rules()

    def tearDown(self):
        self.rules.remove()

    def start(self, *args):
        return Server("--rules", self.rules.path, "--route", "*=rules", *args)

    def finish(self, srv):
        self.assertEqual(srv.close(), 0, "server exit code")

    def reload(self, srv, headers=AUTH):
        st, hd, body = srv.request("POST", "/admin/reload", b"", headers)
        return st, hd, json.loads(body) if body else None

    def classify(self, srv, headers=AUTH):
        st, _, body = srv.json("POST", "/v1/classify",
                               {"logs": [{"source": "app", "log_message": m % 0} for m in MESSAGES]}, headers)
        self.assertEqual(st, 200, body)
        return family([r["label"] for r in body["results"]])

    # ---- the endpoint ---------------------------------------------------------------

    def test_admin_reload_answers(self):
        srv = self.start("--api-key", KEY)
        try:
            st, hd, body = self.reload(srv, {})
            self.assertEqual((st, hd.get("www-authenticate")), (401, "Bearer"))
            self.assertEqual(body, {"detail": "Not authenticated"})
            st, hd, body = srv.request("GET", "/admin/reload", None, AUTH)
            self.assertEqual((st, hd.get("allow")), (405, "POST"))
            self.assertIn("detail", json.loads(body))
            self.assertEqual(self.classify(srv), "A")
            st, _, ready = srv.request("GET", "/readyz", None, AUTH)
            self.assertEqual(json.loads(ready)["generation"], 1)
            self.rules.write(RULES_B)
            st, hd, body = self.reload(srv)
            self.assertEqual(st, 200, body)
            self.assertEqual(hd["content-type"], "application/json")
            self.assertEqual(body["status"], "ok")
            s = body["set"]
            self.assertEqual(s["generation"], 2)
            self.assertEqual(s["rules"], {"file": self.rules.path, "count": 3})
            # sorted; the model's labels too when a bundle was found (models/default)
            self.assertEqual(s["labels"], sorted(s["labels"]))
            self.assertLessEqual({"Beta-1", "Beta-2", "Beta-3", "Unclassified"}, set(s["labels"]))
            self.assertFalse([x for x in s["labels"] if x.startswith("Alpha")])
            self.assertIsNone(s["config"])
            self.assertEqual(self.classify(srv), "B")
            self.assertRegex(srv.stderr(), r"reload: generation 2: 3 rules \(%s\)" % self.rules.path)
            # an invalid set: refused with the reason, the old one stays
            self.rules.write(RULES_BAD)
            st, _, body = self.reload(srv)
            self.assertEqual(st, 422, body)
            self.assertEqual(body["status"], "refused")
            self.assertIn("ping", body["detail"])
            self.assertEqual(body["set"]["generation"], 2)
            self.assertRegex(srv.stderr(), r"reload refused: .*ping.*; keeping generation 2")
            self.assertEqual(self.classify(srv), "B")
            # a file that is gone: refused too
            os.unlink(self.rules.path)
            st, _, body = self.reload(srv)
            self.assertEqual(st, 422, body)
            self.assertIn("rules.yaml", body["detail"])
            self.assertEqual(metric(srv, "logify_reloads_total"), 1)
            self.assertEqual(metric(srv, "logify_reloads_failed_total"), 2)
            self.assertEqual(metric(srv, "logify_pipeline_generation"), 2)
            self.assertEqual(metric(srv, 'logify_http_requests_total{route="/admin/reload",status="422"}'), 2)
        finally:
            self.finish(srv)

    def test_admin_needs_a_key(self):
        srv = self.start()
        try:
            st, _, body = self.reload(srv, {})
            self.assertEqual(st, 403)
            self.assertIn("API key", body["detail"])
            self.assertEqual(metric(srv, "logify_pipeline_generation"), 1)
        finally:
            self.finish(srv)
        srv = self.start("--open-admin")
        try:
            self.rules.write(RULES_B)
            st, _, body = self.reload(srv, {})
            self.assertEqual(st, 200, body)
            self.assertEqual(self.classify(srv, {}), "B")
        finally:
            self.finish(srv)

    def test_sighup(self):
        srv = self.start("--quiet")
        try:
            self.rules.write(RULES_B)
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reloaded; generation 2 in use" in srv.stderr(), TIMEOUT),
                            srv.stderr())
            self.assertEqual(self.classify(srv, {}), "B")
            self.rules.write(RULES_BAD)
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reload refused; generation 2 in use" in srv.stderr(), TIMEOUT),
                            srv.stderr())
            self.assertRegex(srv.stderr(), r"error: reload refused: .*ping")  # even with --quiet
            self.assertEqual(self.classify(srv, {}), "B")
            self.assertEqual(srv.proc.poll(), None)  # SIGHUP does not end it
        finally:
            self.finish(srv)

    def test_signals_during_a_reload(self):
        """Signals that come while a reload runs (the main thread is busy)
        neither kill the server (threads it did not start, OpenBLAS's, do
        not block them) nor pile up: repeats make one more reload; SIGTERM
        then drains and exits 0."""
        srv = self.start("--quiet")
        try:
            # ~300 rules that take Vectorscan a while to compile: the reload is slow
            slow = RULES_B + "".join("  - {id: f%d, label: Filler, pattern: 'err[a-z]{2,5}code%d(x|y)+z'}\n" % (i, i)
                                     for i in range(300))
            self.rules.write(slow)
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "SIGHUP: reloading" in srv.stderr(), TIMEOUT))
            for _ in range(5):  # while it compiles
                srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: srv.stderr().count("SIGHUP: reloaded;") >= 2
                                     and srv.stderr().count("SIGHUP: reloading") == srv.stderr().count("SIGHUP: reloaded;"),
                                     TIMEOUT), srv.stderr())
            self.assertIsNone(srv.proc.poll(), srv.stderr())
            self.assertLessEqual(srv.stderr().count("SIGHUP: reloaded;"), 6)
            self.assertEqual(self.classify(srv, {}), "B")
            srv.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: srv.stderr().count("SIGHUP: reloading") >= 3, TIMEOUT))
            self.assertEqual(srv.stop(signal.SIGTERM), 0, srv.stderr())  # drains after that reload
            self.assertIn("SIGTERM: draining", srv.stderr())
        finally:
            self.finish(srv)

    # ---- in flight ----------------------------------------------------------------

    def test_upload_in_flight_finishes_on_its_set(self):
        """An upload whose answer is already streaming when the reload comes
        ends with the old labels; the next request gets the new ones."""
        srv = self.start("--open-admin", "--hold", "64K")
        try:
            n = 60000
            data = "source,log_message\n" + "".join("app,%s\n" % (MESSAGES[i % 3] % i) for i in range(n))
            body, ctype = multipart([("file", "logs.csv", data.encode())])
            c = FullDuplex(srv.port, "/classify/", body, ctype)
            c.send_upto(len(body) - 1000)  # all but the last rows
            self.assertTrue(c.wait_for_bytes(100 << 10), "no answer while the body was still open")
            self.rules.write(RULES_B)
            st, _, ans = self.reload(srv, {})
            self.assertEqual(st, 200, ans)
            self.assertEqual(self.classify(srv, {}), "B")  # new requests: the new set
            status, _, text, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertTrue(complete)
            rows = list(csv.reader(io.StringIO(text.decode())))
            self.assertEqual(len(rows), n + 1)
            self.assertEqual(family([r[2] for r in rows[1:]]), "A")  # the whole upload: the old set
        finally:
            self.finish(srv)

    def test_live_stream_moves_between_pieces(self):
        """A chunked stream (a shipper's, open for hours) is not pinned to
        the set it started with: each piece runs on the set current then."""
        srv = self.start("--open-admin")
        try:
            s = raw_socket(srv.port)
            s.sendall(b"POST /v1/classify/stream HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
            f = s.makefile("rb")

            def piece():
                data = b"".join(json.dumps({"source": "app", "log_message": m % 1}).encode() + b"\n"
                                for m in MESSAGES)
                s.sendall(b"%x\r\n%s\r\n" % (len(data), data))

            def answer_lines():
                size = int(f.readline().strip(), 16)
                data = f.read(size)
                self.assertEqual(f.readline(), b"\r\n")
                return [json.loads(x)["target_label"] for x in data.splitlines()]

            piece()
            self.assertEqual(f.readline(), b"HTTP/1.1 200 OK\r\n")
            while f.readline() != b"\r\n":
                pass
            got = []
            while len(got) < 3:
                got += answer_lines()
            self.assertEqual(family(got), "A")
            self.rules.write(RULES_B)
            self.assertEqual(self.reload(srv, {})[0], 200)
            piece()
            got = []
            while len(got) < 3:
                got += answer_lines()
            self.assertEqual(family(got), "B")
            s.sendall(b"0\r\n\r\n")
            self.assertEqual(f.readline(), b"0\r\n")
            s.close()
            # the rows of both sets are counted under their labels
            self.assertTrue(wait_for(lambda: metric(srv, 'logify_label_rows_total{label="Beta-3"}') == 1))
            self.assertEqual(metric(srv, 'logify_label_rows_total{label="Alpha-1"}'), 1)
        finally:
            self.finish(srv)

    def test_llm_cache_carried_over(self):
        """A persisted LLM cache (LOGIFY_LLM_CACHE) is saved before the new set
        reads it: a template the old set's client learned is answered from
        the cache by the new one, without a call."""
        fake = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fake_llm_server.py")
        port_file = os.path.join(self.rules.dir, "port")
        llm = subprocess.Popen(["/usr/bin/python3", fake, "--port-file", port_file, "--exit-with", str(os.getpid())],
                               stdout=subprocess.DEVNULL)
        srv = None
        try:
            self.assertTrue(wait_for(lambda: os.path.exists(port_file) and os.path.getsize(port_file) > 0, TIMEOUT))
            with open(port_file) as f:
                port = int(f.read())
            cache = os.path.join(self.rules.dir, "llm-cache.jsonl")
            env = {"LOGIFY_LLM_BASE_URL": "http://127.0.0.1:%d/m/ok+id=reload/v1" % port,
                   "LOGIFY_LLM_CACHE": cache, "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1"}
            for k in ("GROQ_API_KEY", "LOGIFY_LLM_API_KEY", "LOGIFY_LLM_MODEL"):
                env[k] = ""
            srv = Server("--rules", self.rules.path, "--route", "*=rules,llm", "--open-admin", env=env)
            line = {"logs": [{"source": "app", "log_message": "feature X is deprecated since 4.2"}]}
            st, _, body = srv.json("POST", "/v1/classify", line)
            self.assertEqual(st, 200, body)
            self.assertEqual((body["results"][0]["label"], body["results"][0]["stage"]),
                             ("Deprecation Warning", "llm"))
            self.assertFalse(os.path.exists(cache))  # written at exit, or at a reload
            st, _, ans = self.reload(srv, {})
            self.assertEqual(st, 200, ans)
            self.assertIsNotNone(ans["set"]["llm"])
            with open(cache) as f:
                self.assertIn("deprecated", f.read())
            st, _, body = srv.json("POST", "/v1/classify", line)
            self.assertEqual(body["results"][0]["label"], "Deprecation Warning")
            self.assertEqual(body["results"][0]["detail"], "llm (cached template)")
        finally:
            if srv:
                self.finish(srv)
            llm.kill()
            llm.wait()

    # ---- under load -------------------------------------------------------------------

    def test_twenty_reloads_under_load(self):
        srv = self.start("--api-key", KEY, "--quiet")
        clock = Clock()
        clients = [Client(srv.port, clock, "json", 30), Client(srv.port, clock, "json", 3),
                   Client(srv.port, clock, "upload", 60), Client(srv.port, clock, "stream", 700)]
        try:
            for c in clients:
                c.start()
            for c in clients:  # every client answered on the first set
                self.assertTrue(c.wait_answers(0, 2), c.failures)
            refused = None
            for k in range(1, 21):
                if k == 11:  # one invalid set in the middle: refused while the load goes on
                    self.rules.write(RULES_BAD)
                    st, _, refused = self.reload(srv)
                    self.assertEqual(st, 422, refused)
                    self.assertEqual(refused["set"]["generation"], 11)
                self.rules.write(RULES_B if k % 2 else RULES_A)
                clock.value += 1  # odd: a reload is running
                if k % 5 == 0:  # every fifth by SIGHUP, the rest by POST /admin/reload
                    srv.proc.send_signal(signal.SIGHUP)
                    self.assertTrue(wait_for(lambda: "reloaded; generation %d in use" % (k + 1) in srv.stderr(),
                                             TIMEOUT), srv.stderr()[-2000:])
                else:
                    st, _, body = self.reload(srv)
                    self.assertEqual(st, 200, body)
                    self.assertEqual(body["set"]["generation"], k + 1)
                clock.value += 1
                for c in clients:  # each kind of request ran wholly on the new set, twice
                    self.assertTrue(c.wait_answers(clock.value, 2), c.failures)
        finally:
            for c in clients:
                c.stop.set()
            for c in clients:
                c.join(TIMEOUT)
        try:
            self.assertIn("ping", refused["detail"])
            failures = [f for c in clients for f in c.failures]
            self.assertEqual(failures, [])
            total = 0
            for c in clients:
                self.assertFalse(c.is_alive())
                for v0, v1, fam in c.answers:
                    total += 1
                    if v0 == v1 and v0 % 2 == 0:  # wholly between two reloads: the set then current
                        self.assertEqual(fam, "B" if (v0 // 2) % 2 else "A", (c.kind, v0))
                    else:
                        self.assertIn(fam, ("A", "B"))
            print("load: %d answers over 20 reloads (%s), 0 failed" %
                  (total, ", ".join("%s %d" % (c.kind, len(c.answers)) for c in clients)), file=sys.stderr)
            self.assertEqual(metric(srv, "logify_reloads_total"), 20)
            self.assertEqual(metric(srv, "logify_reloads_failed_total"), 1)
            self.assertEqual(metric(srv, "logify_pipeline_generation"), 21)
            self.assertEqual(metric(srv, 'logify_http_requests_total{route="/admin/reload",status="200"}'), 16)
            for code in ("500", "503", "aborted"):
                for route in ("/v1/classify", "/classify/", "/v1/classify/stream"):
                    self.assertEqual(metric(srv, 'logify_http_requests_total{route="%s",status="%s"}'
                                            % (route, code)), 0)
        finally:
            self.finish(srv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
