#!/usr/bin/env bash
# Creates (or brings up to date) the Python virtual environment that tests and
# benchmarks use: build/venv (LOGIFY_VENV overrides), never committed, never
# needed by `make demo`; C stays the product and Python never runs inside it.
#   scripts/venv.sh          tests/requirements.txt (--no-deps: data packages)
#   scripts/venv.sh --bench  also bench/requirements.txt (sentence-transformers,
#                            FastAPI, ... on Debian's python3-torch)
#   scripts/venv.sh --llama  a venv of its own, build/venv-llama
#                            (LOGIFY_LLAMA_VENV overrides; no system site
#                            packages: its numpy 2 and FastAPI pins would
#                            break the bench venv's Debian torch), with
#                            tests/requirements-llama.txt (--no-deps):
#                            llama-cpp-python[server], which compiles llama.cpp
#                            from source (pip caches the wheel; docs/llm.md,
#                            "A real llama.cpp server"), and gguf
# Made with Debian's /usr/bin/python3 and --system-site-packages so that
# Debian's CPU-only python3-torch and python3-sklearn serve the benchmarks
# (docs/bert.md, "The real model"). Idempotent: a stamp per requirements file
# records what was installed. Exits non-zero with a message when it cannot.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${LOGIFY_VENV:-$ROOT/build/venv}
PY=/usr/bin/python3
bench=0 llama=0
[[ "${1:-}" == "--bench" ]] && bench=1
[[ "${1:-}" == "--llama" ]] && llama=1

if [[ ! -x $PY ]] || ! $PY -c 'import ensurepip' 2>/dev/null; then
  echo "logify: venv: Debian's python3 with python3-venv is needed (scripts/install-deps.sh)" >&2
  exit 1
fi
site=--system-site-packages
if ((llama)); then
  VENV=${LOGIFY_LLAMA_VENV:-$ROOT/build/venv-llama}
  site=
fi
if [[ ! -x $VENV/bin/python ]]; then
  echo "logify: creating the Python venv $VENV" >&2
  rm -rf "$VENV"
  $PY -m venv $site "$VENV"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
install() { # install REQUIREMENTS [pip options]: once per content of the file
  local req=$1
  shift
  local stamp
  stamp="$VENV/.installed-$(basename "$(dirname "$req")")-$(sha256sum "$req" | cut -c1-16)"
  [[ -f $stamp ]] && return 0
  echo "logify: venv: installing $req" >&2
  "$VENV/bin/pip" install -q "$@" -r "$req"
  touch "$stamp"
}
((llama)) || install "$ROOT/tests/requirements.txt" --no-deps
if ((bench)); then
  # Debian's torch, scikit-learn and numpy must be there first: otherwise
  # pip resolves sentence-transformers' dependencies from PyPI (torch with
  # ~3 GB of CUDA wheels, numpy 2, which breaks the pinned pandas)
  if ! $PY -c 'import torch, sklearn, numpy' 2>/dev/null; then
    echo "logify: venv: Debian's python3-torch and python3-sklearn are needed first (scripts/install-deps.sh --bench)" >&2
    exit 1
  fi
  install "$ROOT/bench/requirements.txt"
fi
if ((llama)); then
  # portable code (no -march=native), two compile jobs at most
  # (no llava/mtmd: 51 of the 178 objects, and the tests need no images)
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF}"
  export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
  install "$ROOT/tests/requirements-llama.txt" --no-deps
fi
