# Logify - thin wrapper around CMake + CTest.
#   make          build build/logify
#   make demo     install what is missing, build, classify resources/test.csv
#   make check    install what is missing, build, run every test, then again
#                 under AddressSanitizer + UBSan (build-asan/; without the long
#                 real-broker Kafka tests, label kafka_long), then the tests
#                 that run threads under ThreadSanitizer (build-tsan/); every
#                 round runs and is summarised even when another one fails
#   make layers   the layering check alone (docs/ARCHITECTURE.md, "Layout");
#                 `make test` runs it too (lint.layers)
#   make bench    benchmarks against the anchors (not part of check)
#   make model    re-create models/default from ../shared/datasets (same bytes)
#   make install  install (PREFIX=/usr/local, DESTDIR); make deb: a .deb
#                 (docs/deploy.md)
#   make mutants  mutation testing (tests/mutants.txt; not part of check)
#   make coverage line and branch coverage of src/ (gcovr; not part of check)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
# the tests whose code runs threads: job workers, the server (spool, direct
# answers, worker pool), the BERT thread team, the LLM client and cache,
# live reload (pipeline sets swapped under running requests), the progress
# line's ticker (and the commands that draw it), the Kafka worker's
# classifying threads, and the whole worker on librdkafka's mock cluster
# (test_kafka_tsan, test_kafka_cov: tests/unit/kafka/kafka_c11_shim.h puts
# librdkafka's C11 threads and locks on pthreads, which TSan intercepts:
# Debian's thrd_create alone crashes under TSan)
TSAN_TESTS ?= unit.test_(job|server_spool|bert|llm|llm_threads|llm_cache|svm|live|progress|kafka_team|kafka_tsan|kafka_cov|dynlib)$$|e2e.http_server|e2e.http_reload|e2e.http_hardening|e2e.http_heads|e2e.classify_cli|e2e.templates_(server|cli)|e2e.progress_tty
CTEST_ARGS ?=

.PHONY: venv venv-bench venv-llama all deps build demo check test test-asan asan test-tsan tsan bench fuzz clean model layers install deb
FUZZ_SECONDS ?= 60

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/logify classify resources/test.csv -o resources/output.csv --summary

# The Python venv for tests and benchmarks (scripts/venv.sh): build/venv with
# pinned packages (tests/requirements.txt; bench/requirements.txt for bench).
# `make test` tries to create it and goes on without it (the tests that need
# it then skip, saying why); .ci/run creates it first, so CI runs them.
venv: deps
	@bash scripts/venv.sh
	@bash scripts/browser-deps.sh

# Optional: a real llama.cpp server for tests/e2e/llm_llamacpp.sh (which
# skips without it). Builds llama.cpp from source: slow the first time
# (docs/llm.md, "A real llama.cpp server"), then from pip's wheel cache.
venv-llama: deps
	@bash scripts/venv.sh --llama

venv-bench: deps
	@bash scripts/install-deps.sh --bench
	@bash scripts/venv.sh --bench

test: build
	@bash scripts/venv.sh || echo "logify: no Python venv: the tests that need it will skip" >&2
	@bash scripts/browser-deps.sh || echo "logify: no playwright-core: the browser tests will skip" >&2
	cd $(BUILD) && { ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS) --output-junit "$$PWD/ctest-junit.xml"; \
	  rc=$$?; python3 $(CURDIR)/scripts/check-skips.py ctest-junit.xml || rc=1; exit $$rc; }

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLOGIFY_SANITIZE=ON

asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-asan: asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE kafka_long $(CTEST_ARGS) --output-junit "$$PWD/ctest-junit.xml"; \
	  rc=$$?; python3 $(CURDIR)/scripts/check-skips.py ctest-junit.xml || rc=1; exit $$rc

$(TSAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOGIFY_TSAN=ON

tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j $(JOBS)

# A race report makes the process exit 66 (TSan's default), which fails the
# test: the HTTP tests require every server to exit 0.
test-tsan: tsan
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)' --output-junit "$$PWD/ctest-junit.xml"; \
	  rc=$$?; python3 $(CURDIR)/scripts/check-skips.py ctest-junit.xml || rc=1; exit $$rc

# After each round, scripts/check-skips.py lists the skipped tests and why;
# with CI=true a skip not on tests/skip-allowlist.txt fails the round.
# Each round runs even when an earlier one failed; one summary line each
# (scripts/check.sh); non-zero exit when any failed.
check: deps
	@bash scripts/check.sh

layers: build
	python3 scripts/check-layers.py --objects $(BUILD)

bench: build venv-bench
	bash bench/run.sh

# Swagger UI for `logify serve`'s /docs, at the version pinned in
# web/docs/package-lock.json (no CDN; without it /docs has a built-in page).
# Mutation testing (scripts/mutants.py, docs/testing.md): each one-line
# mutation of tests/mutants.txt applied, rebuilt in build-mutants/, the tests
# it names run; prints killed / survived and the score. Not part of check.
.PHONY: mutants
mutants: deps
	python3 scripts/mutants.py --jobs $(JOBS)

# Coverage (scripts/coverage.py, docs/testing.md): a gcov build in
# build-cov/, the whole suite, then line and branch coverage per file of
# src/ (gcovr from the test venv: tests/requirements.txt), the summary
# written into docs/testing.md. Not part of check.
COV_BUILD ?= build-cov
.PHONY: coverage
coverage: deps venv
	cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLOGIFY_COVERAGE=ON
	cmake --build $(COV_BUILD) -j $(JOBS)
	find $(COV_BUILD) -name '*.gcda' -delete
	cd $(COV_BUILD) && { ctest --output-on-failure -j $(JOBS) --timeout 1200 $(CTEST_ARGS); rc=$$?; \
	  python3 $(CURDIR)/scripts/coverage.py --build $(abspath $(COV_BUILD)) \
	    --doc $(CURDIR)/docs/testing.md --tests-rc $$rc || rc=1; exit $$rc; }

.PHONY: docs-assets
docs-assets:
	cd web/docs && npm ci --no-audit --no-fund --ignore-scripts

# playwright-core for the console's browser tests (tests/browser), at the
# version pinned in tests/browser/package-lock.json; it drives Debian's
# chromium (scripts/install-deps.sh), no browser download. `make venv` (CI)
# and `make test` run it; once per content of the lock file.
.PHONY: browser-deps
browser-deps: deps
	@bash scripts/browser-deps.sh

# libFuzzer (clang): each harness for FUZZ_SECONDS, new inputs into fuzz/corpus/.
fuzz: deps
	@bash scripts/install-deps.sh --fuzz
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLOGIFY_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	for f in build-fuzz/fuzz_*; do \
	  c=$${f#build-fuzz/fuzz_}; mkdir -p fuzz/corpus/$$c; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=512 fuzz/corpus/$$c || exit 1; done

# The shipped default model bundle: `logify train` on the seed data, fixed
# seed, so the result is byte-identical (docs/model.md).
SEED_DATA ?= ../shared/datasets/synthetic_logs.csv
model: build
	$(BUILD)/logify train --data $(SEED_DATA) --out models/default --encoder hash:text=1 --seed 42

# Install (docs/deploy.md): bin/logify, the default model and rules under
# share/logify, the man page (from --help, help2man), the systemd unit for
# `logify serve` and its environment file; PREFIX and DESTDIR as usual.
PREFIX ?= /usr/local
DESTDIR ?=
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# A Debian package of the same files (prefix /usr), built with dpkg-deb
# (scripts/make-deb.sh): DEB_OUT/logify_VERSION_ARCH.deb.
DEB_OUT ?= $(BUILD)/deb
deb: build
	bash scripts/make-deb.sh $(BUILD) $(DEB_OUT)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
