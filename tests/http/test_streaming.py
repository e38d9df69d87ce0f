"""Answers that go out while the request body is still being read
(src/server/server_direct.c): POST /classify/ and POST /v1/classify/stream past
--hold. A client that reads while it sends gets the answer's head and first
rows before it has sent the end of its body; one that reads only afterwards
(http.client) still gets all of it; the answer is byte for byte the one a
held answer gives; a failure found after the head went out cuts the answer
off (no last chunk) and is logged; HTTP/1.0 clients and the poll mode keep
the held answer. Each test starts its own server and checks that it exits 0.
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_streaming.py"""
import http.client
import json
import os
import select
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import (TIMEOUT, Server, metric, multipart, raw_socket, refused, upload,  # noqa: E402
                      wait_for)

RULES = ("--route", "*=rules", "--route", "LegacyCRM=rules")
LINES = [
    "ModernCRM,User User%d logged in.",
    "ModernHR,Backup completed successfully for job %d.",
    "BillingSystem,Disk usage at %d% on node-3",
    "AnalyticsEngine,something nobody has a rule for %d",
]


def csv_body(n, bad_at=None):
    rows = ["source,log_message"]
    for i in range(n):
        rows.append(LINES[i % len(LINES)].replace("%d", str(i)) if i != bad_at else "S,three,fields")
    return ("\n".join(rows) + "\n").encode()


def ndjson_body(n, bad_at=None):
    out = []
    for i in range(n):
        if i == bad_at:
            out.append(b'{"log_message": 7}\n')
        else:
            src, msg = LINES[i % len(LINES)].replace("%d", str(i)).split(",", 1)
            out.append(json.dumps({"source": src, "log_message": msg, "n": i}).encode() + b"\n")
    return b"".join(out)


def readable(sock, timeout):
    return bool(select.select([sock], [], [], timeout)[0])


def read_chunked(f):
    """Reads a chunked body from a file object: (body, complete)."""
    body = b""
    while True:
        line = f.readline()
        if not line:
            return body, False
        size = int(line.strip(), 16)
        if size == 0:
            f.readline()
            return body, True
        data = f.read(size)
        body += data
        if len(data) < size or f.readline() != b"\r\n":
            return body, False


class FullDuplex:
    """A raw-socket client that sends a body in pieces and watches for the
    answer in between."""

    def __init__(self, port, path, body, ctype, version="HTTP/1.1"):
        self.s = raw_socket(port)
        self.s.sendall(("POST %s %s\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                        % (path, version, ctype, len(body))).encode())
        self.body = body
        self.sent = 0
        self.got = b""

    def send_upto(self, n):
        while self.sent < n:
            # drain what has arrived so that neither side's buffers fill
            while readable(self.s, 0):
                d = self.s.recv(1 << 16)
                if not d:
                    break
                self.got += d
            k = self.s.send(self.body[self.sent:n])
            self.sent += k

    def wait_for_bytes(self, n, timeout=TIMEOUT):
        end = time.time() + timeout
        while len(self.got) < n and time.time() < end:
            if readable(self.s, 0.2):
                d = self.s.recv(1 << 16)
                if not d:
                    break
                self.got += d
        return len(self.got) >= n

    def finish(self):
        """Sends the rest, reads to the close: (status, headers, body, complete)."""
        self.send_upto(len(self.body))
        while True:
            d = self.s.recv(1 << 16)
            if not d:
                break
            self.got += d
        self.s.close()
        head, _, rest = self.got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        if hdrs.get("transfer-encoding") == "chunked":
            import io
            body, complete = read_chunked(io.BytesIO(rest))
        else:
            body, complete = rest, len(rest) == int(hdrs.get("content-length", -1))
        return status, hdrs, body, complete


class Streaming(unittest.TestCase):
    def finish(self, srv):
        self.assertEqual(srv.close(), 0, "server exit code")

    def held_answer(self, path, body, ctype):
        """The answer of a server that holds everything (--hold 1G)."""
        srv = Server(*RULES, "--hold", "1G", "--max-upload", "1G")
        try:
            st, hd, data = srv.request("POST", path, body, {"Content-Type": ctype})
            self.assertEqual(st, 200)
            self.assertNotIn("close", hd.get("connection", ""))
            return data
        finally:
            self.finish(srv)

    def test_upload_answer_starts_before_the_body_ends(self):
        csv = csv_body(60000)  # ~2.7 MB
        body, ctype = multipart([("file", "logs.csv", csv)])
        want = self.held_answer("/classify/", body, ctype)
        srv = Server(*RULES, "--hold", "64K")
        try:
            c = FullDuplex(srv.port, "/classify/", body, ctype)
            c.send_upto(len(body) - 1000)  # all but the last rows
            self.assertTrue(c.wait_for_bytes(100 << 10), "no answer while the body was still open")
            self.assertTrue(c.got.startswith(b"HTTP/1.1 200 OK\r\n"), c.got[:80])
            status, hdrs, data, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertTrue(complete, "answer not terminated")
            self.assertEqual(hdrs["content-type"], "text/csv; charset=utf-8")
            self.assertEqual(hdrs["connection"], "close")
            self.assertTrue(hdrs["x-request-id"])
            self.assertEqual(data, want)
            self.assertEqual(data.count(b"\n"), 60001)
            # counted and logged like any answer
            _, _, m = srv.request("GET", "/metrics")
            self.assertIn('logify_http_requests_total{route="/classify/",status="200"} 1', m.decode())
            log = srv.stderr()
            self.assertRegex(log, r"path=/classify/ status=200 in=%d out=%d ms=\S+ end=ok" % (len(body), len(want)))
        finally:
            self.finish(srv)

    def test_client_that_reads_after_sending_gets_everything(self):
        csv = csv_body(400000)  # ~18 MB: more than the socket buffers hold
        want = self.held_answer("/classify/", *multipart([("file", "logs.csv", csv)]))
        srv = Server(*RULES, "--hold", "64K")
        try:
            st, hd, data = upload(srv, csv)  # http.client: sends all, then reads
            self.assertEqual(st, 200)
            self.assertEqual(hd.get("transfer-encoding"), "chunked")
            self.assertEqual(data, want)
        finally:
            self.finish(srv)

    def test_small_answers_are_held_and_keep_alive(self):
        srv = Server(*RULES, "--hold", "1M")
        try:
            c = srv.conn()
            for _ in range(2):  # same connection twice
                body, ctype = multipart([("file", "a.csv", csv_body(100))])
                c.request("POST", "/classify/", body, {"Content-Type": ctype})
                r = c.getresponse()
                data = r.read()
                self.assertEqual(r.status, 200)
                self.assertIsNotNone(r.getheader("Content-Length"))
                self.assertEqual(data.count(b"\n"), 101)
            c.close()
        finally:
            self.finish(srv)

    def test_late_malformed_row_cuts_the_answer(self):
        srv = Server(*RULES, "--hold", "64K")
        try:
            # early (inside the hold): a proper 400 naming the line
            st, _, data = upload(srv, csv_body(1000, bad_at=10))
            self.assertEqual(st, 400)
            self.assertIn("line 12", json.loads(data)["detail"])
            # late: the head went out, the answer ends without its last chunk
            body, ctype = multipart([("file", "logs.csv", csv_body(50000, bad_at=40000))])
            c = srv.conn()
            c.request("POST", "/classify/", body, {"Content-Type": ctype})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            with self.assertRaises(http.client.IncompleteRead):
                r.read()
            c.close()
            self.assertTrue(wait_log(srv, "end=cut"))
            log = srv.stderr()
            self.assertIn("answer cut off after", log)
            self.assertIn("Malformed CSV: line 40002", log)
            self.assertRegex(log, r"status=400 in=\d+ out=\d+ ms=\S+ end=cut")
            _, _, m = srv.request("GET", "/metrics")
            self.assertIn('logify_http_requests_total{route="/classify/",status="400"} 2', m.decode())
            self.assertEqual(srv.request("GET", "/healthz")[0], 200)
        finally:
            self.finish(srv)

    def test_http10_and_poll_mode_hold_the_answer(self):
        csv = csv_body(20000)
        body, ctype = multipart([("file", "logs.csv", csv)])
        want = self.held_answer("/classify/", body, ctype)
        srv = Server(*RULES, "--hold", "16K")
        try:
            c = FullDuplex(srv.port, "/classify/", body, ctype, version="HTTP/1.0")
            status, hdrs, data, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertNotIn("transfer-encoding", hdrs)
            self.assertTrue(complete)
            self.assertEqual(data, want)
        finally:
            self.finish(srv)
        srv = Server(*RULES, "--hold", "16K", "--http-mode", "poll")
        try:
            st, hd, data = srv.request("POST", "/classify/", body, {"Content-Type": ctype})
            self.assertEqual(st, 200)
            self.assertEqual(int(hd["content-length"]), len(want))
            self.assertEqual(data, want)
        finally:
            self.finish(srv)

    def test_ndjson_stream_answers_lines_as_they_come(self):
        body = ndjson_body(20000)
        want = self.held_answer("/v1/classify/stream", body, "application/x-ndjson")
        srv = Server(*RULES, "--hold", "16K")
        try:
            c = FullDuplex(srv.port, "/v1/classify/stream", body, "application/x-ndjson")
            c.send_upto(len(body) // 2)
            self.assertTrue(c.wait_for_bytes(32 << 10), "no answer while the body was still open")
            status, hdrs, data, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertTrue(complete)
            self.assertEqual(hdrs["content-type"], "application/x-ndjson")
            self.assertEqual(data, want)
            first = json.loads(data.split(b"\n", 1)[0])
            self.assertEqual((first["n"], first["target_label"]), (0, "User Action"))
        finally:
            self.finish(srv)

    def test_ndjson_late_bad_line_ends_with_its_reason(self):
        srv = Server(*RULES, "--hold", "16K")
        try:
            body = ndjson_body(20000, bad_at=15000)
            c = FullDuplex(srv.port, "/v1/classify/stream?on_error=fail", body, "application/x-ndjson")
            status, _, data, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertFalse(complete, "a cut answer must not end with the last chunk")
            last = json.loads(data.rstrip(b"\n").rsplit(b"\n", 1)[-1])
            self.assertEqual(last, {"detail": "line 15001: field must be a string"})
            rows = [json.loads(x) for x in data.rstrip(b"\n").split(b"\n")[:-1]]
            self.assertEqual([r["n"] for r in rows], list(range(15000)))
            self.assertTrue(wait_log(srv, "end=cut"))
        finally:
            self.finish(srv)
        # a client that reads only after sending: the server must not wait
        # for it mid-body (it would stall until --timeout and drop it)
        srv = Server(*RULES, "--hold", "16K", "--timeout", "5")
        try:
            body = ndjson_body(150000, bad_at=140000)  # ~11 MB of answer
            c = srv.conn()
            c.request("POST", "/v1/classify/stream?on_error=fail", body, {"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            with self.assertRaises(http.client.IncompleteRead) as cm:
                r.read()
            c.close()
            data = cm.exception.partial
            self.assertEqual(json.loads(data.rstrip(b"\n").rsplit(b"\n", 1)[-1]),
                             {"detail": "line 140001: field must be a string"})
            self.assertEqual(data.count(b"\n"), 140001)
            self.assertTrue(wait_log(srv, "status=400"))
            self.assertIn("end=cut", srv.stderr())
        finally:
            self.finish(srv)

    def test_chunked_ndjson_is_answered_line_by_line(self):
        """A body of unknown length (chunked) is a live stream: each piece's
        lines come back before the next piece is sent, with no --hold."""
        srv = Server(*RULES)
        try:
            s = raw_socket(srv.port)
            s.sendall(b"POST /v1/classify/stream?on_error=fail HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
            f = s.makefile("rb")

            def piece(lines):
                data = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
                s.sendall(b"%x\r\n%s\r\n" % (len(data), data))

            def answer_line():
                size = int(f.readline().strip(), 16)
                data = f.read(size)
                self.assertEqual(f.readline(), b"\r\n")
                return data

            piece([{"source": "ModernCRM", "log_message": "User User1 logged in.", "k": 1}])
            self.assertEqual(f.readline(), b"HTTP/1.1 200 OK\r\n")
            hdrs = {}
            while True:
                ln = f.readline()
                if ln == b"\r\n":
                    break
                k, v = ln.decode().split(":", 1)
                hdrs[k.lower()] = v.strip()
            self.assertEqual(hdrs["transfer-encoding"], "chunked")
            self.assertEqual(json.loads(answer_line())["target_label"], "User Action")
            piece([{"log_message": "Backup completed successfully.", "k": 2},
                   {"log_message": "no rule for this one", "k": 3}])
            two = answer_line().splitlines()
            self.assertEqual([json.loads(x)["k"] for x in two], [2, 3])
            piece([{"log_message": 5}])  # a bad line: the reason, then the answer is cut off
            self.assertEqual(json.loads(answer_line()), {"detail": "line 4: field must be a string"})
            s.sendall(b"0\r\n\r\n")
            self.assertEqual(f.read(), b"")  # closed without the last chunk
            s.close()
            self.assertTrue(wait_log(srv, "end=cut"))
        finally:
            self.finish(srv)

    def test_client_leaving_mid_answer(self):
        srv = Server(*RULES, "--hold", "16K")
        try:
            body, ctype = multipart([("file", "logs.csv", csv_body(200000))])
            c = FullDuplex(srv.port, "/classify/", body, ctype)
            c.send_upto(len(body) // 3)
            self.assertTrue(c.wait_for_bytes(1))
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.s.close()  # reset
            self.assertTrue(wait_log(srv, "end=client-abort"))
            self.assertTrue(wait_for(lambda: metric(srv, "logify_http_requests_in_flight", None) == 0, TIMEOUT))
            st, _, _ = upload(srv, csv_body(10))
            self.assertEqual(st, 200)
        finally:
            self.finish(srv)

    def test_shutdown_while_an_answer_streams(self):
        csv = csv_body(100000)
        body, ctype = multipart([("file", "logs.csv", csv)])
        srv = Server(*RULES, "--hold", "16K")
        try:
            c = FullDuplex(srv.port, "/classify/", body, ctype)
            c.send_upto(len(body) // 2)
            self.assertTrue(c.wait_for_bytes(1 << 10))
            srv.proc.send_signal(signal.SIGTERM)
            self.assertTrue(wait_log(srv, "draining"))
            self.assertTrue(wait_for(lambda: refused(srv.port), TIMEOUT))  # no new connections
            self.assertIsNone(srv.proc.poll())  # still finishing the upload
            status, _, data, complete = c.finish()
            self.assertEqual(status, 200)
            self.assertTrue(complete)
            self.assertEqual(data.count(b"\n"), 100001)
            self.assertEqual(srv.proc.wait(TIMEOUT), 0)
        finally:
            self.finish(srv)

    def test_hold_setting(self):
        import subprocess
        from lgserver import LOGIFY
        r = subprocess.run([LOGIFY, "serve", "--hold", "lots"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--hold must be a size such as 4M", r.stderr)
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write("server:\n  hold: nope\n")
        try:
            r = subprocess.run([LOGIFY, "serve", "--config", f.name], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn(":2: server.hold must be a size such as 100M", r.stderr)
        finally:
            os.unlink(f.name)


def wait_log(srv, text):
    return wait_for(lambda: text in srv.stderr(), TIMEOUT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
