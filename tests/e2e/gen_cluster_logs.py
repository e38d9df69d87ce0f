"""Generates a repetitive log CSV (source,log_message,target_label) for
tests/e2e/cluster_large.sh and bench/bench_cluster.sh: a few dozen message
templates whose numbers, addresses and ids vary on every line (the hash
encoder masks them) and whose words come from small vocabularies, so that
a million rows have a few thousand distinct embedding vectors, as real logs
do. Deterministic for a seed.

  gen_cluster_logs.py ROWS OUT.csv [SEED] [VOCAB] [POOL]
VOCAB (default 1.0) scales the word vocabularies (more distinct vectors).
POOL (default 0): when > 0, POOL distinct lines are made first and every
row is one of them (picked with Zipf-like weights), so the input has
exactly that many distinct lines at most; 0 makes every row afresh.
"""
import csv, random, sys

rows, out = int(sys.argv[1]), sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
pool = int(sys.argv[5]) if len(sys.argv) > 5 else 0
rnd = random.Random(seed)

def vocab(words, n):
    """n words: the given ones, then made-up ones (letters only)."""
    n = max(1, int(n * scale))
    out = list(words)
    while len(out) < n:
        out.append("".join(rnd.choice("bcdfghjklmnprstvz") + rnd.choice("aeiou") for _ in range(3)))
    return out[:n]

users = vocab(["alice", "bob", "carol", "dave", "erin", "frank"], 40)
services = vocab(["nova", "glance", "keystone", "neutron", "cinder"], 12)
actions = ["created", "deleted", "updated", "archived", "restored"]
files = vocab(["report", "invoice", "backup", "config", "image"], 25)
methods = ["GET", "POST", "PUT", "DELETE"]
ip = lambda: ".".join(str(rnd.randint(1, 254)) for _ in range(4))
hexid = lambda: "%016x" % rnd.getrandbits(64)
num = lambda a, b: str(rnd.randint(a, b))
pick = rnd.choice

templates = [
    ("HTTP Status", 30, lambda: f"{pick(services)}.osapi_compute.wsgi.server [req-{hexid()}] {ip()} \"{pick(methods)} /v2/{hexid()}/servers/detail HTTP/1.1\" status: {pick(['200', '404', '500'])} len: {num(100, 4000)} time: 0.{num(100000, 999999)}"),
    ("User Action", 12, lambda: f"User {pick(users)}{num(1, 999)} {pick(['logged in', 'logged out'])}."),
    ("User Action", 8, lambda: f"Account with ID {num(1000, 9999)} {pick(actions)} by {pick(users)}."),
    ("System Notification", 10, lambda: f"File {pick(files)}_{num(1, 99)}.pdf {pick(actions)} by user {pick(users)}{num(1, 99)}."),
    ("System Notification", 6, lambda: f"Backup completed successfully in {num(1, 59)} minutes on {pick(services)}."),
    ("System Notification", 5, lambda: f"Disk cleanup freed {num(1, 900)} MB on node {pick(services)}-{num(1, 40)}."),
    ("Resource Usage", 7, lambda: f"{pick(services)} memory usage at {num(50, 99)}% on host {ip()}"),
    ("Resource Usage", 5, lambda: f"CPU load {num(1, 100)}.{num(0, 9)} exceeds threshold on {pick(services)}"),
    ("Security Alert", 4, lambda: f"Multiple failed login attempts for user {pick(users)} from {ip()}"),
    ("Security Alert", 3, lambda: f"Unauthorized access to {pick(files)} blocked by firewall rule {num(1, 500)}"),
    ("Error", 4, lambda: f"{pick(services)} failed to connect to database after {num(1, 9)} retries"),
    ("Error", 3, lambda: f"Timeout waiting for response from {pick(services)} at {ip()}:{num(1024, 65000)}"),
    ("Critical Error", 2, lambda: f"Kernel panic on {pick(services)}-{num(1, 40)}: out of memory"),
    ("Workflow Error", 1, lambda: f"Escalation rule {pick(files)} failed for ticket {num(10000, 99999)}"),
]
weights = [w for _, w, _ in templates]


def line():
    label, _, make = rnd.choices(templates, weights)[0]
    return [pick(["ModernCRM", "BillingSystem", "AnalyticsEngine"]), make(), label]


w = csv.writer(open(out, "w", newline=""), lineterminator="\n")
w.writerow(["source", "log_message", "target_label"])
if pool > 0:
    lines = [line() for _ in range(pool)]
    zipf = [1.0 / (k + 1) for k in range(pool)]
    for chunk in range(0, rows, 10000):
        w.writerows(rnd.choices(lines, zipf, k=min(10000, rows - chunk)))
else:
    for i in range(rows):
        w.writerow(line())
