"""Boundaries of `logify serve` that a one-character change in the server
would move (issue 22's surviving mutations): an upload of exactly
--max-upload bytes is accepted and one byte more is refused (413), sent
with a Content-Length or chunked; the API key must match exactly: the key
with characters appended, a prefix of it, or a key of the same length
differing in one character is refused (401), while the scheme's case and
the spaces after it do not matter; once the server drains, a new
request on an open connection gets 503. Each test starts its own server and checks that it
exits 0.
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_boundaries.py"""
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import Server, metric, multipart, raw_socket, wait_for  # noqa: E402

LOGIN = "User User123 logged in."


def body_of_size(size):
    """A multipart upload of a CSV whose whole request body is exactly size bytes."""
    rows = b"source,log_message\n"
    overhead = len(multipart([("file", "a.csv", rows)], boundary="b0undary")[0])
    pad = size - overhead
    assert pad >= 4, (size, overhead)
    while pad >= 64:  # rows "S,xxx...\n" of 60 bytes, then one of the rest
        rows += b"S," + b"x" * 57 + b"\n"
        pad -= 60
    rows += b"S," + b"x" * (pad - 3) + b"\n"
    body, ctype = multipart([("file", "a.csv", rows)], boundary="b0undary")
    assert len(body) == size, (len(body), size)
    return body, ctype


class Boundaries(unittest.TestCase):
    def finish(self, srv):
        self.assertEqual(srv.close(), 0, "server exit code")

    def test_upload_of_exactly_max_upload(self):
        srv = Server("--max-upload", "4096", "--route", "*=rules")
        try:
            for size, want in ((4096, 200), (4097, 413), (4095, 200)):
                body, ctype = body_of_size(size)
                st, _, data = srv.request("POST", "/classify/", body, {"Content-Type": ctype})
                self.assertEqual(st, want, "%d-byte upload: %s" % (size, data[:200]))
                if want == 413:
                    self.assertIn("larger than 4096 bytes", json.loads(data)["detail"])
        finally:
            self.finish(srv)

    def test_chunked_upload_of_exactly_max_upload(self):
        # no Content-Length: the cap is counted as the chunks arrive
        srv = Server("--max-upload", "4096", "--route", "*=rules")
        try:
            for size, want in ((4096, 200), (4097, 413)):
                body, ctype = body_of_size(size)
                c = srv.conn()
                pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
                c.request("POST", "/classify/", body=iter(pieces), encode_chunked=True,
                          headers={"Content-Type": ctype, "Transfer-Encoding": "chunked"})
                r = c.getresponse()
                data = r.read()
                c.close()
                self.assertEqual(r.status, want, "%d-byte chunked upload: %s" % (size, data[:200]))
        finally:
            self.finish(srv)

    def test_draining_refuses_new_work(self):
        # a request that arrives on an open keep-alive connection once the
        # server drains (SIGTERM) gets 503, while one in flight finishes
        srv = Server("--grace", "30")
        try:
            body, ctype = multipart([("file", "a.csv", b"source,log_message\nS,x\n" * 1)])
            head = ("POST /classify/ HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                    "Content-Length: %d\r\n\r\n" % (ctype, len(body))).encode()
            busy = raw_socket(srv.port)
            busy.sendall(head + body[:10])  # keeps the server from stopping
            self.assertTrue(wait_for(lambda: metric(srv, "logify_http_requests_in_flight") == 1))
            idle = srv.conn()
            idle.request("GET", "/healthz")
            idle.getresponse().read()
            srv.proc.send_signal(signal.SIGTERM)
            self.assertTrue(wait_for(lambda: "draining" in srv.stderr()))
            idle.request("POST", "/v1/classify", body=json.dumps({"logs": [{"log_message": LOGIN}]}),
                         headers={"Content-Type": "application/json"})
            r = idle.getresponse()
            data = r.read()
            self.assertEqual(r.status, 503, data[:200])
            self.assertIn("shutting down", json.loads(data)["detail"])
            idle.close()
            busy.sendall(body[10:])
            busy.recv(65536)
            busy.close()
            self.assertEqual(srv.proc.wait(60), 0)
        finally:
            if srv.proc.poll() is None:
                srv.close()

    def test_api_key_exact(self):
        srv = Server("--api-key", "s3cret")
        try:
            body = json.dumps({"logs": [{"log_message": LOGIN}]}).encode()
            # appended, cut, and the same length differing in the first or
            # the last character
            for tok in ("s3cret0", "s3cret ", "s3crets3cret", "s3cre", "S3cret", "s3cret\t",
                        "s3crex", "x3cret"):
                st, hd, data = srv.request("POST", "/v1/classify", body,
                                           {"Authorization": "Bearer " + tok})
                self.assertEqual(st, 401, repr(tok))
            st, _, _ = srv.request("POST", "/v1/classify", body, {"Authorization": "Bearer s3cret"})
            self.assertEqual(st, 200)
        finally:
            self.finish(srv)

    def test_bearer_scheme_forms(self):
        # RFC 9110 11.1: the scheme is case-insensitive, and one or more
        # spaces may follow it; the token itself stays exact
        srv = Server("--api-key", "s3cret")
        try:
            body = json.dumps({"logs": [{"log_message": LOGIN}]}).encode()
            for hdr, want in (("bearer s3cret", 200), ("BEARER s3cret", 200), ("Bearer   s3cret", 200),
                              ("Basic s3cret", 401), ("Bearers3cret", 401), ("bearer S3CRET", 401)):
                st, _, data = srv.request("POST", "/v1/classify", body, {"Authorization": hdr})
                self.assertEqual(st, want, "%r: %s" % (hdr, data[:200]))
        finally:
            self.finish(srv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
