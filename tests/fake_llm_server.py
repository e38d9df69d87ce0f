#!/usr/bin/python3
"""fake_llm_server.py - a fake OpenAI-compatible chat-completions server for
Logify's LLM stage tests and benchmark (Python 3 standard library only).

    /usr/bin/python3 tests/fake_llm_server.py [--port N] [--port-file F]
    /usr/bin/python3 tests/fake_llm_server.py --free-port   # print a free port, exit

Listens on 127.0.0.1 (port 0 = any free one), prints the port on stdout (and
into --port-file). The behaviour is chosen per request by the URL, so that
one server serves every case of a test:

    POST /m/<mode>/v1/chat/completions        (base URL: http://127.0.0.1:PORT/m/<mode>/v1)

<mode> is one or more tokens joined by '+':
    ok          right answers (the default): "Deprecation Warning" for lines
                about deprecated / retired / outdated features, else
                "Workflow Error"; a line containing "ignore previous
                instructions" gets what it asks for ("Security Alert"), as a
                gullible model would
    offlist     answers "Banana" for every message
    malformed   HTTP 200 with a body that is not JSON
    prose       chatty text instead of the requested format
    fenced      batch answers in ```json fences, single answers in
                <category>...</category>
    quoted      batch items as {"label": ...}, single answers in quotes
    shortlist   batch answers with one label too few
    429xK       the first K requests of this mode get 429 + Retry-After: 1
    ra=FORM     ... with Retry-After as an HTTP date instead: imf (IMF-fixdate,
                now + 1 s), rfc850 and asctime (the obsolete forms, now + 1 s),
                past (a day ago), far (an hour ahead), junk ("soon")
    500xK       the first K requests get HTTP 500 (500 alone: always)
    dropxK      the first K requests get the connection closed, no reply
                (drop alone: always)
    slowS       sleep S seconds before answering (slow2.5)
    latMS       fixed latency of MS milliseconds (lat50)
    nojson      reject response_format with HTTP 400, like servers without
                JSON mode
    echokey     HTTP 500 whose body repeats the Authorization header, and
    echokey200  ... or answers with it as the label (a leak test)
    id=X        no behaviour: makes a separate counter (isolates tests)
    kind=K      which constrain forms it honours, ignores or refuses, like a
                real server of kind K (default: plain, which ignores them all):
                  openai      honours response_format json_schema; refuses
                              (400, naming it) any other form's field
                  llamacpp    honours response_format json_schema, top-level
                              json_schema and grammar
                  llamacppold ignores response_format json_schema silently,
                              honours top-level json_schema and grammar
                  llamacpp500 answers HTTP 500 naming response_format to a
                              json_schema one; honours json_schema, grammar
                  vllm        honours guided_choice and guided_json
                  ollama      honours format (the schema); ignores the rest
                  grammaronly refuses (400) json_schema/response_format
                              schemas, honours grammar
                  broken      HTTP 500 "internal error" (naming nothing) to
                              every form
                An honoured form constrains the answer like a real server:
                the right label when the enum has it, else the enum's first
                item, always in the schema's shape (exactly n items).
    capN        at most N requests at once: more get HTTP 503 (an overloaded
                server); GET /stats reports max_inflight and rejected

A request whose user message has no log payload (the constrain probe) is a
chat: the unconstrained answer is a greeting.

GET /stats returns {"<mode>": {"requests": n, "messages": n, "json_mode": n,
"auth": n, "max_batch": n}, ...}.
"""
import argparse
import json
import os
import re
import socket
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEPRECATION = re.compile(
    r"deprecat|no longer supported|retire|outdated|discontinu|will be removed|migrate|"
    r"end of life|obsolete|sunset", re.I)
INJECTION = re.compile(r"ignore (all )?previous instructions", re.I)

LOCK = threading.Lock()
STATS = {}
INFLIGHT = {}

# kind -> form -> "honour" | "ignore" | "refuse400" | "refuse500" (default ignore)
KINDS = {
    "plain": {},
    "openai": {"schema": "honour", "json_schema": "refuse400", "guided": "refuse400",
               "format": "refuse400", "grammar": "refuse400"},
    "llamacpp": {"schema": "honour", "json_schema": "honour", "grammar": "honour"},
    "llamacppold": {"schema": "ignore", "json_schema": "honour", "grammar": "honour"},
    "llamacpp500": {"schema": "refuse500", "json_schema": "honour", "grammar": "honour"},
    "vllm": {"guided": "honour"},
    "ollama": {"format": "honour"},
    "grammaronly": {"schema": "refuse400", "json_schema": "refuse400", "grammar": "honour"},
    "broken": {f: "error500" for f in ("schema", "json_schema", "guided", "format", "grammar")},
}
REFUSAL_FIELD = {"schema": "response_format", "json_schema": "json_schema",
                 "guided": "guided_json", "format": "format", "grammar": "grammar"}


def form_of(body):
    """Which constrain form a request uses, and its enum and item count
    (None for a single answer): (form, enum, n) or (None, None, None)."""
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        return ("schema",) + schema_enum(rf["json_schema"]["schema"])
    if "json_schema" in body:
        return ("json_schema",) + schema_enum(body["json_schema"])
    if "guided_choice" in body:
        return "guided", list(body["guided_choice"]), "bare"
    if "guided_json" in body:
        return ("guided",) + schema_enum(body["guided_json"])
    if isinstance(body.get("format"), dict):
        return ("format",) + schema_enum(body["format"])
    if "grammar" in body:
        return ("grammar",) + grammar_enum(body["grammar"])
    return None, None, None


def schema_enum(schema):
    props = schema["properties"]
    if "label" in props:
        return list(props["label"]["enum"]), None
    arr = props["labels"]
    assert arr["minItems"] == arr["maxItems"], "minItems != maxItems"
    return list(arr["items"]["enum"]), arr["maxItems"]


def grammar_enum(grammar):
    """Reads back the enum and shape of the GBNF grammar Logify writes."""
    lines = dict(l.split(" ::= ", 1) for l in grammar.strip().split("\n"))
    alts = []
    for lit in lines["label"].split(" | "):
        inner = re.sub(r"\\(.)", r"\1", lit.strip()[1:-1])  # GBNF unescape
        alts.append(json.loads(inner))
    n = len(re.findall(r"\blabel\b", lines["root"]))
    return alts, (None if '\\"label\\"' in lines["root"] else n)


def right_label(msg):
    if INJECTION.search(msg):
        return "Security Alert"
    return "Deprecation Warning" if DEPRECATION.search(msg) else "Workflow Error"


def parse_mode(mode):
    """'429x2+lat50' -> {'429': 2, 'lat': 50.0, ...}"""
    out = {}
    for tok in mode.split("+"):
        m = re.fullmatch(r"(429|500|drop)(?:x(\d+))?", tok)
        if m:
            out[m.group(1)] = int(m.group(2)) if m.group(2) else (1 if m.group(1) == "429" else 10**9)
            continue
        m = re.fullmatch(r"cap(\d+)", tok)
        if m:
            out["cap"] = int(m.group(1))
            continue
        if tok.startswith("kind="):
            out["kind"] = tok[5:]
            continue
        m = re.fullmatch(r"(slow|lat)([\d.]+)", tok)
        if m:
            out[m.group(1)] = float(m.group(2))
            continue
        if tok.startswith("ra="):
            out["ra"] = tok[3:]
            continue
        out[tok] = True
    return out


def retry_after(form):
    """The Retry-After value for a ra=FORM token (None: the default "1")."""
    now = time.time()
    if form == "imf":
        return formatdate(now + 1, usegmt=True)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(now + 1))
    if form == "asctime":
        return time.asctime(time.gmtime(now + 1))
    if form == "past":
        return formatdate(now - 86400, usegmt=True)
    if form == "far":
        return formatdate(now + 3600, usegmt=True)
    if form == "junk":
        return "soon"
    return "1"


def messages_of(body):
    """The log messages in a request: (list, is_batch); ([], False) for a
    chat without a log payload (the constrain probe)."""
    for m in body["messages"]:  # as a real server validates them
        if not (isinstance(m.get("role"), str) and isinstance(m.get("content"), str)):
            raise ValueError("message without a string role and content: %r" % (m,))
    user = body["messages"][-1]["content"]
    if "\n" not in user:
        return [], False
    payload = json.loads(user.split("\n", 1)[1])
    if isinstance(payload, list):
        return payload, True
    return [payload], False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out separately

    def log_message(self, fmt, *args):  # quiet
        pass

    def send(self, status, body, extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        if self.path == "/stats":
            with LOCK:
                self.send(200, json.dumps(STATS))
        else:
            self.send(404, '{"error": {"message": "not found"}}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        m = re.fullmatch(r"/m/([^/]+)/v1/chat/completions", self.path)
        if not m:
            self.send(404, '{"error": {"message": "unknown path"}}')
            return
        mode_name = m.group(1)
        mode = parse_mode(mode_name)
        try:
            body = json.loads(raw)
            msgs, batch = messages_of(body)
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            self.send(400, json.dumps({"error": {"message": "bad request: %s" % exc}}))
            return
        auth = self.headers.get("Authorization")
        with LOCK:
            st = STATS.setdefault(mode_name, {"requests": 0, "messages": 0, "json_mode": 0,
                                              "auth": 0, "max_batch": 0, "probes": 0,
                                              "max_inflight": 0, "rejected": 0})
            st["requests"] += 1
            nth = st["requests"]
            st["messages"] += len(msgs)
            st["max_batch"] = max(st["max_batch"], len(msgs))
            st["json_mode"] += 1 if "response_format" in body else 0
            st["auth"] += 1 if auth else 0
            st["probes"] += 0 if msgs else 1
            form, enum, shape = form_of(body)
            if form:
                st["form_" + form] = st.get("form_" + form, 0) + 1
            INFLIGHT[mode_name] = INFLIGHT.get(mode_name, 0) + 1
            st["max_inflight"] = max(st["max_inflight"], INFLIGHT[mode_name])
            overloaded = "cap" in mode and INFLIGHT[mode_name] > mode["cap"]
            if overloaded:
                st["rejected"] += 1
        try:
            self.answer(mode, nth, body, msgs, batch, auth, form, enum, shape, overloaded)
        finally:
            with LOCK:
                INFLIGHT[mode_name] -= 1

    def answer(self, mode, nth, body, msgs, batch, auth, form, enum, shape, overloaded):
        if overloaded:
            time.sleep(0.02)
            self.send(503, '{"error": {"message": "server overloaded"}}')
            return

        if "lat" in mode:
            time.sleep(mode["lat"] / 1000.0)
        if "slow" in mode:
            time.sleep(mode["slow"])
        if nth <= mode.get("drop", 0):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if nth <= mode.get("429", 0):
            self.send(429, '{"error": {"message": "rate limited"}}',
                      {"Retry-After": retry_after(mode.get("ra"))})
            return
        if nth <= mode.get("500", 0):
            self.send(500, '{"error": {"message": "internal error"}}')
            return
        if "echokey" in mode:
            self.send(500, json.dumps({"error": {"message": "bad auth header: %s" % auth}}))
            return
        if "nojson" in mode and "response_format" in body:
            self.send(400, '{"error": {"message": "response_format is not supported"}}')
            return
        if "malformed" in mode:
            self.send(200, '{"choices": [{"message": {"content": "Workf')
            return
        how = KINDS.get(mode.get("kind", "plain"), {}).get(form, "ignore") if form else None
        if how in ("refuse400", "refuse500"):
            field = REFUSAL_FIELD[form]
            self.send(400 if how == "refuse400" else 500, json.dumps(
                {"error": {"message": "Unrecognized request argument supplied: %s" % field}}))
            return
        if how == "error500":
            self.send(500, '{"error": {"message": "internal error"}}')
            return
        if how == "honour":
            self.reply(self.constrained(mode, msgs, enum, shape), len(msgs), nth, body)
            return
        if not msgs:  # a chat (the probe), unconstrained
            self.reply("Hello! How can I help you today?", 1, nth, body)
            return

        labels = [right_label(x) for x in msgs]
        if "offlist" in mode:
            labels = ["Banana"] * len(msgs)
        if "echokey200" in mode:
            labels = [auth or "none"] * len(msgs)
        if "prose" in mode:
            content = "Sure! These look like workflow problems to me, mostly."
        elif batch:
            items = labels[:-1] if "shortlist" in mode else labels
            if "quoted" in mode:
                items = [{"label": x} for x in items]
            content = json.dumps({"labels": items})
            if "fenced" in mode:
                content = "Here you go:\n```json\n" + content + "\n```"
        else:
            content = labels[0]
            if "fenced" in mode:
                content = "<category>%s</category>" % content
            elif "quoted" in mode:
                content = json.dumps(content)
        self.reply(content, len(msgs), nth, body)

    @staticmethod
    def constrained(mode, msgs, enum, shape):
        """What a server that enforces the enum answers (a model that would
        answer off the list gets the enum's first item)."""
        pick = [right_label(x) if right_label(x) in enum and "offlist" not in mode else enum[0]
                for x in msgs] or [enum[0]]
        if shape == "bare":
            return pick[0]
        if shape is None:
            return json.dumps({"label": pick[0]})
        return json.dumps({"labels": (pick * shape)[:shape] if len(pick) != shape else pick})

    def reply(self, content, n, nth, body):
        reply = {
            "id": "fake-%d" % nth, "object": "chat.completion", "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10 * n + 50, "completion_tokens": 4 * n,
                      "total_tokens": 14 * n + 50},
        }
        self.send(200, json.dumps(reply))


def watchdog(srv, pid, max_seconds):
    """Never outlive the test: stop when its process is gone or time is up."""
    end = time.monotonic() + max_seconds
    while time.monotonic() < end:
        if pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                pass
        time.sleep(0.5)
    os._exit(0)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--free-port", action="store_true", help="print a free port and exit")
    ap.add_argument("--exit-with", type=int, metavar="PID",
                    help="exit when process PID is gone (the test that started us)")
    ap.add_argument("--max-seconds", type=float, default=900,
                    help="exit after this long whatever happens (default 900)")
    a = ap.parse_args()
    if a.free_port:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
        return
    srv = Server(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    try:
        print(port, flush=True)
    except BrokenPipeError:  # nobody reads it: fine
        pass
    threading.Thread(target=watchdog, args=(srv, a.exit_with, a.max_seconds), daemon=True).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
