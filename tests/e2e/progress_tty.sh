#!/usr/bin/env bash
# The progress line of classify, train, eval, embed and templates: drawn on
# stderr when it is a terminal (a pseudo-terminal from tests/e2e/on_tty.py:
# a bar, the percentage of a file, rows and rows/s, redrawn in place with
# \r and erased at the end), never when stderr is a pipe or a file, never
# with --no-progress or TERM=dumb, not when the rows themselves go to the
# terminal; and what the command writes (files, stdout) is byte for byte
# the same either way. The line's own arithmetic (rate, ETA, width) is
# tests/unit/core/test_progress.c.
source "$(dirname "$0")/../lib.sh"
ON_TTY="$LOGIFY_ROOT/tests/e2e/on_tty.py"
BAR=$'\033[K'

python3 "$LOGIFY_ROOT/tests/gen/gen_labeled.py" 9 600 5 >"$TMP/data.csv"
python3 - "$TMP/data.csv" >"$TMP/in.csv" <<'PY'
import csv, sys
r = csv.reader(open(sys.argv[1]))
w = csv.writer(sys.stdout, lineterminator="\n")
for row in r:
    w.writerow(row[:2])
PY

# has_bar FILE CMD: the terminal got a progress line of CMD with rows/s
has_bar() {
  local f=$1 what=$2
  grep -q "rows/s" "$f" || fail "$what: no 'rows/s' on the terminal: $(od -c "$f" | head -20)"
  grep -qF "$BAR" "$f" || fail "$what: no erase-to-end-of-line on the terminal"
  grep -qa $'\r'"$what" "$f" || fail "$what: the line does not start with \\r$what"
  ok
}
# no_bar FILE WHAT: nothing of a progress line
no_bar() {
  local f=$1 what=$2
  if grep -q "rows/s" "$f" || grep -qF "$BAR" "$f" || grep -qF "[==" "$f"; then
    fail "$what: a progress line where none belongs: $(od -c "$f" | head -20)"
  fi
  ok
}

# ---- classify: a file to a file --------------------------------------------
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" classify "$TMP/in.csv" -o "$TMP/c_tty.csv"
has_bar "$TMP/tty" classify
grep -q "100%" "$TMP/tty" || fail "classify: no percentage for a file: $(od -c "$TMP/tty" | head)"
grep -qE "600 rows" "$TMP/tty" || fail "classify: the last state should count 600 rows"
tail -c 4 "$TMP/tty" | cmp -s - <(printf '\r\033[K') || fail "classify: the line is not erased at the end"
ok
"$LOGIFY" classify "$TMP/in.csv" -o "$TMP/c_pipe.csv" 2>"$TMP/err" | cat
no_bar "$TMP/err" "classify (stderr a file)"
"$LOGIFY" classify "$TMP/in.csv" -o "$TMP/c_pipe2.csv" 2>&1 | cat >"$TMP/err2"
no_bar "$TMP/err2" "classify (stderr a pipe)"
cmp "$TMP/c_tty.csv" "$TMP/c_pipe.csv" || fail "classify: output differs with a terminal"
cmp "$TMP/c_tty.csv" "$TMP/c_pipe2.csv" || fail "classify: output differs with a pipe"
ok

# rows to stdout (a file): the bar still shows, stdout holds only rows
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" classify "$TMP/in.csv" >"$TMP/c_stdout.csv"
has_bar "$TMP/tty" classify
cmp "$TMP/c_tty.csv" "$TMP/c_stdout.csv" || fail "classify: stdout differs from -o"
# from a pipe: no size, so rows and rows/s without a percentage
python3 "$ON_TTY" "$TMP/tty" -- bash -c "cat '$TMP/in.csv' | '$LOGIFY' classify - -o '$TMP/c_stdin.csv'"
has_bar "$TMP/tty" classify
grep -q "%" "$TMP/tty" && fail "classify from a pipe: a percentage without a size"
cmp "$TMP/c_tty.csv" "$TMP/c_stdin.csv" || fail "classify: stdin output differs"
ok
# rows to the terminal itself: no bar among them
python3 "$ON_TTY" --stdout-tty "$TMP/tty" -- "$LOGIFY" classify "$TMP/in.csv"
no_bar "$TMP/tty" "classify (rows on the terminal)"
grep -q "Label\|Unclassified" "$TMP/tty" || fail "classify: the rows did not reach the terminal"
# --no-progress, TERM=dumb
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" classify "$TMP/in.csv" -o "$TMP/c_np.csv" --no-progress
no_bar "$TMP/tty" "classify --no-progress"
cmp "$TMP/c_tty.csv" "$TMP/c_np.csv" || fail "classify --no-progress: output differs"
TERM=dumb python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" classify "$TMP/in.csv" -o "$TMP/c_np.csv"
no_bar "$TMP/tty" "classify (TERM=dumb)"

# Ctrl-C while the line is up: the line is erased, the half-written output
# removed, and the process dies by the signal
rc=0
python3 "$ON_TTY" --feed "$TMP/in.csv" --interrupt-on "rows/s" "$TMP/tty" -- \
  "$LOGIFY" classify - -o "$TMP/c_int.csv" || rc=$?
[[ $rc -eq 130 ]] || fail "classify on Ctrl-C: exit $rc, want 130 (SIGINT): $(od -c "$TMP/tty" | tail -5)"
tail -c 4 "$TMP/tty" | cmp -s - <(printf '\r\033[K') || fail "classify on Ctrl-C: the line was not erased: $(od -c "$TMP/tty" | tail -5)"
[[ ! -e $TMP/c_int.csv ]] || fail "classify on Ctrl-C: a half-written output remains"
ls "$TMP" | grep -q '^c_int\.csv\.' && fail "classify on Ctrl-C: a temporary file remains: $(ls "$TMP")"
ok

# ---- train ---------------------------------------------------------------------
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" train --data "$TMP/data.csv" --out "$TMP/m_tty" --seed 3 \
  --encoder hash:text=1 --json >"$TMP/t_tty.json"
has_bar "$TMP/tty" train
grep -q "train: reading" "$TMP/tty" || fail "train: no reading phase"
grep -q "train: fitting" "$TMP/tty" || fail "train: no fitting phase"
"$LOGIFY" train --data "$TMP/data.csv" --out "$TMP/m_pipe" --seed 3 --encoder hash:text=1 --json \
  >"$TMP/t_pipe.json" 2>"$TMP/err"
no_bar "$TMP/err" train
diff -r "$TMP/m_tty" "$TMP/m_pipe" >/dev/null || fail "train: the bundle differs with a terminal"
ok
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" train --data "$TMP/data.csv" --out "$TMP/m_np" --seed 3 \
  --encoder hash:text=1 --no-progress >/dev/null
no_bar "$TMP/tty" "train --no-progress"

# ---- eval ----------------------------------------------------------------------
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" eval --data "$TMP/data.csv" --model "$TMP/m_tty" --json \
  >"$TMP/e_tty.json"
has_bar "$TMP/tty" eval
grep -q "eval: classifying" "$TMP/tty" || fail "eval: no classifying phase"
"$LOGIFY" eval --data "$TMP/data.csv" --model "$TMP/m_tty" --json >"$TMP/e_pipe.json" 2>"$TMP/err"
no_bar "$TMP/err" eval
cmp "$TMP/e_tty.json" "$TMP/e_pipe.json" || fail "eval: the figures differ with a terminal"
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" eval --data "$TMP/data.csv" --model "$TMP/m_tty" \
  --no-progress >/dev/null
no_bar "$TMP/tty" "eval --no-progress"

# ---- templates -----------------------------------------------------------------
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" templates "$TMP/in.csv" -o "$TMP/t_tty.csv"
has_bar "$TMP/tty" templates
grep -q "100%" "$TMP/tty" || fail "templates: no percentage for a file"
"$LOGIFY" templates "$TMP/in.csv" -o "$TMP/t_pipe.csv" 2>"$TMP/err"
no_bar "$TMP/err" templates
cmp "$TMP/t_tty.csv" "$TMP/t_pipe.csv" || fail "templates: output differs with a terminal"
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" templates "$TMP/in.csv" -o "$TMP/t_np.csv" --no-progress
no_bar "$TMP/tty" "templates --no-progress"

# ---- embed (the tiny committed BERT) -------------------------------------------
sed -n 2,201p "$TMP/in.csv" | cut -d, -f2 >"$TMP/lines.txt"
FX="$LOGIFY_ROOT/tests/fixtures/bert/tiny_mean"
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" embed --model "$FX" --threads 1 <"$TMP/lines.txt" >"$TMP/v_tty.txt"
has_bar "$TMP/tty" embed
grep -q "100%" "$TMP/tty" || fail "embed: no percentage for a file on stdin"
grep -q "200 rows" "$TMP/tty" || fail "embed: the last state should count 200 rows"
"$LOGIFY" embed --model "$FX" --threads 1 <"$TMP/lines.txt" >"$TMP/v_pipe.txt" 2>"$TMP/err"
no_bar "$TMP/err" embed
# the same vectors (within 1e-6: embed's own output is not always
# bit-identical from run to run on a loaded machine, with or without a
# terminal; e2e.embed_tokenizer_json shows the same)
python3 - "$TMP/v_tty.txt" "$TMP/v_pipe.txt" <<'PY' || fail "embed: vectors differ with a terminal"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 200, (len(a), len(b))
worst = max(abs(x - y) for u, v in zip(a, b) for x, y in zip(u, v))
assert worst < 1e-6, worst
PY
python3 "$ON_TTY" "$TMP/tty" -- "$LOGIFY" embed --model "$FX" --no-progress <"$TMP/lines.txt" >/dev/null
no_bar "$TMP/tty" "embed --no-progress"

echo "progress_tty: $CHECKS checks passed"
