#!/usr/bin/env bash
# same-output.sh OLD_LOGIFY NEW_LOGIFY - do two builds of `logify` give the
# same bytes? For refactors that must not change behaviour (issue 15's
# moves and splits): build the commit before the change somewhere else
# (git archive REV | tar -x -C DIR; cmake ... --target logify) and compare.
#
# Compared byte for byte, both binaries run from this repository's root with
# the same inputs and the same model bundle (models/default):
#   classify  resources/test.csv and ../shared/datasets/*.csv (CSV output)
#   eval      the seed data (the report, timings removed)
#   train     the seed data, hash encoder, seed 42 (the bundle's files)
#   cluster   the seed data, hash and sbert:<tiny BERT fixture> (every file)
#   embed     400 seed messages with each tests/fixtures/bert model (and
#             the model directories in $SAME_OUTPUT_MODELS, e.g. the real
#             MiniLM: build/venv/bin/python scripts/minilm_dir.py),
#             1 and 2 threads, batch 32 / 7 / 1
# Needs ../shared (LOGIFY_SHARED). Exit 0 when all are the same, 1 otherwise.
set -uo pipefail
[[ $# -eq 2 ]] || { echo "usage: $0 OLD_LOGIFY NEW_LOGIFY" >&2; exit 2; }
OLD=$(realpath "$1"); NEW=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${LOGIFY_SHARED:-$ROOT/../shared}
SEED="$SHARED/datasets/synthetic_logs.csv"
[[ -f "$SEED" ]] || { echo "same-output: $SEED is absent" >&2; exit 2; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$ROOT"
status=0
same() { # what file1 file2
  if [[ -s "$3" ]] && cmp -s "$2" "$3"; then echo "same     $1"
  else echo "DIFFERENT $1"; status=1; fi
}
same_dir() { # what dir1 dir2
  if [[ -n "$(ls -A "$3" 2>/dev/null)" ]] && diff -r "$2" "$3" >/dev/null; then echo "same     $1 ($(ls "$3" | tr '\n' ' '))"
  else echo "DIFFERENT $1"; status=1; fi
}

for f in resources/test.csv "$SHARED"/datasets/*.csv; do
  "$OLD" classify "$f" --model models/default -o "$T/old.csv" >/dev/null 2>&1
  "$NEW" classify "$f" --model models/default -o "$T/new.csv" >/dev/null 2>&1
  same "classify $(basename "$f")" "$T/old.csv" "$T/new.csv"
done

"$OLD" eval --data "$SEED" --model models/default >"$T/old.txt" 2>/dev/null
"$NEW" eval --data "$SEED" --model models/default >"$T/new.txt" 2>/dev/null
sed -i -E 's/[0-9.]+ s\b//g; s/[0-9.]+ rows\/s//g' "$T/old.txt" "$T/new.txt"
same "eval (timings removed)" "$T/old.txt" "$T/new.txt"

"$OLD" train --data "$SEED" --out "$T/m_old" --encoder hash --seed 42 >/dev/null 2>&1
"$NEW" train --data "$SEED" --out "$T/m_new" --encoder hash --seed 42 >/dev/null 2>&1
same_dir "train --encoder hash --seed 42" "$T/m_old" "$T/m_new"

for enc in hash "sbert:$ROOT/tests/fixtures/bert/tiny_mean"; do
  "$OLD" cluster --data "$SEED" --out "$T/c_old" --encoder "$enc" --no-progress >/dev/null 2>&1
  "$NEW" cluster --data "$SEED" --out "$T/c_new" --encoder "$enc" --no-progress >/dev/null 2>&1
  same_dir "cluster --encoder ${enc%%:*}" "$T/c_old" "$T/c_new"
  rm -rf "$T/c_old" "$T/c_new"
done

python3 - "$SEED" >"$T/msgs.txt" <<'PY'
import csv, itertools, sys
for r in itertools.islice(csv.DictReader(open(sys.argv[1])), 400):
    print(r["log_message"].replace("\n", " "))
PY
for m in tests/fixtures/bert/*/ ${SAME_OUTPUT_MODELS:-}; do
  [[ -f "$m/config.json" ]] || continue
  for args in "--threads 1 --batch 32" "--threads 2 --batch 7" "--threads 1 --batch 1"; do
    # shellcheck disable=SC2086
    "$OLD" embed --model "$m" $args <"$T/msgs.txt" >"$T/old.txt" 2>/dev/null
    # shellcheck disable=SC2086
    "$NEW" embed --model "$m" $args <"$T/msgs.txt" >"$T/new.txt" 2>/dev/null
    same "embed $(basename "$m") $args" "$T/old.txt" "$T/new.txt"
  done
done
exit $status
