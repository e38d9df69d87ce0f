#!/usr/bin/env bash
# `make check` (scripts/check.sh) runs all three rounds and reports each even
# when one fails; the exit status is non-zero then. Rounds are stubbed here
# (CHECK_MAKE): the real ones are what `make check` itself runs.
source "$(dirname "$0")/../lib.sh"
cat >"$TMP/fake-make" <<'SH'
#!/usr/bin/env bash
# $1 = --no-print-directory, $2 = the target
echo "$2" >>"$CHECK_CALLS"
case "$2" in
  test) echo "100% tests passed, 0 tests failed out of 40"; exit 0 ;;
  test-asan) echo "95% tests passed, 2 tests failed out of 40"; exit 2 ;;
  test-tsan) echo "cmake: error: the build failed"; exit 2 ;;
esac
SH
chmod +x "$TMP/fake-make"
export CHECK_CALLS="$TMP/calls" CHECK_MAKE="$TMP/fake-make" CHECK_LOGDIR="$TMP/logs"
rc=0
bash "$LOGIFY_ROOT/scripts/check.sh" >"$TMP/out" 2>&1 || rc=$?
[[ $rc -ne 0 ]] || fail "exit 0 although two rounds failed: $(cat "$TMP/out")"
[[ "$(paste -sd' ' "$TMP/calls")" == "test test-asan test-tsan" ]] || fail "rounds run: $(cat "$TMP/calls")"
grep -q "^check: release: passed (100% tests passed, 0 tests failed out of 40" "$TMP/out" || fail "release line: $(cat "$TMP/out")"
grep -q "^check: asan+ubsan: FAILED, exit 2 (95% tests passed, 2 tests failed out of 40" "$TMP/out" || fail "asan line: $(cat "$TMP/out")"
grep -q "^check: tsan: FAILED, exit 2 (no test summary" "$TMP/out" || fail "tsan line: $(cat "$TMP/out")"
grep -q "^check: 2 of 3 rounds failed" "$TMP/out" || fail "total line: $(cat "$TMP/out")"
ok
# all passing: exit 0
sed -i 's/exit 2/exit 0/' "$TMP/fake-make"
: >"$CHECK_CALLS"
bash "$LOGIFY_ROOT/scripts/check.sh" >"$TMP/out" 2>&1 || fail "all passed yet exit non-zero: $(cat "$TMP/out")"
grep -q "^check: all 3 rounds passed" "$TMP/out" || fail "all-passed line: $(cat "$TMP/out")"
ok
# the Makefile's check target is this script
grep -q '^check:.*' "$LOGIFY_ROOT/Makefile" && grep -A3 '^check:' "$LOGIFY_ROOT/Makefile" | grep -q 'scripts/check.sh' ||
  fail "make check does not run scripts/check.sh"
ok
done_checks
