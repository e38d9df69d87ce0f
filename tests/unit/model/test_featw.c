/* test_featw.c - feature weights (featw.h) on a tiny set computed by hand:
 * IDF and purity values, unseen features, a subset of rows, applying them
 * (scaling and unit norm), re-weighing rows weighed before, method names
 * and the checks; and a bundle with feature weights: format version 3,
 * features.bin written, read back, damaged, and applied by lg_model_predict. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/bundle.h"
#include "logify/featw.h"
#include "logify/model.h"
#include "model/word_bundle.h"
#include "tmpdir.h"
#include "model/bundle_edit.h"

#define D 8

/* rows (features, all values 1 / sqrt(#features)), labels:
 *   r0 {0, 1} class 0
 *   r1 {0, 2} class 0
 *   r2 {0, 3} class 1
 *   r3 {1}    class 1
 * feature 4..7: in no row */
static void tiny(lg_embeddings *X, int *y) {
    lg_embeddings_init(X);
    assert_int_equal(lg_embeddings_reserve_sparse(X, 4, D, 7, NULL), LG_OK);
    uint32_t idx[] = {0, 1, 0, 2, 0, 3, 1};
    const float h = (float)M_SQRT1_2;
    float val[] = {h, h, h, h, h, h, 1};
    memcpy(X->indices, idx, sizeof idx);
    memcpy(X->values, val, sizeof val);
    size_t ptr[] = {0, 2, 4, 6, 7};
    memcpy(X->indptr, ptr, sizeof ptr);
    X->n_rows = 4;
    int yy[] = {0, 0, 1, 1};
    memcpy(y, yy, sizeof yy);
}

static void test_idf_by_hand(void **state) {
    (void)state;
    lg_embeddings X;
    int y[4];
    tiny(&X, y);
    lg_featw *fw;
    assert_int_equal(lg_featw_fit(&X, y, 2, NULL, 4, LG_FEATW_IDF, &fw, NULL), LG_OK);
    /* ln((1 + n) / (1 + df)) + 1, n = 4: df 3, 2, 1, 1, 0 */
    const double want[] = {log(5.0 / 4) + 1, log(5.0 / 3) + 1, log(5.0 / 2) + 1,
                           log(5.0 / 2) + 1, log(5.0) + 1};
    for (int f = 0; f < 5; f++)
        assert_true(fabs(fw->w[f] - want[f]) < 1e-6);
    assert_true(fabs(fw->w[7] - want[4]) < 1e-6);
    assert_int_equal(lg_featw_check(fw, NULL), LG_OK);
    lg_featw_free(fw);
    /* rows 0 and 1 only: n = 2, df(0) = 2, df(1) = df(2) = 1, df(3) = 0 */
    size_t rows[] = {0, 1};
    assert_int_equal(lg_featw_fit(&X, y, 2, rows, 2, LG_FEATW_IDF, &fw, NULL), LG_OK);
    assert_true(fabs(fw->w[0] - 1.0) < 1e-6);
    assert_true(fabs(fw->w[1] - (log(1.5) + 1)) < 1e-6);
    assert_true(fabs(fw->w[3] - (log(3.0) + 1)) < 1e-6);
    lg_featw_free(fw);
    lg_embeddings_free(&X);
}

static double pur(double p) {
    return LG_FEATW_FLOOR + (1 - LG_FEATW_FLOOR) * p * p * p;
}

static void test_purity_by_hand(void **state) {
    (void)state;
    lg_embeddings X;
    int y[4];
    tiny(&X, y);
    lg_featw *fw;
    assert_int_equal(lg_featw_fit(&X, y, 2, NULL, 4, LG_FEATW_PURITY, &fw, NULL), LG_OK);
    /* p(f) = sum_k c_k^2 / n_k / sum_k c_k, n_0 = n_1 = 2
     *   f0: c = (2, 1): (4/2 + 1/2) / 3 = 5/6  (in every row of class 0)
     *   f1: c = (1, 1): (1/2 + 1/2) / 2 = 1/2
     *   f2: c = (1, 0): (1/2) / 1 = 1/2
     *   f3: c = (0, 1): 1/2
     *   f4: unseen: 1 */
    assert_true(fabs(fw->w[0] - pur(5.0 / 6)) < 1e-6);
    assert_true(fabs(fw->w[0] - 0.587130) < 1e-5); /* 0.02 + 0.98 * 0.578704 */
    assert_true(fabs(fw->w[1] - pur(0.5)) < 1e-6);
    assert_true(fabs(fw->w[2] - pur(0.5)) < 1e-6);
    assert_true(fabs(fw->w[3] - pur(0.5)) < 1e-6);
    assert_true(fabs(fw->w[4] - 1.0) < 1e-6);
    lg_featw_free(fw);
    /* rows 0 and 3: one row a class, every feature consistent */
    size_t rows[] = {0, 3};
    assert_int_equal(lg_featw_fit(&X, y, 2, rows, 2, LG_FEATW_PURITY, &fw, NULL), LG_OK);
    /* f1: c = (1, 1), n = (1, 1): (1 + 1) / 2 = 1 */
    for (int f = 0; f < D; f++)
        assert_true(fabs(fw->w[f] - 1.0) < 1e-6);
    lg_featw_free(fw);
    lg_embeddings_free(&X);
}

static void test_apply_and_reweigh(void **state) {
    (void)state;
    lg_embeddings X, Y;
    int y[4];
    tiny(&X, y);
    tiny(&Y, y);
    lg_featw *a, *b;
    assert_int_equal(lg_featw_new(D, LG_FEATW_IDF, &a, NULL), LG_OK);
    assert_int_equal(lg_featw_new(D, LG_FEATW_IDF, &b, NULL), LG_OK);
    for (int f = 0; f < D; f++)
        a->w[f] = 1.0f + (float)f, b->w[f] = 0.5f + 0.25f * (float)(f * f);
    /* row 0 = (1, 1) / sqrt 2 over f0, f1: with a, (1, 2) / sqrt 5 */
    lg_featw_apply(a, NULL, &X, 0, 4);
    assert_true(fabs(X.values[0] - 1 / sqrt(5.0)) < 1e-6);
    assert_true(fabs(X.values[1] - 2 / sqrt(5.0)) < 1e-6);
    assert_true(fabs(X.values[6] - 1.0) < 1e-6); /* one feature: unit again */
    /* re-weighing rows weighed with a by b gives what b alone gives */
    lg_featw_apply(b, a, &X, 0, 4);
    lg_featw_apply(b, NULL, &Y, 0, 4);
    for (int q = 0; q < 7; q++)
        assert_true(fabs(X.values[q] - Y.values[q]) < 1e-6);
    /* rows outside [r0, r1) are left alone */
    float before = Y.values[6];
    lg_featw_apply(a, NULL, &Y, 0, 3);
    assert_true(Y.values[6] == before);
    lg_featw_free(a);
    lg_featw_free(b);
    lg_embeddings_free(&X);
    lg_embeddings_free(&Y);
}

static void test_names_and_checks(void **state) {
    (void)state;
    lg_featw_method m;
    assert_int_equal(lg_featw_method_parse("idf", &m, NULL), LG_OK);
    assert_int_equal(m, LG_FEATW_IDF);
    assert_int_equal(lg_featw_method_parse("purity", &m, NULL), LG_OK);
    assert_int_equal(m, LG_FEATW_PURITY);
    assert_int_equal(lg_featw_method_parse("none", &m, NULL), LG_OK);
    lg_errmsg err;
    assert_int_equal(lg_featw_method_parse("tfidf", &m, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "unknown feature weighting 'tfidf'"));
    assert_string_equal(lg_featw_method_name(LG_FEATW_PURITY), "purity");
    lg_featw *fw;
    assert_int_equal(lg_featw_new(D, LG_FEATW_IDF, &fw, NULL), LG_OK);
    fw->w[3] = 0;
    assert_int_equal(lg_featw_check(fw, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "feature weight 3"));
    fw->w[3] = NAN;
    assert_int_equal(lg_featw_check(fw, NULL), LG_EMODEL);
    lg_featw_free(fw);
    assert_int_equal(lg_featw_new(0, LG_FEATW_IDF, &fw, NULL), LG_EINVAL);
    /* dense rows have no features to weigh */
    lg_embeddings X;
    lg_embeddings_init(&X);
    assert_int_equal(lg_embeddings_reserve_dense(&X, 1, 4, NULL), LG_OK);
    assert_int_equal(lg_featw_fit(&X, (int[]){0}, 1, NULL, 1, LG_FEATW_IDF, &fw, NULL), LG_EINVAL);
    lg_embeddings_free(&X);
}

/* ---- In a bundle ------------------------------------------------------------------- */

#define BD WORD_BUNDLE_DIM
static char dir[512];

/* Disk likes "disk", Network likes "network" (word_bundle.h), with purity
 * weights */
static lg_bundle *make_bundle(void) {
    static const char *const labels[] = {"Disk", "Network"};
    static const char *const words[] = {"disk", "network"};
    lg_embeddings e;
    lg_bundle *b = word_bundle(labels, words, 2, &e);
    /* the features of "network" weigh 0.001: "network network disk" turns Disk */
    assert_int_equal(lg_featw_new(BD, LG_FEATW_PURITY, &b->fw, NULL), LG_OK);
    for (size_t q = e.indptr[1]; q < e.indptr[2]; q++)
        b->fw->w[e.indices[q]] = 0.001f;
    for (size_t q = e.indptr[0]; q < e.indptr[1]; q++) /* shared features: left at 1 */
        b->fw->w[e.indices[q]] = 1.0f;
    lg_embeddings_free(&e);
    return b;
}


static void spit(const char *path, const char *data, size_t len) {
    assert_int_equal(write_whole(path, data, len), 0);
}

static void test_bundle_with_weights(void **state) {
    (void)state;
    char d[600], p[700], q[700];
    snprintf(d, sizeof d, "%s/fw", dir);
    lg_bundle *b = make_bundle();
    lg_errmsg err;
    if (lg_bundle_write(d, b, &err)) fail_msg("%s", err.msg);
    size_t len;
    snprintf(p, sizeof p, "%s/meta.json", d);
    char *meta = bedit_slurp(p, &len);
    assert_non_null(strstr(meta, "\"format_version\": 3"));
    assert_non_null(strstr(meta, "\"method\": \"purity\""));
    free(meta);
    snprintf(q, sizeof q, "%s/features.bin", d);
    char *fb = bedit_slurp(q, &len);
    assert_int_equal(len, 16 + 4 * BD);
    assert_memory_equal(fb, "LGFYF001", 8);
    free(fb);
    lg_bundle *r;
    if (lg_bundle_read(d, &r, &err)) fail_msg("%s", err.msg);
    assert_non_null(r->fw);
    assert_int_equal(r->fw->method, LG_FEATW_PURITY);
    assert_memory_equal(r->fw->w, b->fw->w, BD * sizeof(float));
    lg_bundle_free(r);
    /* the model applies them: the same weights without features.bin
     * (version 2) answer Network */
    assert_int_equal(bedit_predict(d, "network network disk", NULL), 0);
    char d2[600];
    snprintf(d2, sizeof d2, "%s/nofw", dir);
    lg_featw *keep = b->fw;
    b->fw = NULL;
    assert_int_equal(lg_bundle_write(d2, b, NULL), LG_OK);
    snprintf(p, sizeof p, "%s/meta.json", d2);
    meta = bedit_slurp(p, &len);
    assert_non_null(strstr(meta, "\"format_version\": 2"));
    assert_null(strstr(meta, "feature_weights"));
    free(meta);
    assert_int_equal(bedit_predict(d2, "network network disk", NULL), 1);
    b->fw = keep;

    /* damage */
    fb = bedit_slurp(q, &len);
    fb[20] ^= 1;
    spit(q, fb, len);
    bedit_expect_read_error(d, "features.bin: checksum mismatch");
    spit(q, fb, len - 4);
    bedit_expect_read_error(d, "features.bin");
    remove(q);
    bedit_expect_read_error(d, "features.bin: missing");
    fb[20] ^= 1;
    spit(q, fb, len);
    free(fb);
    snprintf(p, sizeof p, "%s/meta.json", d);
    bedit_replace(p, "\"format_version\": 3", "\"format_version\": 2");
    bedit_expect_read_error(d, "\"feature_weights\" in a version 2 bundle");
    bedit_replace(p, "\"format_version\": 2", "\"format_version\": 5");
    bedit_expect_read_error(d, "bundle format version 5, this logify reads versions 2 to 4");
    bedit_replace(p, "\"format_version\": 5", "\"format_version\": 3");
    bedit_replace(p, "\"method\": \"purity\"", "\"method\": \"none\"");
    bedit_expect_read_error(d, "feature_weights.method");
    /* version 3 without feature weights */
    snprintf(p, sizeof p, "%s/meta.json", d2);
    bedit_replace(p, "\"format_version\": 2", "\"format_version\": 3");
    bedit_expect_read_error(d2, "\"feature_weights\" missing");
    /* a write with weights of another dimension is refused */
    lg_featw_free(b->fw);
    assert_int_equal(lg_featw_new(BD / 2, LG_FEATW_IDF, &b->fw, NULL), LG_OK);
    assert_int_equal(lg_bundle_write(d2, b, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "feature weights of another dimension"));
    lg_bundle_free(b);
}

static int setup(void **state) {
    (void)state;
    if (tmpdir_enter("logify_test_featw")) return -1;
    snprintf(dir, sizeof dir, "%s", test_tmpdir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idf_by_hand),
        cmocka_unit_test(test_purity_by_hand),
        cmocka_unit_test(test_apply_and_reweigh),
        cmocka_unit_test(test_names_and_checks),
        cmocka_unit_test(test_bundle_with_weights),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
