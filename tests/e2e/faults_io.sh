#!/usr/bin/env bash
# Fault injection on output (issue 14, beyond the list): a full disk
# (ENOSPC, a small tmpfs) and a closed pipe on stdout (EPIPE). No fault may
# leave a partial output file, crash, or report rows it did not write.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')
{ echo source,log_message; for i in $(seq 20000); do echo "S,User User$i logged in."; done; } >"$TMP/in.csv"

crashed() { # a sanitizer report or a signal other than SIGPIPE
  grep -qE "AddressSanitizer|UndefinedBehaviorSanitizer|runtime error|ThreadSanitizer" "$1" || [[ $2 -gt 128 && $2 -ne 141 ]]
}

# ---- ENOSPC: -o on a full tmpfs
MNT="$TMP/small"
mkdir "$MNT"
if mount -t tmpfs -o size=64k tmpfs "$MNT" 2>"$TMP/mount.err"; then
  trap 'umount "$MNT" 2>/dev/null || true; rm -rf "$TMP"' EXIT
  echo "old" >"$MNT/out.csv"
  for threads in 1 3; do
    rc=0
    "$LOGIFY" classify "$TMP/in.csv" -o "$MNT/out.csv" --threads $threads --summary "${RULES_ONLY[@]}" \
      >"$TMP/o" 2>"$TMP/err" || rc=$?
    crashed "$TMP/err" $rc && fail "crash on ENOSPC (exit $rc): $(cat "$TMP/err")"
    [[ $rc -eq 1 ]] || fail "ENOSPC: exit $rc, want 1: $(cat "$TMP/err")"
    grep -q "No space left on device" "$TMP/err" || fail "ENOSPC not named: $(cat "$TMP/err")"
    grep -q "rows in" "$TMP/err" && fail "a summary of rows that were not written: $(cat "$TMP/err")"
    [[ $(cat "$MNT/out.csv") == old ]] || fail "the old output was changed"
    [[ $(ls "$MNT") == out.csv ]] || fail "left behind on the full disk: $(ls "$MNT")"
    ok
  done
  # the same output fits when the disk has room: the fault was the disk
  small_in="$TMP/small.csv"
  head -50 "$TMP/in.csv" >"$small_in"
  "$LOGIFY" classify "$small_in" -o "$MNT/out.csv" "${RULES_ONLY[@]}" 2>"$TMP/err" || fail "small output: $(cat "$TMP/err")"
  [[ $(wc -l <"$MNT/out.csv") -eq 50 ]] || fail "small output rows: $(wc -l <"$MNT/out.csv")"
  ok
  umount "$MNT"
else
  echo "note: cannot mount a tmpfs here ($(cat "$TMP/mount.err")): the ENOSPC part is skipped" >&2
fi

# ---- EPIPE: stdout closed early. SIGPIPE ignored (as under many
# supervisors): a clear error and exit 1; default SIGPIPE: killed by it.
( trap '' PIPE; r=0; "$LOGIFY" classify "$TMP/in.csv" --summary "${RULES_ONLY[@]}" 2>"$TMP/err" || r=$?
  echo $r >"$TMP/rc" ) | head -c 100 >/dev/null || true
rc=$(cat "$TMP/rc")
crashed "$TMP/err" "$rc" && fail "crash on EPIPE (exit $rc): $(cat "$TMP/err")"
[[ $rc -eq 1 ]] || fail "EPIPE with SIGPIPE ignored: exit $rc, want 1: $(cat "$TMP/err")"
grep -q "Broken pipe" "$TMP/err" || fail "EPIPE not named: $(cat "$TMP/err")"
grep -q "rows in" "$TMP/err" && fail "a summary of rows that were not written: $(cat "$TMP/err")"
ok
( r=0; "$LOGIFY" classify "$TMP/in.csv" "${RULES_ONLY[@]}" 2>"$TMP/err" || r=$?
  echo $r >"$TMP/rc" ) | head -c 100 >/dev/null || true
rc=$(cat "$TMP/rc")
crashed "$TMP/err" "$rc" && fail "crash on EPIPE (exit $rc): $(cat "$TMP/err")"
[[ $rc -eq 141 || $rc -eq 1 ]] || fail "EPIPE: exit $rc, want 141 (SIGPIPE) or 1"
ok
done_checks
