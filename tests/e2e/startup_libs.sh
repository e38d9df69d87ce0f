#!/usr/bin/env bash
# Light commands load only the libraries they use (issue 17, small files):
# libcurl, OpenBLAS, libmicrohttpd, librdkafka, libcsv, liblbfgs,
# libyaml, PCRE2 and utf8proc are not linked but loaded with dlopen by the
# command that needs them (include/logify/dynlib.h), and so is Vectorscan
# (with libstdc++) by the rules stage. The dynamic loader's
# own log (LD_DEBUG=libs) shows which shared objects a run initialised:
#  - templates and --version: none of the ten, nor libstdc++;
#  - classify with rules and the default model (no LLM), eval, rules check:
#    Vectorscan, libyaml and PCRE2 (the rules), none of the six others;
#  - cluster loads OpenBLAS, classify with an LLM configured loads libcurl
#    (and answers: the fake LLM server), and `logify serve` libmicrohttpd
#    (and answers /healthz); a broken copy of the check (a library we know
#    is loaded) shows it can fail.
# That serve, kafka, embed with BERT and pull still work is the business of
# their own tests (e2e.http_*, e2e.kafka_*, e2e.embed*, e2e.model_pull).
source "$(dirname "$0")/../lib.sh"
LAZY="libcurl libopenblas libmicrohttpd librdkafka libcsv liblbfgs libyaml-0 libpcre2-8 libutf8proc libhs libstdc++"
sanitized && LAZY=${LAZY% libstdc++} # the sanitizers' runtimes link libstdc++

# loaded NAME CMD...: runs CMD under LD_DEBUG=libs; sets INITS to the
# shared objects whose initialisers ran (one basename a line)
loaded() {
  local name=$1
  shift
  rm -f "$TMP/ld."*
  LD_DEBUG=libs LD_DEBUG_OUTPUT="$TMP/ld" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" ||
    fail "$name: $(tail -5 "$TMP/$name.err")"
  INITS=$(cat "$TMP/ld."* | sed -n 's/.*calling init: //p' | xargs -rn1 basename | sort -u)
  grep -q '^libc\.so' <<<"$INITS" || fail "$name: LD_DEBUG=libs showed no libc init: $(head -5 "$TMP/ld."*)"
}
# only_libc NAME: INITS holds libc and libm only (Jansson is linked
# statically since the templates follow-up "startup3": a shared library
# costs every run ~50 us and 5 page faults, docs/templates.md)
only_libc() {
  local extra
  extra=$(grep -Ev '^(libc|libm|ld-linux-x86-64)\.so' <<<"$INITS" | tr '\n' ' ' || true)
  if sanitized; then
    extra=$(tr ' ' '\n' <<<"$extra" | grep -Ev '^(libasan|libubsan|libtsan|libstdc\+\+|libgcc_s)\.' | tr '\n' ' ' || true)
  fi
  [[ -z ${extra// /} ]] || fail "$1 loaded more than libc and libm: $extra"
}
# not_loaded NAME: none of the four in INITS
not_loaded() {
  for lib in $LAZY; do
    if grep -q "^$lib\." <<<"$INITS"; then fail "$1 loaded $lib: $(tr '\n' ' ' <<<"$INITS")"; fi
  done
  ok
}

python3 "$LOGIFY_ROOT/tests/gen/gen_template_logs.py" "$TMP/gen.csv" --lines-per-system 200 --plain "$TMP/in.txt"
loaded templates "$LOGIFY" templates "$TMP/in.txt" -o "$TMP/t.csv"
[[ $(wc -l <"$TMP/t.csv") -eq $(($(wc -l <"$TMP/in.txt") + 1)) ]] || fail "templates wrote $(wc -l <"$TMP/t.csv") lines for $(wc -l <"$TMP/in.txt")"
only_libc templates
not_loaded templates
loaded templates_stdin "$LOGIFY" templates - --summary --format jsonl <"$TMP/in.txt"
only_libc templates_stdin
not_loaded templates_stdin
loaded version "$LOGIFY" --version
only_libc version
not_loaded version
# no CPUID probe of libgcc (__builtin_cpu_supports, target_clones): its
# constructor ran 12 CPUIDs at every start, ~0.09 ms where a hypervisor
# traps them (src/core/cpu.c); lg_cpu_has reads the loader's table instead
# (nm's whole output first: `nm | grep -q` under pipefail is false when grep
# stops early and nm gets SIGPIPE, so the check never failed)
syms=$(nm "$LOGIFY" 2>/dev/null) || fail "nm $LOGIFY"
if grep -q ' __cpu_indicator_init$' <<<"$syms"; then
  fail "libgcc's CPU probe (__cpu_indicator_init) is linked into $LOGIFY"
fi
# the rules stage loads Vectorscan (and works: a rule answers below)
LAZY="libcurl libopenblas libmicrohttpd librdkafka libcsv liblbfgs"
clean_llm_env
loaded classify "$LOGIFY" classify "$LOGIFY_ROOT/resources/test.csv" --explain
grep -q ",model,0\.[0-9]*,model p=" "$TMP/classify.out" || fail "classify: no model answer: $(head -3 "$TMP/classify.out")"
grep -q ",rules,1\.0000,rule " "$TMP/classify.out" || fail "classify: no rule answered: $(head -3 "$TMP/classify.out")"
grep -q '^libhs\.' <<<"$INITS" || fail "classify did not load Vectorscan: $(tr '\n' ' ' <<<"$INITS")"
grep -q '^libyaml-0\.' <<<"$INITS" || fail "classify did not load libyaml (its rules): $(tr '\n' ' ' <<<"$INITS")"
grep -q '^libpcre2-8\.' <<<"$INITS" || fail "classify did not load PCRE2 (its rules): $(tr '\n' ' ' <<<"$INITS")"
not_loaded classify
printf 'source,log_message,target_label\nS,IP 10.4.7.21 blocked after 14 failed login attempts,Security Alert\nS,User 42 logged in,User Action\n' >"$TMP/lab.csv"
loaded eval "$LOGIFY" eval --data "$TMP/lab.csv"
not_loaded eval
loaded rules "$LOGIFY" rules check default
not_loaded rules

# the check can fail: libc's initialiser is in the list it reads
LAZY="libc" 
if (not_loaded broken) 2>/dev/null; then fail "the check missed libc, which every run loads"; fi
LAZY="libcurl libopenblas libmicrohttpd librdkafka"
ok

# ---- commands that need a library load it, and work
python3 "$LOGIFY_ROOT/tests/e2e/gen_cluster_logs.py" 300 "$TMP/cl.csv"
loaded cluster "$LOGIFY" cluster --data "$TMP/cl.csv" --out "$TMP/cl" --epochs 10 --no-progress
[[ -s $TMP/cl/clusters.csv || -n $(ls "$TMP/cl") ]] || fail "cluster wrote nothing"
grep -q '^libopenblas\.' <<<"$INITS" || fail "cluster did not load OpenBLAS: $(tr '\n' ' ' <<<"$INITS")"
ok

start_fake_llm
printf 'source,log_message\nS,weird thing one\nS,weird thing two 2\n' >"$TMP/llm.csv"
LOGIFY_LLM_BASE_URL=http://127.0.0.1:$PORT/m/ok+id=startup/v1 LOGIFY_LLM_API_KEY=k LOGIFY_LLM_RETRIES=0 \
  loaded llm timeout 60 "$LOGIFY" classify "$TMP/llm.csv" --route '*=llm' --explain
grep -q '^libcurl\.' <<<"$INITS" || fail "classify with an LLM did not load libcurl: $(tr '\n' ' ' <<<"$INITS")"
grep -q ",llm," "$TMP/llm.out" || fail "classify with an LLM: no llm answer: $(cat "$TMP/llm.out" "$TMP/llm.err")"
ok
# serve: libmicrohttpd, loaded when the server starts; it answers
rm -f "$TMP/ld."*
LD_DEBUG=libs LD_DEBUG_OUTPUT="$TMP/ld" "$LOGIFY" serve --host 127.0.0.1 --port 0 2>"$TMP/server.log" &
SERVE=$!
trap 'kill $SERVER $SERVE 2>/dev/null || true; rm -rf "$TMP"' EXIT
port=
for _ in $(seq 1 400); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$TMP/server.log" 2>/dev/null | sed 's/.*://' || true)
  [[ -n $port ]] && break
  kill -0 $SERVE 2>/dev/null || fail "server exited: $(cat "$TMP/server.log")"
  sleep 0.05
done
[[ -n $port ]] || fail "serve announced no port: $(cat "$TMP/server.log")"
curl -fsS "http://127.0.0.1:$port/healthz" >"$TMP/health" || fail "serve: /healthz failed"
kill $SERVE
wait $SERVE 2>/dev/null || true
INITS=$(cat "$TMP/ld."* | sed -n 's/.*calling init: //p' | xargs -rn1 basename | sort -u)
grep -q '^libmicrohttpd\.' <<<"$INITS" || fail "serve did not load libmicrohttpd: $(tr '\n' ' ' <<<"$INITS")"
ok
echo "startup_libs: $CHECKS checks passed"
