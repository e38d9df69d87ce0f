#!/usr/bin/env bash
# Installs the Debian packages Logify needs to build and test, when they are
# missing. Idempotent: does nothing (and needs no privileges) when all are
# present. Uses apt-get as root, sudo otherwise.
#   scripts/install-deps.sh          build + test packages
#   scripts/install-deps.sh --bench  also what `make bench` compares against
#   scripts/install-deps.sh --fuzz   also clang and libFuzzer for `make fuzz`
# Then the Apache Kafka broker's jars for the Kafka tests (scripts/kafka.sh
# fetch: mvn, cached; nothing to do once they are there).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git python3 python3-venv
  libvectorscan-dev libpcre2-dev libcsv-dev libyaml-dev libjansson-dev
  libcurl4-openssl-dev libmicrohttpd-dev libutf8proc-dev libopenblas-dev
  liblbfgs-dev libcmocka-dev curl
  help2man dpkg-dev systemd # make install's man page, make deb, the unit's check (docs/deploy.md)
  librdkafka-dev                                  # logify kafka (src/kafka/)
  openjdk-17-jre-headless maven kcat python3-confluent-kafka # tests/e2e/kafka_*.sh: a real broker (scripts/kafka.sh)
)
# The console's browser tests (tests/browser, docs/console.md): Debian's
# Chromium, driven headless by playwright-core (npm, `make browser-deps`)
# under node. A node that is already there is kept (NodeSource's nodejs
# ships its own npm, which conflicts with Debian's npm package).
PACKAGES+=(chromium)
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
if [[ "${1:-}" == "--fuzz" ]]; then
  PACKAGES+=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=(python3-sklearn)
  PACKAGES+=(wrk python3-fastapi python3-uvicorn python3-multipart) # bench/bench_http.sh
  PACKAGES+=(umap-learn bc) # bench/bench_umap.sh
  PACKAGES+=(python3-torch) # bench/bench_bert.sh (anchor + MiniLM-shaped model generator)
  PACKAGES+=(libjemalloc2 libmimalloc2.0) # bench/kafka_alloc.sh (the worker under other allocators)
fi

kafka_jars() {
  bash "$(dirname "$0")/kafka.sh" fetch >/dev/null ||
    echo "logify: warning: no Kafka broker jars: the Kafka tests (tests/e2e/kafka_*.sh) cannot run" >&2
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  kafka_jars
  exit 0
fi

echo "logify: installing missing packages: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "logify: error: these Debian packages are missing: ${missing[*]}" >&2
  echo "logify: run as root, or with passwordless sudo, or install them yourself:" >&2
  echo "  apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
kafka_jars
