/* test_rules.c - rules file parsing, compilation (Vectorscan + PCRE2
 * fallback), priority, sources, explain, and the rules stage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/pipeline.h"
#include "logify/rules.h"

static lg_rules *compile_ok(const char *yaml) {
    lg_rules *r = NULL;
    lg_errmsg err = {{0}};
    lg_err e = lg_rules_parse(yaml, strlen(yaml), "t.yaml", NULL, &r, &err);
    if (e) print_error("unexpected error: %s\n", err.msg);
    assert_int_equal(e, LG_OK);
    return r;
}

static void expect_problem(const char *yaml, lg_err code, const char *msg_part) {
    lg_rules *r = NULL;
    lg_errmsg err = {{0}};
    lg_buf diag;
    lg_buf_init(&diag, 1 << 16);
    lg_err e = lg_rules_parse(yaml, strlen(yaml), "t.yaml", &diag, &r, &err);
    if (e != code || !strstr(err.msg, msg_part) || !strstr(lg_buf_cstr(&diag), msg_part)) {
        print_error("got %d '%s' (diag '%s'), expected %d with '%s'\n", e, err.msg,
                    lg_buf_cstr(&diag), code, msg_part);
        fail();
    }
    assert_null(r);
    lg_buf_free(&diag);
}

static long match(const lg_rules *r, const char *source, const char *msg) {
    lg_rules_scratch *s;
    assert_int_equal(lg_rules_scratch_new(r, &s, NULL), LG_OK);
    long k = lg_rules_match(r, s, source, msg, strlen(msg));
    lg_rules_scratch_free(s);
    return k;
}

static void test_first_in_file_order_wins(void **state) {
    (void)state;
    /* rule b matches earlier in the text, but a comes first in the file */
    lg_rules *r = compile_ok("rules:\n"
                             "  - {id: a, label: A, pattern: 'world'}\n"
                             "  - {id: b, label: B, pattern: 'hello'}\n");
    assert_int_equal(match(r, "x", "hello world"), 0);
    assert_int_equal(match(r, "x", "hello there"), 1);
    assert_int_equal(match(r, "x", "nothing"), -1);
    lg_rules_free(r);
}

/* The audit's case: both rules match "disk full now", and the engine
 * reports the shorter match first (it ends first). File order decides,
 * whichever rule is listed first and whichever the engine reports first;
 * also when one of them took the PCRE2 fallback. */
static void test_file_order_beats_report_order(void **state) {
    (void)state;
    lg_rules *r = compile_ok("rules:\n"
                             "  - {id: disk, label: Disk, pattern: 'disk'}\n"
                             "  - {id: disk-full, label: Full, pattern: 'disk full'}\n");
    assert_int_equal(match(r, "x", "disk full now"), 0);
    assert_int_equal(match(r, "x", "a disk"), 0);
    lg_rules_free(r);
    r = compile_ok("rules:\n"
                   "  - {id: disk-full, label: Full, pattern: 'disk full'}\n"
                   "  - {id: disk, label: Disk, pattern: 'disk'}\n");
    assert_int_equal(match(r, "x", "disk full now"), 0); /* reported second, listed first */
    assert_int_equal(match(r, "x", "disk space low"), 1);
    lg_rules_free(r);
    /* three rules, all matching, reported in reverse file order */
    r = compile_ok("rules:\n"
                   "  - {id: c, label: C, pattern: 'disk full now'}\n"
                   "  - {id: b, label: B, pattern: 'disk full'}\n"
                   "  - {id: a, label: A, pattern: 'disk'}\n");
    assert_int_equal(match(r, "x", "disk full now"), 0);
    assert_int_equal(match(r, "x", "disk full later"), 1);
    lg_rules_free(r);
    /* a PCRE2-fallback rule (lookahead) listed before and after a Vectorscan one */
    r = compile_ok("rules:\n"
                   "  - {id: look, label: L, pattern: 'disk (?!empty)full'}\n"
                   "  - {id: vs, label: V, pattern: 'disk'}\n");
    assert_int_equal(match(r, "x", "disk full now"), 0);
    assert_int_equal(match(r, "x", "disk emptyfull"), 1);
    lg_rules_free(r);
    r = compile_ok("rules:\n"
                   "  - {id: vs, label: V, pattern: 'full now'}\n"
                   "  - {id: look, label: L, pattern: 'disk (?!empty)full'}\n");
    assert_int_equal(match(r, "x", "disk full now"), 0);
    assert_int_equal(match(r, "x", "disk full later"), 1);
    lg_rules_free(r);
}

static void test_flags_and_sources(void **state) {
    (void)state;
    lg_rules *r = compile_ok("version: 1\nrules:\n"
                             "  - id: hr-only\n    label: HR\n    pattern: 'login'\n"
                             "    sources: [ModernHR]\n"
                             "  - id: any-case\n    label: Any\n    pattern: '^LOGIN'\n"
                             "    flags: [caseless]\n");
    assert_int_equal(match(r, "ModernHR", "login ok"), 0);
    assert_int_equal(match(r, "BillingSystem", "login ok"), 1); /* hr-only skipped */
    assert_int_equal(match(r, NULL, "Login ok"), 1);
    /* no source at all: a rule limited to sources does not apply */
    assert_int_equal(match(r, NULL, "login ok"), 1);
    assert_int_equal(match(r, "", "login ok"), 1);
    assert_int_equal(match(r, "BillingSystem", "a login"), -1); /* anchored */
    lg_rules_free(r);
}

static void test_pcre2_fallback(void **state) {
    (void)state;
    /* lookahead and backreferences: Vectorscan rejects them */
    lg_rules *r = compile_ok("rules:\n"
                             "  - {id: vs, label: V, pattern: 'timeout \\d+'}\n"
                             "  - {id: look, label: L, pattern: 'user (?!admin)\\w+ failed'}\n"
                             "  - {id: backref, label: B, pattern: '(\\w+) \\1'}\n");
    assert_int_equal(lg_rules_count(r), 3);
    assert_int_equal(lg_rules_fallback_count(r), 2);
    assert_int_equal(lg_rules_get(r, 0)->engine, LG_ENGINE_VECTORSCAN);
    assert_int_equal(lg_rules_get(r, 1)->engine, LG_ENGINE_PCRE2);
    assert_non_null(lg_rules_get(r, 1)->fallback_reason);
    assert_int_equal(match(r, "s", "user bob failed"), 1);
    assert_int_equal(match(r, "s", "user admin failed"), -1);
    assert_int_equal(match(r, "s", "again again"), 2);
    /* priority holds across engines: rule 0 (Vectorscan) beats rule 2 */
    assert_int_equal(match(r, "s", "again again timeout 5"), 0);
    /* ... and a PCRE2 rule beats a later Vectorscan match */
    lg_rules_free(r);
    r = compile_ok("rules:\n"
                   "  - {id: look, label: L, pattern: 'a(?=b)'}\n"
                   "  - {id: vs, label: V, pattern: 'ab'}\n");
    assert_int_equal(match(r, "s", "xab"), 0);
    lg_rules_free(r);
}

static void test_utf8_rules_and_invalid_input(void **state) {
    (void)state;
    lg_rules *r = compile_ok("rules:\n"
                             "  - {id: u, label: U, pattern: 'caf\xc3\xa9', flags: [utf8, caseless]}\n"
                             "  - {id: bytes, label: B, pattern: 'bad'}\n");
    assert_int_equal(lg_rules_get(r, 0)->engine, LG_ENGINE_PCRE2);
    assert_int_equal(match(r, "s", "CAF\xc3\x89 open"), 0);
    /* invalid UTF-8: the utf8 rule is skipped, byte rules still run */
    const char bad[] = "caf\xc3\xa9 \xff bad";
    assert_int_equal(match(r, "s", bad), 1);
    lg_rules_scratch *s;
    assert_int_equal(lg_rules_scratch_new(r, &s, NULL), LG_OK);
    lg_rule_outcome out[2];
    assert_int_equal(lg_rules_explain(r, s, "s", bad, sizeof bad - 1, out, NULL), LG_OK);
    assert_int_equal(out[0], LG_RULE_BAD_UTF8);
    assert_int_equal(out[1], LG_RULE_MATCHED);
    lg_rules_scratch_free(s);
    lg_rules_free(r);
}

static void test_explain(void **state) {
    (void)state;
    lg_rules *r = compile_ok("rules:\n"
                             "  - {id: a, label: A, pattern: 'x'}\n"
                             "  - {id: b, label: B, pattern: 'y', sources: [S1]}\n"
                             "  - {id: c, label: C, pattern: 'x'}\n"
                             "  - {id: d, label: D, pattern: 'zzz'}\n");
    lg_rules_scratch *s;
    assert_int_equal(lg_rules_scratch_new(r, &s, NULL), LG_OK);
    lg_rule_outcome out[4];
    assert_int_equal(lg_rules_explain(r, s, "S2", "x y", 3, out, NULL), LG_OK);
    assert_int_equal(out[0], LG_RULE_MATCHED);
    assert_int_equal(out[1], LG_RULE_OTHER_SOURCE);
    assert_int_equal(out[2], LG_RULE_MATCHED);
    assert_int_equal(out[3], LG_RULE_NO_MATCH);
    lg_rules_scratch_free(s);
    lg_rules_free(r);
}

static void test_errors_name_rule_and_line(void **state) {
    (void)state;
    expect_problem("rules:\n  - {id: a, label: A, pattern: 'ok'}\n  - {id: b, label: B, pattern: 'x(('}\n",
                   LG_ECOMPILE, "t.yaml:3: rule 'b': pattern does not compile");
    expect_problem("rules:\n  - {id: a, label: A}\n", LG_ECOMPILE, "t.yaml:2: rule 'a': rule has no pattern");
    expect_problem("rules:\n  - {label: A, pattern: x}\n", LG_ECOMPILE, "t.yaml:2: rule has no id");
    expect_problem("rules:\n  - {id: a, label: A, pattern: x}\n  - {id: a, label: B, pattern: y}\n",
                   LG_ECOMPILE, "t.yaml:3: rule 'a': duplicate id (first defined on line 2)");
    expect_problem("rules:\n  - {id: a, label: A, pattern: x, flags: [shout]}\n", LG_ECOMPILE,
                   "unknown flag 'shout'");
    expect_problem("rules:\n  - {id: a, label: A, pattern: x, colour: red}\n", LG_ECOMPILE,
                   "unknown key 'colour'");
    expect_problem("rules:\n  - {id: a, label: Unclassified, pattern: x}\n", LG_ECOMPILE,
                   "not a label a rule may give");
    expect_problem("version: 2\nrules: []\n", LG_ECOMPILE, "unsupported rules format version");
    expect_problem("rules: [\n", LG_EPARSE, "t.yaml:");
    expect_problem("rules:\n  - &x {id: a, label: A, pattern: x}\n  - *x\n", LG_EPARSE, "aliases");
}

static void test_all_problems_reported(void **state) {
    (void)state;
    const char *yaml = "rules:\n  - {id: a, label: A, pattern: 'x(('}\n  - {id: b, label: B, pattern: 'y(('}\n";
    lg_rules *r = NULL;
    lg_errmsg err;
    lg_buf diag;
    lg_buf_init(&diag, 1 << 16);
    assert_int_equal(lg_rules_parse(yaml, strlen(yaml), "t.yaml", &diag, &r, &err), LG_ECOMPILE);
    assert_non_null(strstr(lg_buf_cstr(&diag), "rule 'a'"));
    assert_non_null(strstr(lg_buf_cstr(&diag), "rule 'b'"));
    assert_non_null(strstr(err.msg, "(and 1 more problems)"));
    lg_buf_free(&diag);
}

static void test_default_rules_compile(void **state) {
    (void)state;
    size_t len;
    const char *text = lg_default_rules_text(&len);
    assert_true(len > 100);
    lg_rules *r = NULL;
    lg_errmsg err;
    assert_int_equal(lg_rules_parse(text, len, "default", NULL, &r, &err), LG_OK);
    assert_true(lg_rules_count(r) >= 10);
    assert_int_equal(lg_rules_fallback_count(r), 0); /* all in one Vectorscan database */
    assert_int_equal(match(r, "BillingSystem", "User User123 logged in."), 0);
    lg_rules_free(r);
}

static void test_stage(void **state) {
    (void)state;
    lg_rules *r = compile_ok("rules:\n  - {id: bk, label: Backup, pattern: 'backup done'}\n");
    lg_stage st;
    assert_int_equal(lg_rules_stage_new(r, NULL, &st, NULL), LG_OK);
    void *scratch = NULL;
    assert_int_equal(st.ops->scratch_new(st.ctx, &scratch, NULL), LG_OK);
    lg_record recs[2];
    memset(recs, 0, sizeof recs);
    recs[0].source = "s";
    recs[0].message = "backup done";
    recs[0].message_len = 11;
    recs[1].source = "s";
    recs[1].message = "other";
    recs[1].message_len = 5;
    lg_record *ptrs[2] = {&recs[0], &recs[1]};
    assert_int_equal(st.ops->process(st.ctx, scratch, ptrs, 2, NULL), LG_OK);
    assert_string_equal(recs[0].label, "Backup");
    assert_int_equal(recs[0].stage, LG_STAGE_RULES);
    assert_string_equal(recs[0].detail, "rule bk");
    assert_null(recs[1].label);
    assert_string_equal(recs[1].detail, "no rule matched");
    st.ops->scratch_free(scratch);
    lg_stage_free(&st);
    lg_rules_free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_in_file_order_wins),
        cmocka_unit_test(test_file_order_beats_report_order),
        cmocka_unit_test(test_flags_and_sources),
        cmocka_unit_test(test_pcre2_fallback),
        cmocka_unit_test(test_utf8_rules_and_invalid_input),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_errors_name_rule_and_line),
        cmocka_unit_test(test_all_problems_reported),
        cmocka_unit_test(test_default_rules_compile),
        cmocka_unit_test(test_stage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
