#!/usr/bin/env bash
# output_errors.sh - where an output cannot be written (docs/cli.md "Output
# files"), through `logify templates` (its -o, --rules and --state, its
# spool and its live rows), `logify classify` and `logify cluster --out`: a full device, a
# directory, a path under a regular file or a missing directory, a socket,
# a read-only file system, a closed stdout. Each is exit 1 with a message
# naming the path and the cause; nothing partial is left: no temporary
# file, an existing output unchanged.
source "$(dirname "$0")/../lib.sh"
clean_llm_env
cat >"$TMP/in.csv" <<'C'
source,log_message
hdfs,Received block blk_1 of size 10 from /10.0.0.1
hdfs,Received block blk_2 of size 20 from /10.0.0.2
ssh,Failed password for root from 1.2.3.4 port 22 ssh2
C
for i in $(seq 5); do echo "ssh,Failed password for u$i from 1.2.3.$i port 2$i ssh2"; done >>"$TMP/in.csv"
templates() { "$LOGIFY" templates "$TMP/in.csv" --no-progress "$@"; }
# nothing but the named files in DIR (no temporary file left behind)
only() { # only DIR NAME...
  local dir=$1 have want
  shift
  have=$(cd "$dir" && ls -A | sort | tr '\n' ' ')
  want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
  [[ $have == "$want" ]] || fail "in $dir: '$have', want '$want'"
}
mkdir "$TMP/o"
echo keep >"$TMP/o/old.csv"

# ---- -o: a full device (written through, the error at the write)
FULL=
if [[ $(id -u) -eq 0 ]] && mknod "$TMP/full" c 1 7 2>/dev/null; then FULL=$TMP/full; elif [[ -w /dev/full ]]; then FULL=/dev/full; fi
if [[ -n $FULL ]]; then
  expect_fail 1 "logify: error: writing $FULL: No space left on device" -- templates -o "$FULL"
  # live rows are written as they come: the same error, at the first block
  expect_fail 1 "logify: error: writing $FULL: No space left on device" -- templates -o "$FULL" --live --format jsonl --params
  # stdout on a full device
  rc=0
  templates >"$FULL" 2>"$TMP/err" || rc=$?
  [[ $rc -eq 1 ]] && grep -qx "logify: error: writing stdout: No space left on device" "$TMP/err" ||
    fail "stdout full: rc $rc $(cat "$TMP/err")"
  ok
  # --rules on a full device: the rows were written (their own file), the rules not
  expect_fail 1 "logify: error: writing $FULL: No space left on device" -- templates -o "$TMP/o/rows.csv" --rules "$FULL"
  [[ $(wc -l <"$TMP/o/rows.csv") -eq 9 ]] || fail "rows before the rules: $(cat "$TMP/o/rows.csv")"
  rm "$TMP/o/rows.csv"
  # classify -o on it
  expect_fail 1 "No space left on device" -- "$LOGIFY" classify "$TMP/in.csv" --route '*=rules' -o "$FULL"
else
  echo "note: no full device here (not root, no /dev/full): that part is not checked" >&2
fi

# ---- -o refused before anything is read: each message names the path
expect_fail 1 "logify: error: $TMP/o: is a directory; -o takes a regular file, a character device, a FIFO or -" -- \
  templates -o "$TMP/o"
expect_fail 1 "logify: error: cannot create $TMP/missing/out.csv: No such file or directory" -- \
  templates -o "$TMP/missing/out.csv"
expect_fail 1 "logify: error: $TMP/o/old.csv/out.csv: Not a directory" -- templates -o "$TMP/o/old.csv/out.csv"
/usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/sock"
expect_fail 1 "logify: error: $TMP/sock: not a regular file; -o takes a regular file" -- templates -o "$TMP/sock"
expect_fail 1 "logify: error: $TMP/sock: not a regular file" -- "$LOGIFY" classify "$TMP/in.csv" --route '*=rules' -o "$TMP/sock"
# --rules: the same refusals, after the rows were written whole
expect_fail 1 "logify: error: $TMP/o: is a directory" -- templates -o "$TMP/o/rows.csv" --rules "$TMP/o"
[[ $(wc -l <"$TMP/o/rows.csv") -eq 9 ]] || fail "rows: $(cat "$TMP/o/rows.csv")"
rm "$TMP/o/rows.csv"
# --state: a state that cannot be saved, named; the rows are out
expect_fail 1 "logify: error: $TMP/missing/st: cannot create a temporary file: No such file or directory" -- templates -o "$TMP/o/rows.csv" --state "$TMP/missing/st"
[[ $(wc -l <"$TMP/o/rows.csv") -eq 9 ]] || fail "rows: $(cat "$TMP/o/rows.csv")"
rm "$TMP/o/rows.csv"
# an input that cannot be opened: nothing created
expect_fail 1 "logify: error: $TMP/none.csv: No such file or directory" -- \
  "$LOGIFY" templates "$TMP/none.csv" -o "$TMP/o/rows.csv"
only "$TMP/o" old.csv
[[ $(cat "$TMP/o/old.csv") == keep ]] || fail "old.csv changed"
ok

# ---- a read-only file system (root writes anywhere else): no temporary file
RO=$TMP/ro
mkdir "$RO"
if mount -t tmpfs -o size=64k tmpfs "$RO" 2>"$TMP/mount.err"; then
  trap 'umount "$RO" 2>/dev/null || true; rm -rf "$TMP"' EXIT
  echo keep >"$RO/out.csv"
  mount -o remount,ro "$RO"
  expect_fail 1 "logify: error: cannot create $RO/out.csv: Read-only file system" -- templates -o "$RO/out.csv"
  expect_fail 1 "logify: error: cannot create $RO/out.csv: Read-only file system" -- \
    "$LOGIFY" classify "$TMP/in.csv" --route '*=rules' -o "$RO/out.csv"
  expect_fail 1 "logify: error: cannot create $RO/r.yaml: Read-only file system" -- \
    templates -o "$TMP/o/rows.csv" --rules "$RO/r.yaml"
  rm "$TMP/o/rows.csv"
  [[ $(cat "$RO/out.csv") == keep ]] || fail "the read-only file changed"
  only "$RO" out.csv
  # writable again but full: the rows fit the write buffer, the disk does
  # not take them when they are flushed at the end: the error then, the
  # temporary file removed, the old output kept
  mount -o remount,rw "$RO"
  dd if=/dev/zero of="$RO/fill" bs=1k count=200 2>/dev/null || true
  expect_fail 1 "logify: error: writing $RO/out.csv: No space left on device" -- templates -o "$RO/out.csv"
  [[ $(cat "$RO/out.csv") == keep ]] || fail "the old output changed on a full disk"
  only "$RO" fill out.csv
  umount "$RO"
  ok
else
  echo "note: cannot mount a tmpfs here ($(cat "$TMP/mount.err")): the read-only part is not checked" >&2
fi

# ---- cluster --out: each of its files that cannot be written stops it,
# naming the file; all or nothing: no other file of the set is written
# (the set is staged and renamed into place only when whole)
for i in $(seq 4); do
  echo "S,Disk quota exceeded on vol$i by $((i * 7)) MB,Resource Usage"
  echo "S,User u$i logged in from 10.0.0.$i,User Action"
done >"$TMP/cl.rows"
{ echo "source,log_message,target_label"; cat "$TMP/cl.rows"; } >"$TMP/cl.csv"
FILES=(embeddings.npy points.csv clusters.csv map.svg map.html suggested_rules.yaml)
for k in "${!FILES[@]}"; do
  f=${FILES[$k]}
  rm -rf "$TMP/cl"
  mkdir -p "$TMP/cl/$f"
  expect_fail 1 "logify: error: $TMP/cl/$f: is a directory" -- \
    "$LOGIFY" cluster --data "$TMP/cl.csv" --out "$TMP/cl" --no-progress
  for j in "${!FILES[@]}"; do
    g=${FILES[$j]}
    ((j == k)) || [[ ! -e "$TMP/cl/$g" ]] || fail "$f refused: $g was written (a partial set)"
  done
  [[ $(find "$TMP/cl" \( -name '*.tmp*' -o -name '.logify-cluster.*' \) | wc -l) -eq 0 ]] ||
    fail "$f refused: temporary files left"
done
# --out a regular file, or under a missing directory
echo x >"$TMP/clfile"
expect_fail 1 "logify: error: cannot create a directory in $TMP/clfile: Not a directory" -- \
  "$LOGIFY" cluster --data "$TMP/cl.csv" --out "$TMP/clfile" --no-progress
expect_fail 1 "logify: error: cannot create $TMP/none/cl: No such file or directory" -- \
  "$LOGIFY" cluster --data "$TMP/cl.csv" --out "$TMP/none/cl" --no-progress
ok

# ---- stdout a pipe no one reads (its read end closed before the start;
# SIGPIPE ignored, as under many supervisors): exit 1 naming the cause, live too
for mode in "" --live; do
  /usr/bin/python3 - "$LOGIFY" "$TMP/in.csv" $mode >"$TMP/pipe.out" <<'P' || fail "closed pipe ($mode): $(cat "$TMP/pipe.out")"
import os, signal, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run([sys.argv[1], "templates", sys.argv[2], "--no-progress"] + sys.argv[3:], stdout=w,
                   stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN))
err = p.stderr.decode()
assert p.returncode == 1, (p.returncode, err)
assert err.startswith("logify: error: ") and "Broken pipe" in err, err
P
done
ok
done_checks
