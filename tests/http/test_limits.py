"""Limits and lifecycle of `logify serve`: API key (401), body size (413),
rows per request (413), concurrency cap (503 + Retry-After), slow and stalled
clients, a client that leaves mid-upload, graceful shutdown with requests in
flight, the thread-per-connection mode. Each test starts its own server and
checks that it exits 0 (under ASan that includes no leaks).
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_limits.py"""
import json
import os
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import (Server, metric, multipart, raw_socket, read_http_response, refused,  # noqa: E402
                      upload, wait_for)

LOGIN = "User User123 logged in."


def csv_rows(n, prefix="m"):
    return ("source,log_message\n" + "".join("S,%s %d\n" % (prefix, i) for i in range(n))).encode()


def upload_head(port, body, ctype, path="/classify/"):
    """A raw socket that has sent the headers of an upload of len(body) bytes."""
    s = raw_socket(port)
    s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
               % (path, ctype, len(body))).encode())
    return s


class Limits(unittest.TestCase):
    def finish(self, srv):
        rc = srv.close()
        self.assertEqual(rc, 0, "server exit code")

    def test_api_key(self):
        for srv in (Server("--api-key", "s3cret"), Server(env={"LOGIFY_API_KEY": "s3cret"})):
            try:
                self.assertEqual(srv.request("GET", "/healthz")[0], 200)
                body = json.dumps({"logs": [{"log_message": LOGIN}]}).encode()
                for hdrs in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cre"},
                             {"Authorization": "Basic s3cret"}):
                    st, hd, data = srv.request("POST", "/v1/classify", body, hdrs)
                    self.assertEqual(st, 401, hdrs)
                    self.assertEqual(hd.get("www-authenticate"), "Bearer")
                    self.assertEqual(json.loads(data), {"detail": "Not authenticated"})
                for path in ("/metrics", "/readyz", "/openapi.json"):
                    self.assertEqual(srv.request("GET", path)[0], 401, path)
                st, _, data = srv.request("POST", "/v1/classify", body, {"Authorization": "Bearer s3cret"})
                self.assertEqual(st, 200)
                st, _, _ = upload(srv, csv_rows(3), headers={"Authorization": "Bearer s3cret"})
                self.assertEqual(st, 200)
            finally:
                self.finish(srv)

    def test_max_upload(self):
        srv = Server("--max-upload", "2K")
        try:
            st, _, data = upload(srv, csv_rows(300))  # Content-Length > 2K: refused before the body
            self.assertEqual(st, 413)
            self.assertIn("larger than 2048 bytes", json.loads(data)["detail"])
            # chunked: no length up front, counted as it arrives
            body, ctype = multipart([("file", "a.csv", csv_rows(400))])  # ~4.5 KB
            head = ("POST /classify/ HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" % ctype).encode()
            s = raw_socket(srv.port)
            s.sendall(head)
            for i in range(0, len(body), 500):  # past the cap; the rest is read and dropped
                s.sendall(b"%x\r\n%s\r\n" % (len(body[i:i + 500]), body[i:i + 500]))
            s.sendall(b"0\r\n\r\n")
            st, _, data = read_http_response(s)
            s.close()
            self.assertEqual(st, 413)
            self.assertIn("larger than 2048 bytes", json.loads(data)["detail"])
            # a chunked NDJSON stream is live (answered as it comes): past the
            # cap it ends with the reason and is cut off
            s = raw_socket(srv.port)
            s.sendall(b"POST /v1/classify/stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            line = json.dumps({"log_message": "x" * 200}).encode() + b"\n"
            for _ in range(10):  # 2.2 KB
                s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            s.sendall(b"0\r\n\r\n")
            got = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                got += d
            s.close()
            self.assertTrue(got.startswith(b"HTTP/1.1 200 OK\r\n"), got[:100])
            self.assertIn(b'{"detail":"request body larger than 2048 bytes"}\n', got)
            self.assertFalse(got.endswith(b"0\r\n\r\n"))
            s = raw_socket(srv.port)  # past twice the cap and still sending: hung up on
            s.sendall(head)
            got = None
            try:
                for _ in range(40):
                    s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
                got = s.recv(4096)
            except (BrokenPipeError, ConnectionResetError):
                got = b""
            s.close()
            self.assertEqual(got, b"")
            self.assertEqual(upload(srv, csv_rows(3))[0], 200)  # still serving
        finally:
            self.finish(srv)

    def test_nothing_written_to_disk(self):
        with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as tmp:
            srv = Server(cwd=cwd, env={"TMPDIR": tmp})
            try:
                self.assertEqual(upload(srv, csv_rows(5000))[0], 200)
                self.assertEqual(srv.request("POST", "/v1/classify/stream", b'{"log_message":"a"}\n' * 500)[0], 200)
                self.assertEqual(srv.json("POST", "/v1/classify", {"logs": [{"log_message": "a"}] * 500})[0], 200)
                self.assertEqual((os.listdir(cwd), os.listdir(tmp)), ([], []))  # the prototype wrote output.csv
            finally:
                self.finish(srv)

    def test_llm_counters_in_metrics(self):
        # an LLM endpoint that refuses connections: the stage fails fast, and counts it
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as cwd:  # no .env here
            srv = Server(cwd=cwd, env={"LOGIFY_LLM_BASE_URL": "http://127.0.0.1:%d/v1" % dead,
                                       "LOGIFY_LLM_RETRIES": "0", "LOGIFY_LLM_API_KEY": "x"})
            try:
                st, _, doc = srv.json("POST", "/v1/classify", {"logs": [{"source": "LegacyCRM", "log_message": "Case escalation failed"}]})
                self.assertEqual(st, 200)
                self.assertEqual(doc["results"][0]["label"], "Unclassified")
                self.assertGreaterEqual(metric(srv, "logify_llm_calls_total"), 1)
                self.assertGreaterEqual(metric(srv, "logify_llm_failures_total"), 1)
                # the counts add up: calls = answered + failed; rows by outcome
                self.assertEqual(metric(srv, "logify_llm_calls_total"),
                                 metric(srv, "logify_llm_answered_total") + metric(srv, "logify_llm_failures_total"))
                self.assertEqual(metric(srv, "logify_llm_rows_unavailable_total"), 1)
                self.assertEqual(metric(srv, "logify_llm_rows_labelled_total") + metric(srv, "logify_llm_rows_off_list_total"), 0)
                _, _, text = srv.request("GET", "/metrics")
                self.assertIn("\nlogify_llm_cache_evictions_total 0\n", text.decode())
            finally:
                self.finish(srv)

    def test_server_section_of_the_config_file(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "logify.yaml")
            with open(cfg, "w") as f:
                f.write("server:\n  max_rows: 3\n  max_upload: 64K\n  http_mode: poll\n  port: 1\n")
            srv = Server("--config", cfg)  # --port 0 (given) wins over port: 1
            try:
                self.assertEqual(upload(srv, csv_rows(3))[0], 200)
                st, _, data = upload(srv, csv_rows(4))
                self.assertEqual(st, 413)
                self.assertIn("more than 3 rows", json.loads(data)["detail"])
                self.assertEqual(upload(srv, csv_rows(5000))[0], 413)  # > 64K
            finally:
                self.finish(srv)
            srv = Server("--config", cfg, "--max-rows", "10")  # a flag wins over the file
            try:
                self.assertEqual(upload(srv, csv_rows(4))[0], 200)
            finally:
                self.finish(srv)
            for bad, want in (("server:\n  max_rowz: 3\n", "logify.yaml:2: server.max_rowz: unknown setting"),
                              ("server:\n  port: 70000\n", "logify.yaml:2: server.port must be"),
                              ("server:\n  api_key: k\n", "server.api_key is not read")):
                with open(cfg, "w") as f:
                    f.write(bad)
                with self.assertRaises(RuntimeError) as ctx:
                    Server("--config", cfg)
                self.assertIn(want, str(ctx.exception))

    def test_max_rows(self):
        srv = Server("--max-rows", "5")
        try:
            self.assertEqual(upload(srv, csv_rows(5))[0], 200)
            st, _, data = upload(srv, csv_rows(6))
            self.assertEqual(st, 413)
            self.assertIn("more than 5 rows", json.loads(data)["detail"])
            st, _, _ = srv.json("POST", "/v1/classify", {"logs": [{"log_message": "a"}] * 6})
            self.assertEqual(st, 413)
            st, _, _ = srv.request("POST", "/v1/classify/stream", b'{"log_message":"a"}\n' * 6)
            self.assertEqual(st, 413)
            st, _, _ = srv.request("POST", "/v1/classify/stream", b'{"log_message":"a"}\n' * 5)
            self.assertEqual(st, 200)
        finally:
            self.assertEqual(srv.stop(signal.SIGINT), 0)  # SIGINT drains like SIGTERM
            self.assertIn("SIGINT: draining", srv.stderr())
            srv.close()

    def test_concurrency_cap_503(self):
        srv = Server("--max-inflight", "1")
        try:
            body, ctype = multipart([("file", "a.csv", csv_rows(50))])
            s = upload_head(srv.port, body, ctype)
            s.sendall(body[:100])  # the first upload is now in flight
            self.assertTrue(wait_for(lambda: metric(srv, "logify_http_requests_in_flight") == 1))
            st, hd, data = srv.json("POST", "/v1/classify", {"logs": [{"log_message": LOGIN}]})
            self.assertEqual(st, 503)
            self.assertEqual(hd.get("retry-after"), "1")
            self.assertIn("detail", data)
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)  # not capped
            s.sendall(body[100:])
            st, _, out = read_http_response(s)
            s.close()
            self.assertEqual(st, 200)
            self.assertEqual(len(out.decode().splitlines()), 51)
            st, _, _ = srv.json("POST", "/v1/classify", {"logs": [{"log_message": LOGIN}]})
            self.assertEqual(st, 200)  # the slot came back
        finally:
            self.finish(srv)

    def test_slow_client_then_stalled_client(self):
        # The idle timeout is 3 s; the slow client sends a piece every 0.2 s
        # (a margin of 15x against a loaded machine stretching a sleep),
        # 3.2 s in all, longer than the timeout: only idleness counts.
        srv = Server("--timeout", "3")
        try:
            body, ctype = multipart([("file", "slow.csv", csv_rows(40))])
            s = upload_head(srv.port, body, ctype)
            step = len(body) // 16 + 1
            for i in range(0, len(body), step):
                s.sendall(body[i:i + step])
                time.sleep(0.2)
            st, _, out = read_http_response(s)
            s.close()
            self.assertEqual(st, 200)
            self.assertEqual(len(out.decode().splitlines()), 41)
            s = upload_head(srv.port, body, ctype)
            s.sendall(body[:50])
            s.settimeout(30)
            t0 = time.time()
            try:
                got = s.recv(4096)  # the server drops the idle connection
            except ConnectionResetError:
                got = b""
            self.assertEqual(got, b"")
            self.assertGreaterEqual(time.time() - t0, 1.0)
            s.close()
            self.assertTrue(wait_for(lambda: metric(srv, 'logify_http_requests_total{route="/classify/",status="aborted"}') >= 1))
            self.assertEqual(metric(srv, "logify_http_requests_in_flight"), 0)
        finally:
            self.finish(srv)

    def test_client_disconnects_mid_upload(self):
        srv = Server()
        try:
            body, ctype = multipart([("file", "big.csv", csv_rows(20000))])
            for cut in (10, len(body) // 2):
                s = upload_head(srv.port, body, ctype)
                s.sendall(body[:cut])
                s.close()
            self.assertTrue(wait_for(lambda: metric(srv, 'logify_http_requests_total{route="/classify/",status="aborted"}') >= 2))
            self.assertEqual(metric(srv, "logify_http_requests_in_flight"), 0)
            st, _, out = upload(srv, csv_rows(10))
            self.assertEqual(st, 200)
            self.assertEqual(len(out.decode().splitlines()), 11)
        finally:
            self.finish(srv)

    def test_graceful_shutdown_with_requests_in_flight(self):
        srv = Server("--grace", "30")
        body, ctype = multipart([("file", "a.csv", csv_rows(2000))])
        s = upload_head(srv.port, body, ctype)
        s.sendall(body[:len(body) // 2])
        self.assertTrue(wait_for(lambda: metric(srv, "logify_http_requests_in_flight") == 1))
        idle = srv.conn()  # an idle keep-alive connection
        idle.request("GET", "/healthz")
        idle.getresponse().read()
        srv.proc.send_signal(signal.SIGTERM)
        self.assertTrue(wait_for(lambda: "draining" in srv.stderr()))

        self.assertTrue(wait_for(lambda: refused(srv.port)))  # no new connections
        self.assertIsNone(srv.proc.poll())  # still finishing the upload
        s.sendall(body[len(body) // 2:])
        st, hd, out = read_http_response(s)
        s.close()
        self.assertEqual(st, 200)
        self.assertEqual(hd.get("connection", "").lower(), "close")
        lines = out.decode().splitlines()
        self.assertEqual(len(lines), 2001)
        self.assertTrue(lines[-1].startswith("S,m 1999,"))
        self.assertEqual(srv.proc.wait(60), 0)
        self.assertIn("logify: stopped\n", srv.stderr())
        idle.close()
        os.unlink(srv.log.name)

    def test_other_http_modes(self):
        for mode in ("poll", "epoll"):
            srv = Server("--http-mode", mode)
            try:
                st, _, doc = srv.json("POST", "/v1/classify", {"logs": [{"log_message": LOGIN}]})
                self.assertEqual((st, doc["results"][0]["label"]), (200, "User Action"))
                st, _, out = upload(srv, csv_rows(100))
                self.assertEqual((st, len(out.decode().splitlines())), (200, 101))
            finally:
                self.finish(srv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
