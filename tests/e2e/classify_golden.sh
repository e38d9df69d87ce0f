#!/usr/bin/env bash
# Golden end-to-end tests: tests/golden/<case>/ holds `args` (logify
# classify arguments, one per line; INPUT stands for the input file),
# `input.csv` or `input.path` (a path under ../shared), and `expected.out`.
source "$(dirname "$0")/../lib.sh"
for dir in "$LOGIFY_ROOT"/tests/golden/*/; do
  name=$(basename "$dir")
  if [[ -f "$dir/input.path" ]]; then
    input="$LOGIFY_SHARED/$(cat "$dir/input.path")"
    if [[ ! -f "$input" ]]; then
      echo "skip golden $name: $input is absent (needs ../shared)" >&2
      continue
    fi
  else
    input="$dir/input.csv"
  fi
  args=()
  while IFS= read -r a; do
    [[ -z "$a" ]] && continue
    [[ "$a" == INPUT ]] && a=$input
    args+=("$a")
  done <"$dir/args"
  (cd "$TMP" && env -u GROQ_API_KEY -u LOGIFY_LLM_API_KEY -u LOGIFY_LLM_BASE_URL "$LOGIFY" classify "${args[@]}") >"$TMP/$name.out" 2>"$TMP/$name.err" ||
    fail "golden $name: logify exited non-zero: $(cat "$TMP/$name.err")"
  if [[ "${UPDATE_GOLDEN:-}" == 1 ]]; then
    cp "$TMP/$name.out" "$dir/expected.out"
  fi
  diff -u "$dir/expected.out" "$TMP/$name.out" >&2 || fail "golden $name differs"
  ok
done
[[ $CHECKS -gt 0 ]] || fail "no golden case ran"
done_checks
