#!/usr/bin/env bash
# SIGINT / SIGTERM during `classify -o out.csv` (issue 14, item 5): the
# temporary file beside out.csv is removed, out.csv keeps what it had, and
# the process dies by the signal (status 130 / 143). The input is a FIFO we
# hold open, so the run is certainly in progress when the signal comes.
source "$(dirname "$0")/../lib.sh"
RULES_ONLY=(--route '*=rules' --route 'LegacyCRM=rules')
for sig in INT TERM HUP; do
  want=$((128 + $(kill -l $sig)))
  rm -f "$TMP/in.fifo"
  mkfifo "$TMP/in.fifo"
  echo previous >"$TMP/out.csv"
  set -m # job control: else bash starts background jobs with SIGINT ignored
  "$LOGIFY" classify "$TMP/in.fifo" -o "$TMP/out.csv" "${RULES_ONLY[@]}" 2>"$TMP/err" &
  pid=$!
  set +m
  exec 3>"$TMP/in.fifo" # the writer: the reader stays blocked on more input
  printf 'source,log_message\nS,Backup completed successfully.\n' >&3
  for _ in $(seq 400); do compgen -G "$TMP/out.csv.tmp*" >/dev/null && break; sleep 0.05; done
  compgen -G "$TMP/out.csv.tmp*" >/dev/null || fail "no temporary file appeared ($sig)"
  kill -s $sig $pid
  rc=0
  wait $pid || rc=$?
  exec 3>&-
  [[ $rc -eq $want ]] || fail "SIG$sig: exit status $rc, want $want ($(cat "$TMP/err"))"
  compgen -G "$TMP/out.csv.tmp*" >/dev/null && fail "SIG$sig left $(ls "$TMP"/out.csv.tmp*)"
  [[ $(cat "$TMP/out.csv") == previous ]] || fail "SIG$sig changed out.csv"
  ok
done
done_checks
