/* test_template.c - templates from groups of messages (src/cluster/template.c) and
 * the rules suggested from clusters (src/cluster/cluster_rules.c): wildcard kinds,
 * prefixes/suffixes kept, regexes that the rules engine compiles and that
 * match their messages, coverage/precision and the REVIEW mark. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/cluster.h"
#include "logify/rules.h"

/* Builds the template of msgs, checks the readable form, and checks that
 * the regex compiles and matches every message of the group. */
static void check(const char *const *msgs, size_t n, const char *readable, const char *regex) {
    size_t lens[16];
    for (size_t i = 0; i < n; i++) lens[i] = strlen(msgs[i]);
    lg_template t;
    lg_template_init(&t);
    lg_errmsg err;
    assert_int_equal(lg_template_build(msgs, lens, n, &t, &err), LG_OK);
    if (strcmp(lg_buf_cstr(&t.readable), readable) || (regex && strcmp(lg_buf_cstr(&t.regex), regex))) {
        print_error("got '%s' / '%s'\nwant '%s' / '%s'\n", lg_buf_cstr(&t.readable),
                    lg_buf_cstr(&t.regex), readable, regex ? regex : "(any)");
        fail();
    }
    lg_buf y;
    lg_buf_init(&y, 1 << 16);
    lg_buf_printf(&y, "version: 1\nrules:\n  - id: t\n    label: L\n    pattern: '");
    for (const char *p = lg_buf_cstr(&t.regex); *p; p++) {
        if (*p == '\'') lg_buf_putc(&y, '\'');
        lg_buf_putc(&y, *p);
    }
    lg_buf_printf(&y, "'\n");
    lg_rules *r = NULL;
    if (lg_rules_parse(y.data, y.len, "t", NULL, &r, &err)) {
        print_error("does not compile: %s\n", err.msg);
        fail();
    }
    lg_rules_scratch *s = NULL;
    assert_int_equal(lg_rules_scratch_new(r, &s, &err), LG_OK);
    for (size_t i = 0; i < n; i++)
        if (lg_rules_match(r, s, NULL, msgs[i], lens[i]) != 0) {
            print_error("'%s' does not match '%s'\n", lg_buf_cstr(&t.regex), msgs[i]);
            fail();
        }
    lg_rules_scratch_free(s);
    lg_rules_free(r);
    lg_buf_free(&y);
    lg_template_free(&t);
}

static void test_number_with_prefix_suffix(void **state) {
    (void)state;
    const char *m[] = {"File data_6169.csv uploaded successfully by user User953.",
                       "File data_3847.csv uploaded successfully by user User175.",
                       "File data_12.csv uploaded successfully by user User1."};
    check(m, 3, "File data_<num>.csv uploaded successfully by user User<num>.",
          "^\\s*File\\s+data_[0-9]+\\.csv\\s+uploaded\\s+successfully\\s+by\\s+user\\s+User[0-9]+\\.\\s*$");
}

static void test_ip_hex_decimal_word(void **state) {
    (void)state;
    const char *m[] = {
        "GET req-b9718cd8-f65e-49cc from 10.11.10.1 time: 0.2675 user alice",
        "GET req-4895c258-b2f8-48e2 from 192.168.0.17 time: 12.5 user bob",
        "GET req-ee8bc8ba-9265-4280 from 10.0.0.2 time: 3 user carol-x",
    };
    check(m, 3, "GET req-<hex> from <ip> time: <num> user <*>", NULL);
    /* whole tokens typed before any common prefix: "10.11.10.1" and
     * "10.11.210.1" are two IPs, not "10.11.<*>10.1"; "0.2675" and
     * "0.0968" are numbers, not "0.<num>" */
    const char *w[] = {"from 10.11.10.1 time: 0.2675118", "from 10.11.210.1 time: 0.0968180"};
    const char *dt[] = {"Backup ended at 2025-05-14 12:11:59.", "Backup ended at 2025-06-01 01:02:03."};
    check(dt, 2, "Backup ended at 2025-<*> <*>.", NULL); /* dates are not hex */
    check(w, 2, "from <ip> time: <num>",
          "^\\s*from\\s+[0-9]{1,3}(\\.[0-9]{1,3}){3}\\s+time:\\s+[0-9]+(\\.[0-9]+)?\\s*$");
}

static void test_majority_token_count_and_escaping(void **state) {
    (void)state;
    const char *m[] = {"Disk (sda) at 91% [warn]", "Disk (sdb) at 95% [warn]", "something else entirely"};
    check(m, 2, "Disk (sd<*>) at <num>% [warn]", "^\\s*Disk\\s+\\(sd\\S+\\)\\s+at\\s+[0-9]+%\\s+\\[warn\\]\\s*$");
    /* the odd message out was not part of the template's group */
    const char *same[] = {"Backup completed successfully.", "Backup completed successfully."};
    check(same, 2, "Backup completed successfully.", NULL);
}

static void test_suggest_rules_coverage_precision(void **state) {
    (void)state;
    const char *msgs[] = {
        "User User1 logged in.", "User User22 logged in.", "User User3 logged in.",
        "Disk full on node 1", "Disk full on node 2", "Disk full on node 3",
        "User User9 logged in.", /* clustered elsewhere, other label: lowers precision */
        "unrelated message here",
    };
    const char *labels[] = {"User Action", "User Action", "User Action", "Resource Usage",
                            "Resource Usage", "Resource Usage", "Security Alert", "Other"};
    int32_t cl[] = {0, 0, 0, 1, 1, 1, 2, 3};
    size_t n = 8, lens[8];
    for (size_t i = 0; i < n; i++) lens[i] = strlen(msgs[i]);
    lg_suggest_input in = {msgs, lens, labels, n, cl, 4, 3, 0, NULL};
    lg_suggested_rule *r = NULL;
    size_t nr = 0;
    lg_errmsg err;
    assert_int_equal(lg_suggest_rules(&in, &r, &nr, &err), LG_OK);
    assert_int_equal(nr, 2);
    /* ordered by coverage: the login rule covers 4 rows, precision 3/4 */
    assert_string_equal(r[0].label, "User Action");
    assert_int_equal(r[0].coverage, 4);
    assert_int_equal(r[0].correct, 3);
    assert_true(r[0].precision > 0.74 && r[0].precision < 0.76);
    assert_string_equal(r[1].label, "Resource Usage");
    assert_int_equal(r[1].coverage, 3);
    assert_true(r[1].precision == 1.0);
    lg_buf y;
    lg_buf_init(&y, 1 << 20);
    assert_int_equal(lg_suggested_rules_yaml(r, nr, n, 1, &y, &err), LG_OK);
    assert_non_null(strstr(lg_buf_cstr(&y), "REVIEW: cluster 0"));
    assert_null(strstr(lg_buf_cstr(&y), "REVIEW: cluster 1"));
    lg_rules *db = NULL;
    assert_int_equal(lg_rules_parse(y.data, y.len, "suggested", NULL, &db, &err), LG_OK);
    assert_int_equal(lg_rules_count(db), 2);
    lg_rules_free(db);
    lg_buf_free(&y);
    lg_suggested_rules_free(r, nr);
    /* without labels: placeholder labels, no precision */
    in.labels = NULL;
    assert_int_equal(lg_suggest_rules(&in, &r, &nr, &err), LG_OK);
    assert_int_equal(nr, 2);
    assert_true(r[0].precision < 0);
    assert_string_equal(r[0].label, "Cluster 0");
    lg_suggested_rules_free(r, nr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_number_with_prefix_suffix),
        cmocka_unit_test(test_ip_hex_decimal_word),
        cmocka_unit_test(test_majority_token_count_and_escaping),
        cmocka_unit_test(test_suggest_rules_coverage_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
