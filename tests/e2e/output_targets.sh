#!/usr/bin/env bash
# `classify -o PATH` by what PATH is (issue 14, item 1; docs/csv.md "Output
# files"): a regular file is replaced atomically keeping its mode and owner;
# a symbolic link is followed (the link stays, its target gets the rows);
# a character device and a FIFO are written through, never replaced; a
# directory is refused.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')
printf 'source,log_message\nS,Backup completed successfully.\n' >"$TMP/in.csv"
EXPECT=$'source,log_message,target_label\nS,Backup completed successfully.,System Notification'
classify() { "$LOGIFY" classify "$TMP/in.csv" "${RULES_ONLY[@]}" "$@"; }

# ---- an existing regular file keeps its mode (and, as root, its owner)
echo old >"$TMP/out.csv"
chmod 600 "$TMP/out.csv"
if [[ $(id -u) -eq 0 ]]; then chown 65534:65534 "$TMP/out.csv"; fi
classify -o "$TMP/out.csv" || fail "regular file"
[[ "$(cat "$TMP/out.csv")" == "$EXPECT" ]] || fail "regular file content: $(cat "$TMP/out.csv")"
[[ $(stat -c %a "$TMP/out.csv") == 600 ]] || fail "mode 600 became $(stat -c %a "$TMP/out.csv")"
if [[ $(id -u) -eq 0 ]]; then
  [[ $(stat -c %u:%g "$TMP/out.csv") == 65534:65534 ]] || fail "owner became $(stat -c %u:%g "$TMP/out.csv")"
fi
ok
# a new file: 0666 & ~umask
(umask 027 && classify -o "$TMP/new.csv") || fail "new file"
[[ $(stat -c %a "$TMP/new.csv") == 640 ]] || fail "new file mode $(stat -c %a "$TMP/new.csv") (umask 027)"
ok

# ---- a symbolic link is followed: the link stays, the target gets the rows
echo old >"$TMP/target.csv"
ln -s target.csv "$TMP/link.csv"
classify -o "$TMP/link.csv" || fail "symlink"
[[ -L "$TMP/link.csv" ]] || fail "the symbolic link was replaced"
[[ "$(cat "$TMP/target.csv")" == "$EXPECT" ]] || fail "symlink target: $(cat "$TMP/target.csv")"
ok
ln -s nowhere/x.csv "$TMP/dangling.csv"
expect_fail 1 "symbolic link whose target cannot be resolved" -- classify -o "$TMP/dangling.csv"
[[ -L "$TMP/dangling.csv" ]] || fail "a dangling link was replaced"

# ---- a FIFO is written through (a reader gets the rows; it stays a FIFO)
mkfifo "$TMP/fifo"
cat "$TMP/fifo" >"$TMP/from_fifo" &
reader=$!
classify -o "$TMP/fifo" || fail "fifo"
wait $reader
[[ -p "$TMP/fifo" ]] || fail "the FIFO was replaced by a $(stat -c %F "$TMP/fifo")"
[[ "$(cat "$TMP/from_fifo")" == "$EXPECT" ]] || fail "through the FIFO: $(cat "$TMP/from_fifo")"
ok

# ---- character devices: written through; a full one is an error, and the
# node stays a device. Our own nodes in $TMP (mknod needs root), never /dev.
if [[ $(id -u) -eq 0 ]] && mknod "$TMP/null" c 1 3 2>/dev/null && mknod "$TMP/full" c 1 7; then
  classify -o "$TMP/null" || fail "a null device"
  [[ -c "$TMP/null" ]] || fail "the null device node became a $(stat -c %F "$TMP/null")"
  expect_fail 1 "$TMP/full: write failed: No space left on device" -- classify -o "$TMP/full"
  [[ -c "$TMP/full" ]] || fail "the full device node became a $(stat -c %F "$TMP/full")"
  ok
else
  echo "note: not root (or mknod refused): device nodes not checked" >&2
fi
# -o - is stdout
[[ "$(classify -o -)" == "$EXPECT" ]] || fail "-o -"
ok

# ---- refused: a directory; nothing left behind anywhere
mkdir "$TMP/dir"
expect_fail 1 "is a directory" -- classify -o "$TMP/dir"
ls "$TMP" | grep -q '\.tmp' && fail "a temporary file was left behind: $(ls "$TMP")"
ok
done_checks
