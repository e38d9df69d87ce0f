#!/usr/bin/env bash
# dynlib_stubs.sh - a lazily loaded library that is not the one expected
# (include/logify/dynlib.h): for each library a command loads with dlopen,
# an empty shared object of that name found first (LD_LIBRARY_PATH), as an
# old or foreign build would be. The command must stop with exit 1 and one
# line naming the library, the first function missing, who needs it and
# the Debian package to install; never crash, never go on half-loaded.
# Beside e2e.startup_libs (which commands load which library).
source "$(dirname "$0")/../lib.sh"
clean_llm_env
CC=${CC:-cc}
command -v "$CC" >/dev/null || fail "no C compiler ($CC) to make the stub libraries"
printf 'rules:\n  - {id: r, label: User Action, pattern: "logged in"}\n' >"$TMP/rules.yaml"
printf 'source,log_message,target_label\n' >"$TMP/train.csv"
for i in $(seq 12); do
  echo "S,User u$i logged in,User Action"
  echo "S,Disk $i full,Resource Usage"
done >>"$TMP/train.csv"

# stub SONAME: an empty shared object of that name in $TMP/stub (only it)
stub() {
  rm -rf "$TMP/stub"
  mkdir "$TMP/stub"
  "$CC" -shared -fPIC -o "$TMP/stub/$1" -x c /dev/null || fail "cannot make the stub $1"
}

# refused SONAME FUNCTION_PREFIX USERS PACKAGE -- CMD...
refused() {
  local so=$1 prefix=$2 users=$3 pkg=$4 rc=0
  shift 5
  stub "$so"
  LD_LIBRARY_PATH="$TMP/stub" timeout 60 "$@" >"$TMP/out" 2>"$TMP/err" </dev/null || rc=$?
  [[ $rc -eq 1 ]] || fail "$so stub: exit $rc, want 1: $(cat "$TMP/err")"
  grep -Eq "^(logify: error: )?(.*: )?$so has no function $prefix[A-Za-z0-9_]+ \($TMP/stub/$so: undefined symbol: $prefix[A-Za-z0-9_]+\): $users needs $so of $pkg\$" "$TMP/err" ||
    fail "$so stub: $(cat "$TMP/err")"
  ! grep -q "AddressSanitizer\|runtime error" "$TMP/err" || fail "$so stub: sanitizer: $(cat "$TMP/err")"
  ok
}

RULES=(--rules "$TMP/rules.yaml")
refused librdkafka.so.1 rd_kafka_ "logify kafka" librdkafka1 -- \
  "$LOGIFY" kafka --brokers 127.0.0.1:1 --group g --input i --output o --route '*=rules' "${RULES[@]}" --quiet
refused libcurl.so.4 curl_ "the LLM stage \(llm: in the config\) and logify model pull" libcurl4 -- \
  "$LOGIFY" model pull owner/name --dir "$TMP/m"
refused libmicrohttpd.so.12 MHD_ "logify serve and the metrics endpoint of logify kafka" libmicrohttpd12 -- \
  "$LOGIFY" serve --port 0 --route '*=rules' "${RULES[@]}"
refused libyaml-0.so.2 yaml_ "reading YAML \(the configuration, rules files, the default rules\)" libyaml-0-2 -- \
  "$LOGIFY" rules check "$TMP/rules.yaml"
refused libhs.so.5 hs_ "the rules stage \(classify, eval, train, serve, rules check\)" libvectorscan5 -- \
  "$LOGIFY" rules check "$TMP/rules.yaml"
refused libpcre2-8.so.0 pcre2_ "the rules stage \(classify, eval, train, serve, rules check\)" libpcre2-8-0 -- \
  "$LOGIFY" rules check "$TMP/rules.yaml"
refused liblbfgs.so.0 lbfgs "training the logistic regression \(logify train, the head of a BERT model\)" liblbfgs0 -- \
  "$LOGIFY" train --data "$TMP/train.csv" --out "$TMP/model" --no-progress
refused libutf8proc.so.2 utf8proc_ "the BERT tokenizer \(embed, and train or classify with a BERT model\)" libutf8proc2 -- \
  "$LOGIFY" model tokenize "$LOGIFY_ROOT/tests/fixtures/bert/tiny_mean"
# nothing was written by the refused runs
[[ ! -e "$TMP/m" && ! -e "$TMP/model" ]] || fail "a refused run left output: $(ls "$TMP")"
ok
done_checks
