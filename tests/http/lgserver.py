"""Helpers for the HTTP tests: start `logify serve` (the binary in $LOGIFY) on
127.0.0.1 on a free port, talk to it with http.client, build multipart bodies.
Python 3 standard library only."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

LOGIFY = os.environ.get("LOGIFY", "")
SHARED = os.environ.get("LOGIFY_SHARED", os.path.join(os.path.dirname(__file__), "../../../shared"))
TIMEOUT = 60  # seconds for any single client operation (the ASan build is slow)


class Server:
    """A `logify serve --port 0 ...` process; .port is read from its log."""

    def __init__(self, *args, env=None, cwd=None, wrap=()):
        """wrap: a command line to run the server under (e.g. prlimit's)."""
        if not LOGIFY:
            raise RuntimeError("set LOGIFY to the logify binary")
        self.log = tempfile.NamedTemporaryFile(prefix="logify-serve-", suffix=".log", delete=False)
        full_env = dict(os.environ)
        full_env.pop("LOGIFY_API_KEY", None)
        if env:
            full_env.update(env)
        self.proc = subprocess.Popen([*wrap, LOGIFY, "serve", "--host", "127.0.0.1", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log, env=full_env, cwd=cwd)
        self.port = None
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.stderr())
            if m:
                self.port = int(m.group(1))
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited early:\n" + self.stderr())
            time.sleep(0.05)
        if not self.port:
            self.proc.kill()
            raise RuntimeError("server did not start:\n" + self.stderr())
        while time.time() < deadline:  # wait for /healthz
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("no /healthz")

    def stderr(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def conn(self, timeout=TIMEOUT):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """One request on a new connection: (status, headers dict (lower-case), body bytes)."""
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def json(self, method, path, obj, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        st, hd, data = self.request(method, path, json.dumps(obj).encode(), h)
        return st, hd, (json.loads(data) if data else None)

    def stop(self, sig=signal.SIGTERM, timeout=TIMEOUT):
        """Signals the server and returns its exit code (ASan leak reports make it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -999
        return self.proc.returncode

    def close(self):
        """Stops the server and removes its log; a non-zero exit (a sanitizer's
        report, a crash) prints the log's end first, so that a failure in CI
        shows why the server ended, not only its exit code."""
        rc = self.stop()
        if rc != 0:
            tail = self.stderr()[-20000:]
            sys.stderr.write("---- logify serve exited %s; the end of its log:\n%s\n---- end of the server's log\n" % (rc, tail))
        os.unlink(self.log.name)
        return rc


def multipart(fields, boundary=None):
    """fields: list of (name, filename or None, bytes). Returns (body, content-type)."""
    b = boundary or "----logify" + uuid.uuid4().hex
    out = []
    for name, filename, data in fields:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.append(b"--" + b.encode() + b"\r\n")
        out.append(("Content-Disposition: %s\r\n" % disp).encode())
        if filename is not None:
            out.append(b"Content-Type: text/csv\r\n")
        out.append(b"\r\n" + data + b"\r\n")
    out.append(b"--" + b.encode() + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + b


def upload(server, data, filename="logs.csv", headers=None):
    body, ctype = multipart([("file", filename, data)])
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return server.request("POST", "/classify/", body, h)


def raw_socket(port, timeout=TIMEOUT):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return s


def read_http_response(sock):
    """Reads one HTTP/1.1 response (Content-Length or chunked) from a raw socket:
    (status, headers dict lower-case, body)."""
    f = sock.makefile("rb")
    line = f.readline()
    if not line:
        raise ConnectionError("closed before a status line")
    status = int(line.split()[1])
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, v = line.decode("latin-1").split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = b""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(f.readline().strip(), 16)
            if size == 0:
                f.readline()
                break
            body += f.read(size)
            f.readline()
    elif "content-length" in headers:
        body = f.read(int(headers["content-length"]))
    return status, headers, body


def wait_for(pred, timeout=30):
    """Polls pred() until it is true (True) or timeout seconds pass (False)."""
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def metric(srv, name, absent=0.0):
    """The value of the sample `name` (with its labels) in /metrics; absent when missing."""
    _, _, body = srv.request("GET", "/metrics")
    for ln in body.decode().splitlines():
        if ln.startswith(name + " "):
            return float(ln.split()[-1])
    return absent


def refused(port):
    """True when a connection to port is refused (nothing listens there)."""
    try:
        raw_socket(port, timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
