#!/usr/bin/env python3
"""serve_oom.py: `logify serve` under tests/faults/failalloc.c, armed per
request through its control file (docs/testing.md, "Allocation failure").

For each request kind (POST /classify/ with a CSV upload, also inside a
multipart/mixed part, /v1/classify with
JSON, /v1/classify/stream with NDJSON, GET /metrics, /healthz): counts the
allocations one request makes, then fails its Nth allocation for a spread
of N (and every allocation from N on, for a few N). Each request must get a
complete answer (the answer of a run without faults, or a 500/503 whose
body is a JSON error) or a closed connection; never a crash, never a
complete-looking answer with rows missing (template ids aside: the
server's miner learns from every request). After each injected request the
same process must answer /healthz, and at the end every kind normally.
Environment: LOGIFY, FAILALLOC (the library), FAILALLOC_SPARE, RULES (a
rules file), SAMPLES (N per kind, default 40; more than a request's
allocations: every one), REQUEST_TIMEOUT (s, default 20). Python 3 stdlib only."""
import http.client
import json
import os
import re
import struct
import sys
import socket
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from lgserver import Server, multipart  # noqa: E402

REC = 64
# the server's template miner learns from every request: ids move on
TEMPLATE_ID = re.compile(rb'"template_id":"[0-9a-f]*",?')


class Control:
    """The interposer's control file: a record "SEQ MODE N THREAD SEQ" at 0,
    the counters (counted, failed, seq applied) at 64."""

    def __init__(self):
        fd, self.path = tempfile.mkstemp(prefix="failalloc-ctl-")
        os.write(fd, b"\0" * 4096)
        self.fd = fd
        self.seq = 0

    def arm(self, mode, n=0, thread="all"):
        self.seq += 1
        rec = ("%d %s %d %s %d" % (self.seq, mode, n, thread, self.seq)).ljust(REC - 1) + "\n"
        os.pwrite(self.fd, rec.encode(), 0)

    def counters(self):
        return struct.unpack("=QQQ", os.pread(self.fd, 24, REC))


def kinds():
    csv = "source,log_message\n" + "".join(
        "ModernCRM,User User%d logged in.\nBillingSystem,IP 10.4.7.%d blocked after 14 failed login attempts\n"
        % (i, i) for i in range(40))
    body, ctype = multipart([("file", "logs.csv", csv.encode())])
    # the file inside a multipart/mixed part (RFC 7578 4.3's older form):
    # libmicrohttpd copies the inner boundary, a failure its parser reports
    nested = (b'--OUTER\r\nContent-Disposition: form-data; name="file"\r\n'
              b'Content-Type: multipart/mixed; boundary=INNER\r\n\r\n--INNER\r\n'
              b'Content-Disposition: file; filename="logs.csv"\r\nContent-Type: text/csv\r\n\r\n'
              + csv.encode() + b'\r\n--INNER--\r\n--OUTER--\r\n')
    logs = [{"source": "S", "log_message": "User User%d logged in." % i} for i in range(20)]
    logs += [{"source": "S", "log_message": "Disk usage at %d%% on node" % i} for i in range(20)]
    ndjson = "".join(json.dumps(l) + "\n" for l in logs).encode()
    labelled = ("source,log_message,target_label\n" + "".join(
        "ModernCRM,User User%d logged in.,User Action\nBillingSystem,IP 10.4.7.%d blocked after 14 failed "
        "login attempts,Security Alert\n" % (i, i) for i in range(10))).encode()
    return [
        ("csv", "POST", "/classify/", body, {"Content-Type": ctype}),
        ("csv-jsonl-explain", "POST", "/classify/?format=jsonl&explain=1&templates=1", body,
         {"Content-Type": ctype}),
        ("csv-nested", "POST", "/classify/", nested, {"Content-Type": "multipart/form-data; boundary=OUTER"}),
        ("json", "POST", "/v1/classify", json.dumps({"logs": logs}).encode(),
         {"Content-Type": "application/json"}),
        ("ndjson", "POST", "/v1/classify/stream", ndjson, {"Content-Type": "application/x-ndjson"}),
        ("eval", "POST", "/v1/eval?name=labelled.csv", labelled, {"Content-Type": "text/csv"}),
        ("metrics", "GET", "/metrics", None, {}),
        ("healthz", "GET", "/healthz", None, {}),
    ]


def send(srv, method, path, body, headers):
    """(status, body) of a complete answer, or (None, why) when the
    connection closed before one (reset, EOF, a cut chunked body)."""
    c = srv.conn(timeout=float(os.environ.get("REQUEST_TIMEOUT", "20")))
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    except (ConnectionError, http.client.RemoteDisconnected, http.client.IncompleteRead,
            http.client.BadStatusLine) as e:
        return None, repr(e)
    except socket.timeout:
        return "hung", b""
    finally:
        c.close()


def judge(kind, ref, st, data):
    """None when the answer is acceptable, else what is wrong."""
    if st is None:
        return None  # closed: the client knows it has no answer
    if st == "hung":
        return "no answer and the connection still open"
    if st == 200:
        if kind == "metrics":
            return None if b"logify_build_info" in data and data.endswith(b"\n") else "cut /metrics"
        if TEMPLATE_ID.sub(b"", data) == TEMPLATE_ID.sub(b"", ref):
            return None
        return "200 with another body (%d bytes, want %d): %r" % (len(data), len(ref), data[:300])
    if st in (500, 503):
        try:
            doc = json.loads(data)
        except ValueError:
            return "%d without a JSON body: %r" % (st, data[:200])
        return None if isinstance(doc, dict) and doc else "%d with an empty JSON body" % st
    return "status %d: %r" % (st, data[:200])


def main():
    ctl = Control()
    samples = int(os.environ.get("SAMPLES", "40"))
    env = {"LD_PRELOAD": os.environ["FAILALLOC"], "FAILALLOC_CTL": ctl.path,
           "FAILALLOC_SPARE": os.environ.get("FAILALLOC_SPARE", "")}
    srv = Server("--rules", os.environ["RULES"], env=env)
    problems, tally = [], {}
    try:
        for kind, method, path, body, headers in kinds():
            st, ref = send(srv, method, path, body, headers)
            if st != 200:
                problems.append("%s: %s without faults" % (kind, st))
                continue
            ctl.arm("count")
            send(srv, method, path, body, headers)
            total = ctl.counters()[0]
            ctl.arm("off")
            step = max(1, total // samples)
            plan = [("nth", n) for n in range(1, total + 1, step)]
            plan += [("from", n) for n in range(1, total + 1, max(1, total // 4))]
            t = tally.setdefault(kind, {"allocations": total, "runs": 0, "ok": 0, "error": 0, "closed": 0})
            for mode, n in plan:
                ctl.arm(mode, n)
                st, data = send(srv, method, path, body, headers)
                ctl.arm("off")
                t["runs"] += 1
                t["ok" if st == 200 else "closed" if st is None else "error"] += 1
                if os.environ.get("VERBOSE"):
                    print(kind, mode, n, st, file=sys.stderr, flush=True)
                why = judge(kind, ref, st, data)
                if srv.proc.poll() is not None:
                    problems.append("%s %s %d: the server died (exit %s)" % (kind, mode, n, srv.proc.returncode))
                    raise SystemExit
                hst, _ = send(srv, "GET", "/healthz", None, {})
                if hst != 200:
                    why = (why or "") + " then /healthz answered %s" % hst
                if why:
                    problems.append("%s %s %d: %s" % (kind, mode, n, why))
        for kind, method, path, body, headers in kinds():  # the same process, faults off
            st, data = send(srv, method, path, body, headers)
            if st != 200:
                problems.append("%s after the sweep: %s %r" % (kind, st, data[:200]))
    except SystemExit:
        pass
    finally:
        rc = srv.stop()
        log = srv.stderr()
        os.unlink(srv.log.name)
        os.close(ctl.fd)
        os.unlink(ctl.path)
    for kind, t in tally.items():
        print("serve %s: %d allocations per request; %d requests with a failed allocation: %d answered 200 "
              "(the same answer), %d a JSON 500/503, %d closed" % (kind, t["allocations"], t["runs"], t["ok"],
                                                                   t["error"], t["closed"]))
    if rc not in (0, None) and not problems:
        problems.append("the server exited %s at the end" % rc)
    for p in problems[:20]:
        print("  " + p)
    if problems:
        print("server log (tail):\n" + log[-2000:])
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
