#!/usr/bin/env bash
# `logify rules check|test|default` through the real binary.
source "$(dirname "$0")/../lib.sh"
"$LOGIFY" rules check "$LOGIFY_ROOT/rules/default.yaml" >"$TMP/out" || fail "default rules do not check"
grep -q "rules OK: .* in one Vectorscan database, 0 on the PCRE2 fallback" "$TMP/out" || fail "$(cat "$TMP/out")"
ok
"$LOGIFY" rules default | cmp - "$LOGIFY_ROOT/rules/default.yaml" || fail "built-in rules differ from rules/default.yaml"
ok
cat >"$TMP/r.yaml" <<'Y'
rules:
  - id: not-admin
    label: Security Alert
    pattern: 'user (?!admin)\w+ failed'
  - id: login
    label: User Action
    pattern: 'logged in'
    sources: [BillingSystem]
  - id: any
    label: Other
    pattern: 'logged'
Y
"$LOGIFY" rules check "$TMP/r.yaml" >"$TMP/out" || fail "check failed"
grep -q "3 rules OK: 2 in one Vectorscan database, 1 on the PCRE2 fallback" "$TMP/out" || fail "$(cat "$TMP/out")"
grep -q "line 2: rule 'not-admin' uses PCRE2" "$TMP/out" || fail "fallback not named: $(cat "$TMP/out")"
ok
"$LOGIFY" rules test "$TMP/r.yaml" 'User 1 logged in' --source BillingSystem >"$TMP/out" || fail "rules test"
grep -q "match: rule 'login' (line 5) -> User Action" "$TMP/out" || fail "$(cat "$TMP/out")"
grep -q "any .*matches too, but an earlier rule wins" "$TMP/out" || fail "$(cat "$TMP/out")"
ok
"$LOGIFY" rules test "$TMP/r.yaml" 'User 1 logged in' --source ModernHR >"$TMP/out" || fail "rules test 2"
grep -q "login .*skipped: the rule is for other sources" "$TMP/out" || fail "$(cat "$TMP/out")"
grep -q "match: rule 'any'" "$TMP/out" || fail "$(cat "$TMP/out")"
ok
rc=0
"$LOGIFY" rules test "$TMP/r.yaml" 'nothing' >"$TMP/out" || rc=$?
[[ $rc -eq 1 ]] && grep -q "no match" "$TMP/out" || fail "no-match case: $rc $(cat "$TMP/out")"
ok
printf 'rules:\n  - {id: ok, label: A, pattern: x}\n  - {id: broken, label: B, pattern: "a(("}\n  - {id: ok, label: C, pattern: y}\n' >"$TMP/bad.yaml"
expect_fail 1 "bad.yaml:3: rule 'broken': pattern does not compile" -- "$LOGIFY" rules check "$TMP/bad.yaml"
grep -q "bad.yaml:4: rule 'ok': duplicate id (first defined on line 2)" "$TMP/err" || fail "all problems: $(cat "$TMP/err")"
ok
expect_fail 2 "expected one FILE" -- "$LOGIFY" rules check
done_checks
