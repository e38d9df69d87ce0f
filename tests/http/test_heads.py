"""Bad request heads (issue 14, item 9): libmicrohttpd 0.9.75 answered some
heads itself, before any Logify code ran: `Content-Length: -1` and a 20-digit
length got the status line and headers twice and an HTML body; a too-long
request line (414) and too-large headers (431) got HTML. The front door
(src/server/server_front.c, server_head.c) now checks each connection's head
first. Each test sends raw bytes on a socket, reads everything until the server
closes, and asserts: exactly one status line, the right status, a JSON
{"detail": ...} body whose length matches Content-Length. KeptAlive sends each
bad head again as the 2nd and 3rd request of a kept-alive connection and
pipelined behind good requests (with Content-Length and chunked bodies): the
good requests before it must be answered as usual, then the bad head once, in
JSON (the library read those heads itself before src/server/server_pump.c).
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_heads.py"""
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import Server, metric, raw_socket  # noqa: E402


def read_to_close(s, got=b""):
    """Everything s receives (after got) until the server closes it."""
    while True:
        try:
            k = s.recv(65536)
        except ConnectionResetError:
            break
        if not k:
            break
        got += k
    return got


def exchange(port, data, timeout=30, pause=0.0):
    """Sends data (bytes, or a list of parts sent one write each; a reset once
    the server answered is ignored) and returns all bytes received until the
    server closes the connection."""
    s = raw_socket(port, timeout)
    got = b""
    try:
        try:
            for i, part in enumerate(data if isinstance(data, list) else [data]):
                if i and pause:
                    time.sleep(pause)  # so that the parts arrive apart
                s.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.shutdown(socket.SHUT_WR)
        got = read_to_close(s)
    finally:
        s.close()
    return got


class ServerCase(unittest.TestCase):
    """One server for the class; the checks of an answer to a bad head."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--quiet", "--max-upload", "1M")

    @classmethod
    def tearDownClass(cls):
        rc = cls.srv.close()
        if rc != 0:
            raise AssertionError("server exit code %d" % rc)

    def one_json_answer(self, raw, status, detail_re):
        """raw: the server's bytes; one response with `status`, JSON body."""
        self.assertEqual(len(re.findall(rb"HTTP/1\.[01] \d{3} ", raw)), 1, "status lines in %r" % raw[:600])
        head, sep, body = raw.partition(b"\r\n\r\n")
        self.assertTrue(sep, "no end of head in %r" % raw[:600])
        first = head.split(b"\r\n")[0]
        self.assertEqual(int(first.split()[1]), status, first)
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            self.assertNotIn(k.strip().lower(), fields, "header %r twice" % k)
            fields[k.strip().lower()] = v.strip()
        self.assertEqual(fields.get(b"content-type"), b"application/json")
        self.assertEqual(int(fields[b"content-length"]), len(body), "the body is all there is")
        doc = json.loads(body)
        self.assertEqual(list(doc), ["detail"])
        self.assertRegex(doc["detail"], detail_re)
        self.assertNotIn(b"<html", raw.lower())

    def post(self, headers, body=b""):
        return (b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers +
                b"\r\n" + body)


class Heads(ServerCase):
    """Bad heads as the first request of a connection."""

    def test_negative_content_length(self):
        raw = exchange(self.srv.port, self.post(b"Content-Length: -1\r\n"))
        self.one_json_answer(raw, 400, r"Content-Length")

    def test_twenty_digit_content_length(self):
        raw = exchange(self.srv.port, self.post(b"Content-Length: 99999999999999999999\r\n"))
        self.one_json_answer(raw, 413, r"larger than 1048576 bytes")

    def test_non_numeric_content_length(self):
        for v in (b"abc", b"12abc", b"0x10", b"", b"1 2", b"+5"):
            with self.subTest(v=v):
                raw = exchange(self.srv.port, self.post(b"Content-Length: " + v + b"\r\n"))
                self.one_json_answer(raw, 400, r"Content-Length")

    def test_conflicting_content_lengths(self):
        raw = exchange(self.srv.port, self.post(b"Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"))
        self.one_json_answer(raw, 400, r"two different Content-Length")
        # the same value twice is one length (RFC 9110, 8.6): served
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                       b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 "), raw[:200])

    def test_in_range_length_over_the_cap_is_still_ours(self):
        # 19 digits: within 64 bits, so the library takes it and server.c
        # answers 413 after its auth / route checks, as before
        raw = exchange(self.srv.port, self.post(b"Content-Length: 9999999999999999999\r\n"))
        self.one_json_answer(raw, 413, r"larger than 1048576 bytes")

    def test_uri_too_long(self):
        raw = exchange(self.srv.port, b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.one_json_answer(raw, 414, r"request line longer than")
        # a request line that never ends is cut at the limit, not waited for
        raw = exchange(self.srv.port, b"GET /" + b"a" * 20000)
        self.one_json_answer(raw, 414, r"request line longer than")

    def test_head_too_large(self):
        many = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 100) for i in range(300))
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.one_json_answer(raw, 431, r"request head larger than|header fields")
        few_but_many = b"".join(b"X-F%d: 1\r\n" % i for i in range(150))
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + few_but_many + b"\r\n")
        self.one_json_answer(raw, 431, r"more than 100 header fields")
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 30000 + b"\r\n\r\n")
        self.one_json_answer(raw, 431, r"request head larger than")

    def test_malformed_lines_and_versions(self):
        raw = exchange(self.srv.port, b"GET /healthz\r\nHost: x\r\n\r\n")
        self.one_json_answer(raw, 400, r"malformed request line")
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n")
        self.one_json_answer(raw, 400, r"malformed header line")
        raw = exchange(self.srv.port, b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
        self.one_json_answer(raw, 505, r"HTTP version")

    def test_good_heads_still_served(self):
        # a head split over several writes, bare LF line ends, leading empty
        # lines and a body in the same write as its head
        got = exchange(self.srv.port, [b"\r\nGET /heal", b"thz HTTP/1.1\r\nHo", b"st: x\r\n",
                                       b"Connection: close\r\n\r\n"], pause=0.05)
        self.assertTrue(got.startswith(b"HTTP/1.1 200 "), got[:200])
        raw = exchange(self.srv.port, b"GET /healthz HTTP/1.1\nHost: x\nConnection: close\n\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 "), raw[:200])
        body = json.dumps({"logs": [{"source": "ModernCRM", "log_message": "User User1 logged in."}]}).encode()
        raw = exchange(self.srv.port, self.post(b"Content-Length: %d\r\nConnection: close\r\n" % len(body), body))
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 "), raw[:300])
        self.assertEqual(len(re.findall(rb"HTTP/1\.[01] \d{3} ", raw)), 1)

    def test_counted_in_metrics(self):
        before = metric(self.srv, 'logify_http_requests_total{route="other",status="400"}') or 0
        exchange(self.srv.port, self.post(b"Content-Length: -1\r\n"))
        after = metric(self.srv, 'logify_http_requests_total{route="other",status="400"}') or 0
        self.assertEqual(after, before + 1)


# Each bad head of the tests above: (name, bytes, status, detail pattern).
BAD_HEADS = [
    ("length -1", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, r"Content-Length"),
    ("length 20 digits", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
     413, r"larger than"),
    ("length abc", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, r"Content-Length"),
    ("length blank after", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 2 \r\n\r\n{}", 400,
     r"Content-Length"),
    ("two lengths", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400,
     r"two different Content-Length"),
    ("folded length", b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n 0\r\n\r\n0123456789", 400, r"folded"),
    ("uri too long", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, r"request line longer than"),
    ("head too large", b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 30000 + b"\r\n\r\n", 431,
     r"request head larger than"),
    ("many fields", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-F%d: 1\r\n" % i for i in range(150)) +
     b"\r\n", 431, r"more than 100 header fields"),
    ("version", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505, r"HTTP version"),
    ("request line", b"GET /healthz\r\nHost: x\r\n\r\n", 400, r"malformed request line"),
    ("no colon", b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n", 400, r"malformed header line"),
    ("gzip body", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, r"Transfer-Encoding"),
]

LOG = {"source": "ModernCRM", "log_message": "User User123 logged in."}


def read_answer(s, got=b""):
    """Reads one response with a Content-Length body from s (got: bytes read
    already); returns (status, body, bytes left over)."""
    while b"\r\n\r\n" not in got:
        k = s.recv(65536)
        if not k:
            raise AssertionError("connection closed inside an answer head: %r" % got[:300])
        got += k
    head, _, rest = got.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    if not m:
        raise AssertionError("answer without Content-Length: %r" % head[:300])
    n = int(m.group(1))
    while len(rest) < n:
        k = s.recv(65536)
        if not k:
            raise AssertionError("connection closed inside an answer body")
        rest += k
    return int(head.split()[1]), rest[:n], rest[n:]


class KeptAlive(ServerCase):
    """The same bad heads, later on a kept-alive connection."""

    def good_post(self, chunked=False):
        body = json.dumps({"logs": [LOG]}).encode()
        if not chunked:
            return self.post(b"Content-Length: %d\r\n" % len(body), body)
        half = len(body) // 2
        framed = b"%x\r\n%s\r\n%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (half, body[:half], len(body) - half,
                                                                            body[half:])
        return self.post(b"Transfer-Encoding: chunked\r\n", framed)

    def check_good(self, status, body, what):
        self.assertEqual(status, 200, "%s: %r" % (what, body[:200]))
        if body.startswith(b'{"results"'):
            self.assertEqual(json.loads(body)["results"][0]["label"], "User Action", what)
        else:
            self.assertEqual(json.loads(body), {"status": "ok"}, what)

    def check_bad_after(self, sock, leftover, status, detail, what):
        rest = read_to_close(sock, leftover)
        self.assertNotIn(b"<html", rest.lower(), what)
        try:
            self.one_json_answer(rest, status, detail)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (what, e)) from None

    def test_bad_head_as_second_and_third_request(self):
        healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for name, bad, status, detail in BAD_HEADS:
            for before in (1, 2):
                with self.subTest(head=name, position=before + 1):
                    s = raw_socket(self.srv.port, 30)
                    try:
                        left = b""
                        for i in range(before):  # good requests, each answered before the next
                            s.sendall(self.good_post() if i else healthz)
                            st, body, left = read_answer(s, left)
                            self.check_good(st, body, "%s: request %d" % (name, i + 1))
                        s.sendall(bad)
                        self.check_bad_after(s, left, status, detail, "%s as request %d" % (name, before + 1))
                    finally:
                        s.close()

    def test_bad_head_pipelined_behind_a_body(self):
        for chunked in (False, True):
            for name, bad, status, detail in BAD_HEADS:
                with self.subTest(head=name, chunked=chunked):
                    s = raw_socket(self.srv.port, 30)
                    try:
                        s.sendall(self.good_post(chunked) + bad)  # one write: the bad head right behind
                        st, body, left = read_answer(s)
                        self.check_good(st, body, "%s: the request before it" % name)
                        self.check_bad_after(s, left, status, detail, "%s pipelined" % name)
                    finally:
                        s.close()

    def test_body_bytes_are_not_heads(self):
        # a body that reads like a bad head, with Content-Length and chunked
        # framing, then a good request: all answered, nothing refused
        fake = b"GET / HTTP/2.0\r\nContent-Length: -1\r\n\r\n"
        heads = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(fake), fake),
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                 % (len(fake), fake)]
        for first in heads:
            s = raw_socket(self.srv.port, 30)
            try:
                s.sendall(first + self.good_post(True) + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                left = b""
                for i in range(3):
                    st, body, left = read_answer(s, left)
                    self.check_good(st, body, "request %d" % (i + 1))
            finally:
                s.close()

    def test_bad_chunk_framing(self):
        # framing the library would refuse in HTML: refused in JSON, once the
        # request before it was answered; pipelined right behind it, the
        # library may have started an answer to the bad request (it answers
        # some before their body) and the pump cannot tell: no answer then,
        # the connection just closes (never HTML, never two answers)
        healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for framed, status, detail in ((b"zz\r\n{}\r\n0\r\n\r\n", 400, r"chunked"),
                                       (b"2\r\n{}XX0\r\n\r\n", 400, r"chunked"),
                                       (b"1" * 20 + b"\r\n", 413, r"chunk size"),
                                       (b"0\r\nno colon\r\n\r\n", 400, r"trailer")):
            bad = self.post(b"Transfer-Encoding: chunked\r\n", framed)
            for pipelined in (False, True):
                with self.subTest(framed=framed[:20], pipelined=pipelined):
                    s = raw_socket(self.srv.port, 30)
                    try:
                        s.sendall(healthz + bad if pipelined else healthz)
                        st, body, left = read_answer(s)
                        self.check_good(st, body, "the request before it")
                        if pipelined:
                            self.assertEqual(read_to_close(s, left), b"")
                        else:
                            s.sendall(bad)
                            self.check_bad_after(s, left, status, detail, "bad chunks %r" % framed[:20])
                    finally:
                        s.close()

    def test_heads_over_several_writes(self):
        # a later head that arrives in pieces is held until it is whole, then
        # served, or refused
        parts = [b"GET /hea", b"lthz HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"]
        bad = [b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Le", b"ngth: -1\r", b"\n\r\n"]
        s = raw_socket(self.srv.port, 30)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            st, body, left = read_answer(s)
            self.check_good(st, body, "request 1")
            for part in parts:
                time.sleep(0.05)
                s.sendall(part)
            st, body, left = read_answer(s, left)
            self.check_good(st, body, "request 2, in pieces")
            for part in bad:
                time.sleep(0.05)
                s.sendall(part)
            self.check_bad_after(s, left, 400, r"Content-Length", "a bad head in pieces")
        finally:
            s.close()

    def test_connection_close_ends_the_checks(self):
        # after a request that closes the connection, nothing more is read:
        # one answer, no refusal of what follows
        s = raw_socket(self.srv.port, 30)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + BAD_HEADS[0][1])
            raw = read_to_close(s)
        finally:
            s.close()
        self.assertEqual(len(re.findall(rb"HTTP/1\.[01] \d{3} ", raw)), 1, raw[:400])
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 "), raw[:200])

    def test_counted_in_metrics(self):
        before = metric(self.srv, 'logify_http_requests_total{route="other",status="400"}') or 0
        s = raw_socket(self.srv.port, 30)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + BAD_HEADS[0][1])
            read_to_close(s)
        finally:
            s.close()
        after = metric(self.srv, 'logify_http_requests_total{route="other",status="400"}') or 0
        self.assertEqual(after, before + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
