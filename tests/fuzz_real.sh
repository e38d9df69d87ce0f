#!/usr/bin/env bash
# fuzz_real.sh CORPUS REPLAY: CTest's fuzz.CORPUS.real. Replays through the
# fuzz harness REPLAY (fuzz/replay.c) the real inputs that stay outside the
# repository (scripts/fuzz_seeds.py real: slices of ../shared/datasets, the
# real all-MiniLM-L6-v2 tokenizer.json from the test venv, the BERT
# fixtures' weights), written into a temporary directory. Exits 77 (skip,
# saying why) when ../shared or the venv it needs is absent.
set -euo pipefail
corpus=$1 replay=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
python3 "$(dirname "$0")/../scripts/fuzz_seeds.py" real "$corpus" "$tmp" || rc=$?
[[ $rc -eq 0 ]] || exit $rc
"$replay" "$tmp"
