/* test_report.c - the classification report against figures computed by
 * hand (standard definitions: macro over the union of true and predicted
 * labels, Unclassified included; weighted by support; accuracy), the same
 * figures scikit-learn's f1_score / precision_recall_fscore_support give
 * (zero_division=0); no cap on the number of labels; JSON fields. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/report.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

/* truth -> prediction pairs:
 *   A A, A A, A B, B B, B Unclassified, C C, C Unclassified
 * A: tp 2 fp 0 fn 1 -> P 1,   R 2/3, F1 0.8
 * B: tp 1 fp 1 fn 1 -> P 1/2, R 1/2, F1 0.5
 * C: tp 1 fp 0 fn 1 -> P 1,   R 1/2, F1 2/3
 * Unclassified: tp 0 fp 2 fn 0 -> P 0, R 0, F1 0, support 0
 * accuracy 4/7; macro F1 (0.8 + 0.5 + 2/3 + 0) / 4; macro P 2.5 / 4,
 * macro R (2/3 + 1/2 + 1/2) / 4; weighted F1 (3 * 0.8 + 2 * 0.5 + 2 * 2/3) / 7 */
static void fill(lg_report *r) {
    static const char *const pairs[][2] = {{"A", "A"}, {"A", "A"}, {"A", "B"},           {"B", "B"},
                                           {"B", "Unclassified"}, {"C", "C"}, {"C", "Unclassified"}};
    lg_report_init(r);
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        assert_int_equal(lg_report_add(r, pairs[i][0], pairs[i][1], NULL), LG_OK);
}

static void test_hand_computed(void **state) {
    (void)state;
    lg_report r;
    fill(&r);
    assert_int_equal(r.n_labels, 4);
    assert_string_equal(r.labels[3], "Unclassified");
    NEAR(lg_report_accuracy(&r), 4.0 / 7.0);
    lg_report_row x;
    lg_report_label(&r, 0, &x);
    NEAR(x.precision, 1.0);
    NEAR(x.recall, 2.0 / 3.0);
    NEAR(x.f1, 0.8);
    assert_int_equal(x.support, 3);
    lg_report_label(&r, 3, &x);
    NEAR(x.f1, 0.0);
    assert_int_equal(x.support, 0);
    lg_report_row m, w;
    lg_report_macro(&r, &m);
    lg_report_weighted(&r, &w);
    NEAR(m.f1, (0.8 + 0.5 + 2.0 / 3.0 + 0.0) / 4.0); /* 0.491666... */
    NEAR(m.precision, 2.5 / 4.0);
    NEAR(m.recall, (2.0 / 3.0 + 0.5 + 0.5) / 4.0);
    NEAR(w.f1, (3 * 0.8 + 2 * 0.5 + 2 * 2.0 / 3.0) / 7.0); /* 0.676190... */
    NEAR(w.recall, 4.0 / 7.0);                             /* weighted recall = accuracy */
    assert_int_equal(m.support, 7);
    lg_report_clear(&r);
}

/* every prediction right: all figures 1; a label only predicted lowers
 * macro but not weighted */
static void test_perfect_and_predicted_only(void **state) {
    (void)state;
    lg_report r;
    lg_report_init(&r);
    for (int i = 0; i < 9; i++)
        assert_int_equal(lg_report_add(&r, i % 3 ? "x" : "y", i % 3 ? "x" : "y", NULL), LG_OK);
    lg_report_row m, w;
    lg_report_macro(&r, &m);
    NEAR(m.f1, 1.0);
    assert_int_equal(lg_report_add(&r, "x", "Unclassified", NULL), LG_OK);
    /* x: tp 6 fn 1 -> R 6/7, P 1, F1 12/13; y: 1; Unclassified: 0 */
    lg_report_macro(&r, &m);
    lg_report_weighted(&r, &w);
    NEAR(m.f1, (12.0 / 13.0 + 1.0 + 0.0) / 3.0);
    NEAR(w.f1, (7 * 12.0 / 13.0 + 3 * 1.0) / 10.0);
    lg_report_clear(&r);
}

/* 10,000 distinct labels: no cap, sorted, counted */
static void test_many_labels(void **state) {
    (void)state;
    lg_report r;
    lg_report_init(&r);
    char t[32], p[32];
    for (int i = 9999; i >= 0; i--) {
        snprintf(t, sizeof t, "L%05d", i);
        snprintf(p, sizeof p, "L%05d", i % 2 ? i : (i + 1) % 10000);
        assert_int_equal(lg_report_add(&r, t, p, NULL), LG_OK);
    }
    assert_int_equal(r.n_labels, 10000);
    for (size_t i = 1; i < r.n_labels; i++)
        assert_true(strcmp(r.labels[i - 1], r.labels[i]) < 0);
    NEAR(lg_report_accuracy(&r), 0.5);
    lg_report_row m;
    lg_report_macro(&r, &m);
    /* even labels: tp 0, F1 0; odd labels: tp 1, fp 1 (from the even one
     * below), fn 0 -> P 1/2, R 1, F1 2/3 */
    NEAR(m.f1, 0.5 * 2.0 / 3.0);
    lg_report_clear(&r);
}

static void test_json(void **state) {
    (void)state;
    lg_report r;
    fill(&r);
    json_t *j = lg_report_json(&r);
    assert_non_null(j);
    NEAR(json_real_value(json_object_get(j, "macro_f1")), (0.8 + 0.5 + 2.0 / 3.0) / 4.0);
    NEAR(json_real_value(json_object_get(j, "accuracy")), 4.0 / 7.0);
    assert_int_equal(json_integer_value(json_object_get(j, "labels_in_macro")), 4);
    assert_non_null(strstr(json_string_value(json_object_get(j, "definitions")), "union"));
    assert_non_null(json_object_get(json_object_get(j, "per_label"), "Unclassified"));
    json_decref(j);
    lg_report_clear(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed),
        cmocka_unit_test(test_perfect_and_predicted_only),
        cmocka_unit_test(test_many_labels),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
