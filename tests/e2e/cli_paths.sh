#!/usr/bin/env bash
# The less travelled paths of embed, model (tokenize, info, pull), cluster
# and eval through the real binary (issue 22: error paths and options
# covered by e2e tests): embed --stats against the tokenizer's own count,
# a chunk boundary (4,096 lines) crossed, a full disk on stdout, a model
# with NaN weights; model pull's default directory, its progress bar on a
# terminal, names that are not owner/name, a directory that cannot be
# made, an endpoint too long, an empty file and a pooling path leaving the
# model; cluster's progress bars on a terminal, a whole run from an .npy
# with no text, unreadable and empty inputs; eval's labels the model does
# not know. Each checks the message or the output, not only the status.
source "$(dirname "$0")/../lib.sh"
FX="$LOGIFY_ROOT/tests/fixtures/bert"
M="$FX/tiny_mean"
ON_TTY="$LOGIFY_ROOT/tests/e2e/on_tty.py"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- embed
printf 'disk full on node 1\nuser alice logged in from 10.0.0.1\nbackup finished\n' >"$TMP/three.txt"
"$LOGIFY" embed --model "$M" --stats --batch 2 --threads 1 <"$TMP/three.txt" >"$TMP/e.txt" 2>"$TMP/err" ||
  fail "embed --stats: $(cat "$TMP/err")"
[[ $(wc -l <"$TMP/e.txt") -eq 3 ]] || fail "embed --stats: $(wc -l <"$TMP/e.txt") vectors for 3 lines"
# the token count is the tokenizer's (model tokenize: the same ids, [CLS] and [SEP] included)
tokens=$("$LOGIFY" model tokenize "$M" <"$TMP/three.txt" | python3 -c \
  'import json, sys; print(sum(len(json.loads(l)["ids"]) for l in sys.stdin))')
grep -Eq "^embed threads=1 batch=2 texts=3 tokens=$tokens secs=[0-9.]+ tok_per_s=[0-9]+ GFLOPS=[0-9.]+ cpu_secs=[0-9.]+ tok_per_cpu_s=[0-9]+$" \
  "$TMP/err" || fail "embed --stats totals (want tokens=$tokens): $(cat "$TMP/err")"
grep -Eq '^embed parts \(thread CPU seconds, (openblas|packed-[a-z0-9]+), kernels [a-z0-9]+\):( [a-z_]+=[0-9.]+\([0-9.]+%\))+ busy=[0-9]+%$' \
  "$TMP/err" || fail "embed --stats parts: $(cat "$TMP/err")"
ok
# 4,097 lines: two chunks; the line after the boundary gets the same vector as alone
seq 1 4097 | sed 's/^/request served in ms /' >"$TMP/many.txt"
LOGIFY_SBERT_GEMM=packed "$LOGIFY" embed --model "$M" --threads 2 <"$TMP/many.txt" >"$TMP/many.vec" ||
  fail "embed of 4097 lines"
[[ $(wc -l <"$TMP/many.vec") -eq 4097 ]] || fail "embed: $(wc -l <"$TMP/many.vec") vectors for 4097 lines"
tail -1 "$TMP/many.txt" | LOGIFY_SBERT_GEMM=packed "$LOGIFY" embed --model "$M" >"$TMP/last.vec"
python3 - "$TMP/many.vec" "$TMP/last.vec" <<'PY' || fail "the vector after the chunk boundary differs"
import json, sys
a = json.loads(open(sys.argv[1]).read().splitlines()[-1])
b = json.loads(open(sys.argv[2]).read())
assert len(a) == len(b) == 32 and max(abs(x - y) for x, y in zip(a, b)) < 1e-5, (a[:3], b[:3])
PY
ok
"$LOGIFY" embed --model "$M" <"$TMP/three.txt" >/dev/full 2>"$TMP/err" && fail "embed to a full disk exited 0"
grep -qx "logify: error: writing stdout failed" "$TMP/err" || fail "embed to /dev/full: $(cat "$TMP/err")"
ok
# NaN weights load (the file is valid) but never reach the output
cp -r "$M" "$TMP/nan"
python3 - "$TMP/nan/model.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
lo, hi = json.loads(b[8:8 + n])["embeddings.LayerNorm.weight"]["data_offsets"]
b[8 + n + lo:8 + n + hi] = struct.pack("<f", float("nan")) * ((hi - lo) // 4)
open(sys.argv[1], "wb").write(b)
PY
expect_fail 1 "the model produced a non-finite value (NaN/inf in its weights?)" -- \
  "$LOGIFY" embed --model "$TMP/nan" --threads 1 <"$TMP/three.txt"
[[ ! -s "$TMP/out" ]] || fail "a NaN model wrote vectors: $(head -c 200 "$TMP/out")"

# ---- model tokenize / info
"$LOGIFY" model tokenize "$M" <"$TMP/three.txt" >/dev/full 2>"$TMP/err" && fail "tokenize to a full disk exited 0"
grep -qx "logify: error: writing stdout failed" "$TMP/err" || fail "tokenize to /dev/full: $(cat "$TMP/err")"
ok
expect_fail 1 "$TMP/none/config.json: missing (not a sentence-transformers model directory?)" -- \
  "$LOGIFY" model info "$TMP/none"
"$LOGIFY" model --help | grep -q '^usage: logify model tokenize DIR' || fail "model --help"
ok

# ---- model pull (tests/fixtures/bert/hub_server.py, a local hub)
start_hub() {
  local root=$1
  rm -f "$TMP/port"
  python3 "$FX/hub_server.py" "$root" acme/tiny "$TMP/port" "$TMP/hub.log" &
  PIDS+=($!)
  for _ in $(seq 1 100); do [[ -s "$TMP/port" ]] && break; sleep 0.1; done
  [[ -s "$TMP/port" ]] || fail "hub server did not start"
  export HF_ENDPOINT="http://127.0.0.1:$(cat "$TMP/port")"
}
stop_hub() {
  kill "${PIDS[-1]}" 2>/dev/null || true
  wait "${PIDS[-1]}" 2>/dev/null || true
}
start_hub "$M"
# no --dir: the name's last part, in the working directory
mkdir "$TMP/cwd"
(cd "$TMP/cwd" && "$LOGIFY" model pull acme/tiny 2>"$TMP/err") || fail "pull without --dir: $(cat "$TMP/err")"
grep -qx "logify: acme/tiny (revision main) is in tiny" "$TMP/err" || fail "pull: $(cat "$TMP/err")"
cmp -s "$M/model.safetensors" "$TMP/cwd/tiny/model.safetensors" || fail "pull without --dir: weights differ"
ok
# on a terminal: a progress bar per file, ending at 100%
python3 "$ON_TTY" "$TMP/tty.out" -- "$LOGIFY" model pull acme/tiny --dir "$TMP/tty" >/dev/null ||
  fail "pull on a terminal: $(cat "$TMP/tty.out")"
grep -aEq 'model\.safetensors +\[#{30}\] 100%' "$TMP/tty.out" || fail "no full progress bar: $(cat -v "$TMP/tty.out")"
grep -aq 'config.json' "$TMP/tty.out" || fail "no bar for config.json"
ok
for bad in a/b/c "a b/c" .hidden/x "a/../b" "/abs" ""; do
  expect_fail 1 "model name '$bad': expected owner/name (letters, digits, '-', '_', '.')" -- \
    "$LOGIFY" model pull "$bad" --dir "$TMP/x"
done
: >"$TMP/afile"
expect_fail 1 "model pull acme/tiny: mkdir $TMP/afile/m: Not a directory" -- \
  "$LOGIFY" model pull acme/tiny --dir "$TMP/afile/m"
expect_fail 1 "model pull acme/tiny: endpoint URL too long" -- \
  env HF_ENDPOINT="http://127.0.0.1/$(head -c 3000 /dev/zero | tr '\0' a)" "$LOGIFY" model pull acme/tiny --dir "$TMP/url/m"
[[ ! -e "$TMP/url" ]] || fail "model pull created --dir before refusing the endpoint URL"
stop_hub
cp -r "$M" "$TMP/emptyvocab"
: >"$TMP/emptyvocab/vocab.txt"
start_hub "$TMP/emptyvocab"
expect_fail 1 "vocab.txt: downloaded file is empty" -- "$LOGIFY" model pull acme/tiny --dir "$TMP/ev"
[[ ! -e "$TMP/ev/vocab.txt" && ! -e "$TMP/ev/vocab.txt.incomplete" ]] || fail "the empty file was kept"
stop_hub
cp -r "$M" "$TMP/evil"
sed -i 's|"path": "1_Pooling"|"path": "../1_Pooling"|' "$TMP/evil/modules.json"
start_hub "$TMP/evil"
expect_fail 1 "modules.json: module 1: bad 'path'" -- "$LOGIFY" model pull acme/tiny --dir "$TMP/evil_out"
[[ ! -e "$TMP/1_Pooling" ]] || fail "a pooling path outside the model directory was written"
stop_hub
unset HF_ENDPOINT

# ---- cluster
{
  echo "source,log_message,target_label"
  for i in $(seq 1 30); do
    echo "S,Disk $i failed on node $((i % 4)),Error"
    echo "S,User u$i logged in from 10.0.0.$i,Security"
  done
} >"$TMP/c.csv"
python3 "$ON_TTY" "$TMP/ctty.out" -- "$LOGIFY" cluster --data "$TMP/c.csv" --out "$TMP/ct" --epochs 20 \
  >/dev/null || fail "cluster on a terminal: $(cat -v "$TMP/ctty.out")"
grep -aEq '\[#{40}\] 100% \([0-9]+/[0-9]+\)' "$TMP/ctty.out" || fail "cluster: no full bar: $(cat -v "$TMP/ctty.out")"
[[ -s "$TMP/ct/clusters.csv" && -s "$TMP/ct/map.svg" ]] || fail "cluster on a terminal wrote no map"
ok
# a whole run from vectors alone: no text, no labels (their columns stay empty)
python3 - "$TMP/v.npy" <<'PY'
import struct, sys
rows = [[1, 0, 0]] * 6 + [[0, 1, 0]] * 6 + [[0.02, 0.01, 1]]
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 3), }" % len(rows)
hdr += " " * (63 - (10 + len(hdr)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode())
    for r in rows:
        f.write(struct.pack("<3f", *r))
PY
"$LOGIFY" cluster --embeddings "$TMP/v.npy" --out "$TMP/cv" --epochs 20 --eps 0.1 --min-samples 2 --no-progress \
  2>"$TMP/err" || fail "cluster --embeddings: $(cat "$TMP/err")"
python3 - "$TMP/cv" <<'PY' || fail "cluster --embeddings output: $(cat "$TMP/cv/clusters.csv")"
import csv, sys
d = sys.argv[1]
cl = list(csv.DictReader(open(d + "/clusters.csv")))
assert [(c["id"], c["size"]) for c in cl] == [("0", "6"), ("1", "6"), ("-1", "1")], cl
assert all(c["dominant_label"] == "" and c["template"] == "" and c["example_1"] == "" for c in cl), cl
pts = list(csv.DictReader(open(d + "/points.csv")))
assert list(pts[0]) == ["row", "cluster", "x", "y"] and len(pts) == 13, pts[:2]
assert [p["cluster"] for p in pts] == ["0"] * 6 + ["1"] * 6 + ["-1"], [p["cluster"] for p in pts]
PY
ok
# .npy files that are not what --embeddings needs, each named; float64 and
# a version-2 header read as float32 (the same clusters)
python3 - "$TMP" <<'PY'
import struct, sys
d = sys.argv[1]
rows = [[1, 0, 0]] * 6 + [[0, 1, 0]] * 6 + [[0.02, 0.01, 1]]
def npy(name, descr="<f4", fortran="False", shape=None, ver=1, fmt="f", cut=0, magic=b"\x93NUMPY"):
    shape = shape or "(%d, 3)" % len(rows)
    hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if ver == 1 else 12
    hdr += " " * (63 - (pre + len(hdr)) % 64) + "\n"
    body = b"".join(struct.pack("<3" + fmt, *r) for r in rows)
    with open(d + "/" + name, "wb") as f:
        f.write(magic + bytes([ver, 0]) + (struct.pack("<H", len(hdr)) if ver == 1 else struct.pack("<I", len(hdr))))
        f.write(hdr.encode() + (body[:len(body) - cut] if cut else body))
npy("f8.npy", descr="<f8", fmt="d")
npy("v2.npy", ver=2)
npy("fortran.npy", fortran="True")
npy("int.npy", descr="<i4")
npy("flat.npy", shape="(39,)")
npy("short.npy", cut=5)
npy("short8.npy", descr="<f8", fmt="d", cut=5)
npy("magic.npy", magic=b"\x93NUMPZ")
open(d + "/hdr.npy", "wb").write(b"\x93NUMPY\x01\x00\xff\xff{'descr'")
PY
for f in f8 v2; do
  "$LOGIFY" cluster --embeddings "$TMP/$f.npy" --out "$TMP/c$f" --epochs 20 --eps 0.1 --min-samples 2 --no-progress \
    2>"$TMP/err" || fail "cluster --embeddings $f.npy: $(cat "$TMP/err")"
  cmp -s <(cut -d, -f1,2 "$TMP/cv/clusters.csv") <(cut -d, -f1,2 "$TMP/c$f/clusters.csv") ||
    fail "$f.npy: other clusters than float32: $(cat "$TMP/c$f/clusters.csv")"
  ok
done
for f in fortran int flat; do
  expect_fail 1 "$TMP/$f.npy: need a 2-D C-order float32/float64 array (header: {'descr'" -- \
    "$LOGIFY" cluster --embeddings "$TMP/$f.npy" --out "$TMP/cx" --no-progress
done
expect_fail 1 "$TMP/short.npy: truncated" -- "$LOGIFY" cluster --embeddings "$TMP/short.npy" --out "$TMP/cx" --no-progress
expect_fail 1 "$TMP/short8.npy: truncated" -- "$LOGIFY" cluster --embeddings "$TMP/short8.npy" --out "$TMP/cx" --no-progress
expect_fail 1 "$TMP/magic.npy: not a .npy file" -- "$LOGIFY" cluster --embeddings "$TMP/magic.npy" --out "$TMP/cx" --no-progress
expect_fail 1 "$TMP/hdr.npy: bad or oversized .npy header" -- \
  "$LOGIFY" cluster --embeddings "$TMP/hdr.npy" --out "$TMP/cx" --no-progress
expect_fail 1 "$TMP/none.npy: No such file or directory" -- \
  "$LOGIFY" cluster --embeddings "$TMP/none.npy" --out "$TMP/cx" --no-progress
expect_fail 1 "$TMP/nowhere.csv: No such file or directory" -- \
  "$LOGIFY" cluster --data "$TMP/nowhere.csv" --out "$TMP/cn" --no-progress
: >"$TMP/empty.csv"
expect_fail 1 "$TMP/empty.csv: empty file" -- "$LOGIFY" cluster --data "$TMP/empty.csv" --out "$TMP/cn" --no-progress

# ---- train: bad data rows, each with its line; more than 5 labels set aside
printf 'source,log_message,target_label\nS,disk full,Error\nS,only two\n' >"$TMP/short.csv"
expect_fail 1 "line 3: 2 fields, the header names more" -- "$LOGIFY" train --data "$TMP/short.csv" --out "$TMP/tx"
printf 'log_message,target_label,source\nm1,E,S\nm2,,S\n' >"$TMP/nolab.csv"
expect_fail 1 "line 3: empty target_label" -- "$LOGIFY" train --data "$TMP/nolab.csv" --out "$TMP/tx"
printf 'target_label,log_message\nE,m\n' >"$TMP/nosrc.csv"
expect_fail 1 "line 1: missing required column 'source' (need source, log_message, target_label)" -- \
  "$LOGIFY" train --data "$TMP/nosrc.csv" --out "$TMP/tx"
printf 'source,target_label\nS,E\n' >"$TMP/nomsg.csv"
expect_fail 1 "line 1: missing required column 'log_message'" -- "$LOGIFY" train --data "$TMP/nomsg.csv" --out "$TMP/tx"
: >"$TMP/none.csv"
expect_fail 1 "empty input: no header row" -- "$LOGIFY" train --data "$TMP/none.csv" --out "$TMP/tx"
[[ ! -e "$TMP/tx" ]] || fail "a failed train left $TMP/tx"
# strtod and strtol skip leading blanks: " 0.5" was taken as 0.5 (cli_parse_*)
for v in "" "0.5x" "1e-400x" " 0.5" "0.5 " "	0.5"; do
  expect_fail 2 "train: --test-fraction must be in (0, 1)" -- "$LOGIFY" train --data a --out b --test-fraction "$v"
done
expect_fail 2 "train: --seed must be a non-negative integer" -- "$LOGIFY" train --data a --out b --seed " 3"
expect_fail 2 "train: --C must be a positive number" -- "$LOGIFY" train --data a --out b --C " 10"
expect_fail 2 "classify: --threads must be 1..64" -- "$LOGIFY" classify "$TMP/none.csv" --threads " 2"
expect_fail 2 "--batch must be in 1..4096" -- "$LOGIFY" embed --model m --batch " 8"
expect_fail 2 "serve: --grace must be 0..86400 seconds" -- "$LOGIFY" serve --grace " 1"
expect_fail 2 "serve: --port must be 0..65535" -- "$LOGIFY" serve --port " 8000"
expect_fail 2 "--eps must be a number in" -- "$LOGIFY" cluster --data a --eps " 0.2"
expect_fail 2 "templates: --sim must be in (0, 1]" -- "$LOGIFY" templates "$TMP/none.csv" --sim " 0.5"
expect_fail 2 "templates: --depth must be 0..8" -- "$LOGIFY" templates "$TMP/none.csv" --depth "3 "
expect_fail 2 "kafka: --grace must be a number of seconds in (0, 86400]" -- \
  "$LOGIFY" kafka --brokers 127.0.0.1:1 --group g --input i --output o --grace " 5"
expect_fail 2 "kafka: --metrics-port must be 0..65535" -- \
  "$LOGIFY" kafka --brokers 127.0.0.1:1 --group g --input i --output o --metrics-port " 80"
expect_fail 2 "train: --min-label-rows must be 1..1000000" -- "$LOGIFY" train --data a --out b --min-label-rows ""
expect_fail 2 "train: --candidates must be 1..100000" -- "$LOGIFY" train --data a --out b --candidates 100001
expect_fail 2 "train: --threads must be 1..64" -- "$LOGIFY" train --data a --out b --threads ""
expect_fail 2 "train: --unknown-threshold must be in [0, 1]" -- "$LOGIFY" train --data a --out b --unknown-threshold ""
expect_fail 2 "train: --threshold must be in [0, 1]" -- "$LOGIFY" train --data a --out b --threshold nan
expect_fail 2 "train: --C must be a positive number" -- "$LOGIFY" train --data a --out b --C 1e12
expect_fail 2 "train: --seed must be a non-negative integer" -- "$LOGIFY" train --data a --out b --seed ""
"$LOGIFY" train --help | grep -q '^usage: logify train --data CSV --out DIR' || fail "train --help"
ok
{
  echo "source,log_message,target_label"
  for i in $(seq 1 8); do echo "S,Disk $i on node $((i * 7)) failed hard,Error"; echo "S,User u$i changed password,Security"; done
  for l in A B C D E F G; do echo "S,rare event of kind $l,Rare$l"; done
} >"$TMP/rare7.csv"
"$LOGIFY" train --data "$TMP/rare7.csv" --out "$TMP/r7" --min-label-rows 2 --route '*=model' >"$TMP/r7.txt" 2>"$TMP/err" ||
  fail "train with 7 rare labels: $(cat "$TMP/err")"
grep -qx "logify: train: 7 label(s) with fewer than 2 rows set aside (7 rows): RareA (1), RareB (1), RareC (1), RareD (1), RareE (1), ..." \
  "$TMP/err" || fail "set-aside line: $(cat "$TMP/err")"
grep -q "^  rare labels set aside: 7 (7 rows, < 2 rows each)$" "$TMP/r7.txt" || fail "train report: $(cat "$TMP/r7.txt")"
ok

# ---- serve: the config file's server settings apply unless a flag is
# given; a port in use is an error naming it (nothing listens)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1])); time.sleep(120)' "$TMP/busy.port" &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$TMP/busy.port" ]] && break; sleep 0.1; done
BUSY=$(cat "$TMP/busy.port")
printf 'server:\n  host: 127.0.0.1\n  port: %s\n  http_mode: poll\n  threads: 3\n  grace: 1\n' "$BUSY" >"$TMP/busy.yaml"
expect_fail 1 "cannot listen on 127.0.0.1:$BUSY (address in use, or not allowed)" -- \
  timeout 60 "$LOGIFY" serve --config "$TMP/busy.yaml"
expect_fail 1 "cannot listen on 127.0.0.1:$BUSY" -- \
  timeout 60 "$LOGIFY" serve --config "$TMP/busy.yaml" --http-mode thread-per-connection --threads 2
# --port overrides the file: it listens elsewhere, then stops on SIGTERM
timeout 60 "$LOGIFY" serve --config "$TMP/busy.yaml" --port 0 2>"$TMP/serve.err" &
SERVE=$!
PIDS+=($SERVE)
for _ in $(seq 1 300); do grep -q 'listening on' "$TMP/serve.err" && break; sleep 0.1; done
grep -Eq '^logify: listening on http://127\.0\.0\.1:[0-9]+ \(routes: ' "$TMP/serve.err" ||
  fail "serve --port 0 with a busy port in the file: $(cat "$TMP/serve.err")"
grep -q "127.0.0.1:$BUSY " "$TMP/serve.err" && fail "the file's port was used over --port"
kill -TERM "$SERVE"
wait "$SERVE" || fail "serve exited $? on SIGTERM: $(cat "$TMP/serve.err")"
ok
# an IPv6 host is printed as a URL takes it, in brackets (where ::1 exists)
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
  timeout 60 "$LOGIFY" serve --host ::1 --port 0 2>"$TMP/serve6.err" &
  SERVE=$!
  PIDS+=($SERVE)
  for _ in $(seq 1 300); do grep -q 'listening on' "$TMP/serve6.err" && break; sleep 0.1; done
  grep -Eq '^logify: listening on http://\[::1\]:[0-9]+ \(routes: ' "$TMP/serve6.err" ||
    fail "serve --host ::1: $(cat "$TMP/serve6.err")"
  kill -TERM "$SERVE"
  wait "$SERVE" || fail "serve --host ::1 exited $? on SIGTERM: $(cat "$TMP/serve6.err")"
  ok
else
  echo "cli_paths: no IPv6 loopback here: the [::1] URL step is left out"
fi
expect_fail 2 "serve: --grace must be 0..86400 seconds" -- "$LOGIFY" serve --grace ""
expect_fail 2 "serve: --threads must be 1..256" -- "$LOGIFY" serve --threads 257

# ---- rules test against the built-in rules; classify's input and options
"$LOGIFY" rules test default "User User123 logged in" >"$TMP/rt.txt" || fail "rules test default: exit $?"
grep -qx "match: rule 'user-login-logout' (line 10) -> User Action" "$TMP/rt.txt" || fail "rules test: $(head -3 "$TMP/rt.txt")"
grep -Eq '^  user-login-logout +line 10 +MATCH \(wins: first in file order\)$' "$TMP/rt.txt" || fail "rules test explain"
ok
"$LOGIFY" rules test default "nothing here" >"$TMP/rt.txt" && fail "rules test: no match exited 0"
grep -qx "no match: no rule decides this message; it goes on to the next stage" "$TMP/rt.txt" || fail "rules test no match"
ok
expect_fail 1 "$TMP/none.yaml: No such file or directory" -- "$LOGIFY" rules test "$TMP/none.yaml" x
"$LOGIFY" rules --help | grep -q '^usage: logify rules check FILE' || fail "rules --help"
ok
mkdir "$TMP/adir"
expect_fail 1 "$TMP/adir: reading: Is a directory" -- "$LOGIFY" classify "$TMP/adir"
routes=()
for i in $(seq 1 33); do routes+=(--route "S$i=rules"); done
expect_fail 2 "classify: too many --route options" -- "$LOGIFY" classify "$TMP/c.csv" "${routes[@]}"
"$LOGIFY" classify "$TMP/c.csv" --format csv --on-error fail --threads 1 >"$TMP/cl.csv" || fail "classify --format csv"
[[ $(wc -l <"$TMP/cl.csv") -eq 61 && $(head -1 "$TMP/cl.csv") == "source,log_message,target_label" ]] ||
  fail "classify csv: $(head -2 "$TMP/cl.csv")"
ok

# ---- eval: labels the model does not know (text report)
{
  echo "source,log_message,target_label"
  for i in $(seq 1 12); do
    echo "S,Disk $i on node $((i * 7)) failed hard,Error"
    echo "S,User u$i changed password,Security"
  done
} >"$TMP/lab.csv"
"$LOGIFY" train --data "$TMP/lab.csv" --out "$TMP/b" --route '*=model' --unknown-threshold 0 >/dev/null 2>&1 || fail "train"
{ cat "$TMP/lab.csv"; echo "S,Fan 1 spins at full speed,Hardware"; echo "S,Fan 2 spins slowly,Hardware"; } >"$TMP/ev.csv"
"$LOGIFY" eval --data "$TMP/ev.csv" --model "$TMP/b" --route '*=model' >"$TMP/ev.txt" 2>"$TMP/err" ||
  fail "eval: $(cat "$TMP/err")"
grep -q "^labels the model does not know (rows that reached it; always a miss there):$" "$TMP/ev.txt" ||
  fail "eval: unknown labels not listed: $(cat "$TMP/ev.txt")"
grep -Eq '^ +2  Hardware$' "$TMP/ev.txt" || fail "eval: Hardware not counted: $(cat "$TMP/ev.txt")"
grep -q "^data: $TMP/ev.csv, 26 rows; model: $TMP/b$" "$TMP/ev.txt" || fail "eval header: $(head -2 "$TMP/ev.txt")"
ok
done_checks
