"""Boundaries of `logify serve` that a one-character change in the server
would move (issue 22's surviving mutations): an upload of exactly
--max-upload bytes is accepted and one byte more is refused (413); the API
key must match exactly: the key with characters appended, or a prefix of
it, is refused (401). Each test starts its own server and checks that it
exits 0.
Run: LOGIFY=build/logify /usr/bin/python3 tests/http/test_boundaries.py"""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lgserver import Server, multipart  # noqa: E402

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

    def test_api_key_exact(self):
        srv = Server("--api-key", "s3cret")
        try:
            body = json.dumps({"logs": [{"log_message": LOGIN}]}).encode()
            for tok in ("s3cret0", "s3cret ", "s3crets3cret", "s3cre", "S3cret", "s3cret\t"):
                st, hd, data = srv.request("POST", "/v1/classify", body,
                                           {"Authorization": "Bearer " + tok})
                self.assertEqual(st, 401, repr(tok))
            st, _, _ = srv.request("POST", "/v1/classify", body, {"Authorization": "Bearer s3cret"})
            self.assertEqual(st, 200)
        finally:
            self.finish(srv)


if __name__ == "__main__":
    unittest.main(verbosity=2)
