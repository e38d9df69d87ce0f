"""Hardening of `logify serve` (issue 14): what a hostile or careless client
tries. Each test starts its own server on 127.0.0.1 and checks it exits 0.
Bounded: at most a few hundred sockets, each test a few seconds, outcomes
asserted with generous bounds (a loaded 2-core machine, the ASan build).
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_hardening.py"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import LOGIFY, Server, metric, multipart, raw_socket, wait_for  # noqa: E402


def connect_from(src, port, timeout=10):
    """A socket to 127.0.0.1:port from the loopback address src (any 127/8
    address is ours on Linux), so that 'other clients' have other addresses."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_peer(s, wait):
    """True when the server closed (or reset) s within `wait` seconds."""
    s.settimeout(wait)
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def healthz_from(src, port, timeout=10):
    s = connect_from(src, port, timeout)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            got = s.recv(4096)
            if not got:
                break
            data += got
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


class Slowloris(unittest.TestCase):
    """Item 6: slow request heads must not take /healthz down."""

    def test_trickled_heads_are_cut_and_healthz_answers(self):
        # 100 connections in all; the attacker tries 200 from one address
        srv = Server("--max-connections", "100", "--max-per-ip", "16", "--head-timeout", "2",
                     "--timeout", "30", "--quiet")
        attackers, stop = [], threading.Event()
        try:
            for _ in range(200):
                try:
                    s = connect_from("127.0.0.2", srv.port, timeout=5)
                    s.sendall(b"GET /healthz HTTP/1.1\r\n")
                    attackers.append(s)
                except OSError:
                    pass  # refused or reset: fine

            def trickle():  # one header line every 0.5 s on every socket still open
                i = 0
                while not stop.wait(0.5):
                    i += 1
                    for s in attackers:
                        try:
                            s.sendall(b"X-Slow-%d: 1\r\n" % i)
                        except OSError:
                            pass
            t = threading.Thread(target=trickle, daemon=True)
            t.start()
            # other clients are served while it goes on
            ok = sum(healthz_from("127.0.0.1", srv.port) for _ in range(30))
            self.assertEqual(ok, 30, "/healthz answered %d of 30 during the attack" % ok)
            # every trickling connection was cut: by the per-address limit at
            # once, or by the head deadline (2 s) long before the idle timeout
            open_after = sum(not closed_by_peer(s, 15) for s in attackers)
            stop.set()
            t.join()
            self.assertEqual(open_after, 0, "%d trickling connections still open" % open_after)
            self.assertGreaterEqual(metric(srv, "logify_http_head_timeouts_total"), 1)
            self.assertTrue(healthz_from("127.0.0.2", srv.port), "the attacker's address is served again")
        finally:
            stop.set()
            for s in attackers:
                s.close()
            self.assertEqual(srv.close(), 0, "server exit code")


# The /docs page's script with a stub browser: fetch, sessionStorage, DOM.
NODE_HARNESS = r"""
const html = require("fs").readFileSync(0, "utf8");
const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(m => m[1]).join("\n");
const store = {}, els = {}, calls = [];
const el = id => (els[id] = els[id] || {style: {}, textContent: "", innerHTML: "", value: ""});
global.sessionStorage = {getItem: k => (k in store ? store[k] : null), setItem: (k, v) => { store[k] = v; }};
global.document = {getElementById: el};
global.location = {reload: () => {}};
global.SwaggerUIBundle = o => { calls.push({swagger: true, spec: !!o.spec, url: o.url || null,
  header: o.requestInterceptor ? o.requestInterceptor({headers: {}}).headers.Authorization || null : null}); };
const want = process.argv[process.argv.length - 1];
global.fetch = (url, opt) => {
  const auth = (opt && opt.headers && opt.headers.Authorization) || null;
  calls.push({url, auth});
  const ok = auth === "Bearer " + want;
  return Promise.resolve({status: ok ? 200 : 401, ok,
    json: () => Promise.resolve({info: {}, paths: {}, components: {schemas: {}}})});
};
const run = () => { eval(scripts); return new Promise(r => setTimeout(r, 50)); };
(async () => {
  await run();                                   // no key yet: 401, the form shows
  const first = {login: el("login").style.display, calls: calls.splice(0)};
  el("key").value = want; eval(scripts + "\nsetKey();"); // the user types the key
  await new Promise(r => setTimeout(r, 50)); calls.splice(0);
  await run();                                   // reloaded with the key
  console.log(JSON.stringify({first, second: calls}));
})();
"""


class AuthAndDocs(unittest.TestCase):
    """Item 7: no silent 'no auth', /docs usable with a key, routes not revealed."""

    def test_empty_key_is_refused(self):
        for args, env in ((["--api-key", ""], {}), ([], {"LOGIFY_API_KEY": ""})):
            full = dict(os.environ)
            full.pop("LOGIFY_API_KEY", None)
            full.update(env)
            p = subprocess.run([LOGIFY, "serve", "--port", "0", *args], env=full, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 2, (args, env, p.stderr))
            self.assertIn(b"API key (--api-key or LOGIFY_API_KEY) is empty", p.stderr)

    def test_unknown_paths_401_and_open_docs(self):
        srv = Server("--api-key", "s3cret", "--quiet")
        try:
            for method, path in (("GET", "/nope"), ("POST", "/admin"), ("GET", "/v1/classify"),
                                 ("DELETE", "/metrics"), ("GET", "/classify/x")):
                st, hd, body = srv.request(method, path)
                self.assertEqual((st, json.loads(body)), (401, {"detail": "Not authenticated"}), (method, path))
                self.assertEqual(hd.get("www-authenticate"), "Bearer")
            auth = {"Authorization": "Bearer s3cret"}
            self.assertEqual(srv.request("GET", "/nope", headers=auth)[0], 404)
            self.assertEqual(srv.request("GET", "/v1/classify", headers=auth)[0], 405)
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
            self.assertEqual(srv.request("GET", "/openapi.json")[0], 401)
            st, hd, page = srv.request("GET", "/docs")
            self.assertEqual(st, 200)
            self.assertTrue(hd["content-type"].startswith("text/html"))
            self.assertIn(b'id="login"', page)
            self.assertNotIn(b"/v1/classify", page)  # the page itself names no route
            node = shutil.which("node") or shutil.which("nodejs")
            if not node:
                print("note: node not installed: the /docs login script is not run", file=sys.stderr)
                return
            p = subprocess.run([node, "-e", NODE_HARNESS, "s3cret"], input=page, timeout=60,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(p.returncode, 0, p.stderr)
            got = json.loads(p.stdout)
            self.assertEqual(got["first"]["login"], "block")  # asked for the key
            self.assertEqual(got["first"]["calls"], [{"url": "/openapi.json", "auth": None}])
            self.assertEqual(got["second"][0], {"url": "/openapi.json", "auth": "Bearer s3cret"})
            if len(got["second"]) > 1:  # the Swagger UI page: built from the fetched spec
                self.assertEqual(got["second"][1], {"swagger": True, "spec": True, "url": None,
                                                    "header": "Bearer s3cret"})
        finally:
            self.assertEqual(srv.close(), 0, "server exit code")


def chunked_complete(data):
    """(decoded body, True when the chunked stream had its last chunk)."""
    out, i = b"", 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            return out, False
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            return out, data[j + 2:j + 4] == b"\r\n"
        if len(data) < j + 2 + size + 2:
            return out + data[j + 2:j + 2 + size], False
        out += data[j + 2:j + 2 + size]
        i = j + 2 + size + 2


class ShutdownCut(unittest.TestCase):
    """Item 8: an upload that outlasts --grace is cut recognisably, logged as
    cut by the shutdown, and the exit status says so."""

    def test_upload_past_grace(self):
        srv = Server("--grace", "0.5", "--hold", "64K", "--route", "*=rules", "--route", "LegacyCRM=rules")
        rows = "".join("S,User User%d logged in.\n" % i for i in range(60000))
        body, ctype = multipart([("file", "big.csv", ("source,log_message\n" + rows).encode())])
        s = raw_socket(srv.port)
        try:
            s.sendall(("POST /classify/ HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                       % (ctype, len(body))).encode())
            s.sendall(body[:len(body) // 3])  # and never the rest: it cannot finish
            got = b""
            while b"\r\n\r\n" not in got or len(got) < 70000:  # the head and > --hold of answer
                more = s.recv(65536)
                self.assertTrue(more, "closed early: %r" % got[:200])
                got += more
            head, rest = got.split(b"\r\n\r\n", 1)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
            self.assertIn(b"chunked", head.lower())
            stopper = threading.Thread(target=lambda: setattr(self, "rc", srv.stop()))
            stopper.start()
            while True:
                try:
                    more = s.recv(65536)
                except (ConnectionResetError, BrokenPipeError):
                    more = b""
                if not more:
                    break
                rest += more
            stopper.join()
            text, complete = chunked_complete(rest)
            self.assertFalse(complete, "a cut answer ended like a whole one")
            self.assertTrue(text.startswith(b"source,log_message,target_label\n"))
            self.assertLess(text.count(b"\n"), 60001)
            self.assertEqual(self.rc, 3, "exit status: requests were cut\n" + srv.stderr())
            self.assertIn("end=shutdown-cut", srv.stderr())
            self.assertIn("with 1 request cut off unfinished", srv.stderr())
        finally:
            s.close()
            srv.stop()
            os.unlink(srv.log.name)


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def shipper_target(name):
    """(path with query, bearer?) from resources/shippers/<name>, as the shipper reads it."""
    text = open(os.path.join(ROOT, "resources", "shippers", name)).read()
    if name.endswith(".toml"):
        uri = re.search(r'^uri\s*=\s*"http://[^/]+(/[^"]*)"', text, re.M).group(1)
        bearer = re.search(r'^auth\.strategy\s*=\s*"bearer"', text, re.M) is not None
        assert re.search(r'^encoding\.codec\s*=\s*"json"', text, re.M)
        assert re.search(r'^framing\.method\s*=\s*"newline_delimited"', text, re.M)
    else:
        uri = re.search(r"^\s*uri\s+(\S+)", text, re.M).group(1)
        bearer = re.search(r"^\s*header\s+Authorization\s+Bearer\s", text, re.M) is not None
        assert re.search(r"^\s*format\s+json_lines", text, re.M)
    return uri, bearer


class Shippers(unittest.TestCase):
    """Item 10: NDJSON answered per line; the field names shippers use; the
    example configs in resources/shippers, by replaying the requests Vector's
    http sink and Fluent Bit's http output send (neither is packaged for
    Debian or npm, so they cannot run here)."""

    KEY = "k3y"

    def setUp(self):
        # rows whose source is "billing" go to the (unconfigured) llm stage:
        # their detail shows which field became the source
        self.srv = Server("--api-key", self.KEY, "--quiet", "--route", "billing=llm", "--route", "*=rules",
                          env={"GROQ_API_KEY": "", "LOGIFY_LLM_BASE_URL": ""})

    def tearDown(self):
        self.assertEqual(self.srv.close(), 0, "server exit code")

    def replay(self, path, headers, lines):
        s = raw_socket(self.srv.port)
        body = b"".join(lines)
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n" % (path, self.srv.port, len(body))
        head += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        s.sendall(head.encode() + body)
        from lgserver import read_http_response
        st, hd, data = read_http_response(s)
        s.close()
        return st, hd, [json.loads(x) for x in data.decode().splitlines()]

    def test_fluent_bit_json_lines(self):
        path, bearer = shipper_target("fluent-bit.conf")
        self.assertTrue(bearer)
        lines = [b'{"date":1700000000.123456,"log":"Backup completed successfully.","service":"web"}\n',
                 b'{"date":1700000001.5,"log":"User User7 logged in.","service":"billing"}\n']
        # Fluent Bit >= 3.0.3 sends application/x-ndjson for json_lines; older ones application/json
        for ctype in ("application/x-ndjson", "application/json"):
            st, hd, out = self.replay(path, [("Content-Type", ctype), ("User-Agent", "Fluent-Bit"),
                                             ("Authorization", "Bearer " + self.KEY)], lines)
            self.assertEqual(st, 200, out)
            self.assertEqual(len(out), 2)
            self.assertEqual(out[0]["target_label"], "System Notification")
            self.assertEqual(out[0]["date"], 1700000000.123456)  # the shipper's own fields come back intact
            self.assertEqual((out[1]["target_label"], out[1]["detail"]), ("Unclassified", "llm not configured"))

    def test_vector_http_sink(self):
        path, bearer = shipper_target("vector.toml")
        self.assertTrue(bearer)
        ev = {"file": "/var/log/app/a.log", "host": "web1", "source_type": "file",
              "timestamp": "2024-05-01T12:00:00.123Z"}
        lines = [json.dumps(dict(ev, message="User User1 logged in.")).encode() + b"\n",
                 json.dumps(dict(ev, message={"nested": 1})).encode() + b"\n",  # a bad one
                 b"not json\n",
                 json.dumps(dict(ev, message="Backup completed successfully.", host="billing")).encode() + b"\n"]
        st, hd, out = self.replay(path, [("content-type", "application/x-ndjson"),
                                         ("authorization", "Bearer " + self.KEY),
                                         ("user-agent", "Vector/0.39.0 (x86_64-unknown-linux-gnu)"),
                                         ("accept-encoding", "zstd,gzip,deflate,br")], lines)
        self.assertEqual(st, 200, out)  # one bad line does not fail the batch
        self.assertEqual(len(out), 4)
        self.assertEqual(out[0]["target_label"], "User Action")
        self.assertEqual(out[1], {"line": 2, "detail": "field 'message' must be a string"})
        self.assertEqual(out[2]["line"], 3)
        self.assertTrue(out[2]["detail"].startswith("invalid JSON"))
        self.assertEqual((out[3]["target_label"], out[3]["detail"]), ("Unclassified", "llm not configured"))
        _, _, m = self.srv.request("GET", "/metrics", headers={"Authorization": "Bearer " + self.KEY})
        self.assertIn("\nlogify_stream_bad_lines_total 2\n", m.decode())

    def test_strict_names_and_fail_mode(self):
        auth = {"Authorization": "Bearer " + self.KEY}
        body = b'{"message":"User User1 logged in."}\n'
        st, _, data = self.srv.request("POST", "/v1/classify/stream", body, auth)  # strict: not mapped
        self.assertEqual((st, json.loads(data)), (200, {"line": 1, "detail": "field 'log_message' is required"}))
        st, _, data = self.srv.request("POST", "/v1/classify/stream?on_error=fail", body, auth)
        self.assertEqual((st, json.loads(data)), (400, {"detail": "line 1: field 'log_message' is required"}))
        for q in ("fields=all", "on_error=skip"):
            st, _, data = self.srv.request("POST", "/v1/classify/stream?" + q, body, auth)
            self.assertEqual(st, 400, q)
            self.assertIn("must be", json.loads(data)["detail"])
        for key in ("log", "msg", "MESSAGE"):  # each shipper name, and log_message first
            st, _, data = self.srv.request("POST", "/v1/classify/stream?fields=shippers",
                                           json.dumps({key: "User User1 logged in.", "log_message": "x"}).encode(), auth)
            self.assertEqual(json.loads(data)["target_label"], "Unclassified", key)  # "x" was read


if __name__ == "__main__":
    unittest.main(verbosity=2)
