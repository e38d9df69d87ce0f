/* test_srcfeat.c - the source column as a feature (srcfeat.h): the rows
 * lg_srcfeat_add builds, computed by hand (new entry at the row's end, the
 * other values scaled by sqrt(1 - v^2), unit norm kept, an empty source
 * untouched, upper and lower case alike, a hash collision with a feature
 * of the row); a bundle with it (format version 4, read back, damaged,
 * refused without feature weights); lg_model_predict_src telling apart
 * the same line from two sources; the hash encoder's pos=N features. */
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
#include "logify/srcfeat.h"
#include "model/word_bundle.h"
#include "tmpdir.h"
#include "model/bundle_edit.h"

#define D 64

/* rows: r0 {1: 0.6, 2: 0.8}, r1 {3: 1}, r2 {4: 0.6, 5: 0.8}, r3 {6: 1} */
static void rows4(lg_embeddings *X) {
    lg_embeddings_init(X);
    assert_int_equal(lg_embeddings_reserve_sparse(X, 4, D, 6, NULL), LG_OK);
    uint32_t idx[] = {1, 2, 3, 4, 5, 6};
    float val[] = {0.6f, 0.8f, 1, 0.6f, 0.8f, 1};
    size_t ptr[] = {0, 2, 3, 5, 6};
    memcpy(X->indices, idx, sizeof idx);
    memcpy(X->values, val, sizeof val);
    memcpy(X->indptr, ptr, sizeof ptr);
    X->n_rows = 4;
}

static double row_norm(const lg_embeddings *X, size_t i) {
    double ss = 0;
    for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
        ss += (double)X->values[q] * X->values[q];
    return sqrt(ss);
}

static void test_add_by_hand(void **state) {
    (void)state;
    lg_embeddings X;
    rows4(&X);
    const uint32_t fl = lg_srcfeat_index("linux", 5, D);
    assert_int_equal(lg_srcfeat_index("LiNuX", 5, D), fl); /* case does not matter */
    assert_true(fl < D);
    /* r1 has no source; r3's own feature 6 is made the source's index by
     * picking a source whose index is 6 */
    char coll[16] = "";
    for (int t = 0; t < 100000 && !coll[0]; t++) {
        char s[16];
        snprintf(s, sizeof s, "s%d", t);
        if (lg_srcfeat_index(s, strlen(s), D) == 6) memcpy(coll, s, sizeof s);
    }
    assert_true(coll[0]);
    assert_true(fl != 6 && fl != 1 && fl != 2 && fl != 4 && fl != 5); /* else pick another name */
    const char *srcs[] = {"Linux", "", "LINUX", coll};
    size_t lens[] = {5, 0, 5, strlen(coll)};
    const double v = 0.1, k = sqrt(1 - v * v);
    assert_int_equal(lg_srcfeat_add(&X, srcs, lens, v, NULL), LG_OK);
    /* r0 {1, 2, fl}, r1 {3}, r2 {4, 5, fl}, r3 {6: k + v} */
    size_t ptr[] = {0, 3, 4, 7, 8};
    uint32_t idx[] = {1, 2, fl, 3, 4, 5, fl, 6};
    double val[] = {0.6 * k, 0.8 * k, v, 1, 0.6 * k, 0.8 * k, v, k + v};
    for (int i = 0; i < 5; i++)
        assert_int_equal(X.indptr[i], ptr[i]);
    for (int q = 0; q < 8; q++) {
        assert_int_equal(X.indices[q], idx[q]);
        assert_true(fabs(X.values[q] - val[q]) < 1e-6);
    }
    assert_true(fabs(row_norm(&X, 0) - 1) < 1e-6);
    assert_true(fabs(row_norm(&X, 2) - 1) < 1e-6);
    /* no sources at all: nothing changes */
    lg_embeddings_free(&X);
    rows4(&X);
    assert_int_equal(lg_srcfeat_add(&X, NULL, NULL, v, NULL), LG_OK);
    const char *none[] = {NULL, "", NULL, ""};
    size_t zero[] = {0, 0, 0, 0};
    assert_int_equal(lg_srcfeat_add(&X, none, zero, v, NULL), LG_OK);
    assert_int_equal(X.indptr[4], 6);
    assert_true(fabs(X.values[0] - 0.6f) < 1e-7);
    lg_embeddings_free(&X);
}

/* ---- In a bundle ------------------------------------------------------------------- */

#define BD WORD_BUNDLE_DIM
static char dir[512];

/* Linux and Thunderbird both like the word "session"; each also likes its
 * source's feature. Feature weights all 1. */
static lg_bundle *make_bundle(void) {
    static const char *const labels[] = {"Linux-E4", "Thunderbird-E5"};
    static const char *const words[] = {"session closed", "session closed"};
    lg_embeddings e;
    lg_bundle *b = word_bundle(labels, words, 2, &e);
    lg_embeddings_free(&e);
    assert_int_equal(lg_featw_new(BD, LG_FEATW_PURITY, &b->fw, NULL), LG_OK);
    b->clf->W[lg_srcfeat_index("linux", 5, BD) * 2 + 0] += 20;
    b->clf->W[lg_srcfeat_index("thunderbird", 11, BD) * 2 + 1] += 20;
    b->source_feature = LG_SRCFEAT_VALUE;
    return b;
}



static void test_bundle_with_source(void **state) {
    (void)state;
    char d[600], p[700];
    snprintf(d, sizeof d, "%s/src", dir);
    lg_bundle *b = make_bundle();
    lg_errmsg err;
    if (lg_bundle_write(d, b, &err)) fail_msg("%s", err.msg);
    size_t len;
    snprintf(p, sizeof p, "%s/meta.json", d);
    char *meta = bedit_slurp(p, &len);
    assert_non_null(strstr(meta, "\"format_version\": 4"));
    assert_non_null(strstr(meta, "\"source_feature\""));
    free(meta);
    lg_bundle *r;
    if (lg_bundle_read(d, &r, &err)) fail_msg("%s", err.msg);
    assert_true(fabs(r->source_feature - LG_SRCFEAT_VALUE) < 1e-9);
    lg_bundle_free(r);
    /* the same line, told apart by its source only */
    assert_int_equal(bedit_predict(d, "session closed", "Linux"), 0);
    assert_int_equal(bedit_predict(d, "session closed", "Thunderbird"), 1);
    assert_int_equal(bedit_predict(d, "session closed", "thunderbird"), 1);

    /* damage */
    bedit_replace(p, "\"format_version\": 4", "\"format_version\": 3");
    bedit_expect_read_error(d, "\"source_feature\" in a version 3 bundle");
    bedit_replace(p, "\"format_version\": 3", "\"format_version\": 4");
    bedit_replace(p, "\"value\": 0.1", "\"value\": 1.5");
    bedit_expect_read_error(d, "\"source_feature.value\" must be a number in (0, 1)");
    bedit_replace(p, "\"source_feature\"", "\"source_featurX\"");
    bedit_expect_read_error(d, "\"source_feature\" missing");
    /* a bundle without feature weights cannot have it */
    lg_featw_free(b->fw);
    b->fw = NULL;
    assert_int_equal(lg_bundle_write(d, b, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "source feature needs feature weights"));
    /* without it: version 2, and the source changes nothing */
    b->source_feature = 0;
    assert_int_equal(lg_bundle_write(d, b, &err), LG_OK);
    meta = bedit_slurp(p, &len);
    assert_non_null(strstr(meta, "\"format_version\": 2"));
    assert_null(strstr(meta, "source_feature"));
    free(meta);
    assert_int_equal(bedit_predict(d, "session closed", "Linux"),
                     bedit_predict(d, "session closed", "Thunderbird"));
    lg_bundle_free(b);
}

/* ---- The hash encoder's positional tokens ---------------------------------------- */

static size_t nnz_of(const char *spec, const char *msg, lg_embeddings *X) {
    lg_encoder *enc;
    lg_errmsg err;
    if (lg_encoder_new(spec, &enc, &err)) fail_msg("%s", err.msg);
    lg_encoder_scratch *s;
    assert_int_equal(lg_encoder_scratch_new(enc, &s, NULL), LG_OK);
    size_t len = strlen(msg);
    assert_int_equal(lg_encoder_encode_batch(enc, s, &msg, &len, 1, X, NULL), LG_OK);
    lg_encoder_scratch_free(s);
    lg_encoder_free(enc);
    return X->indptr[1];
}

static int same_row(const lg_embeddings *a, const lg_embeddings *b) {
    if (a->indptr[1] != b->indptr[1]) return 0;
    for (size_t q = 0; q < a->indptr[1]; q++) { /* the same order: same tokens, same code */
        if (a->indices[q] != b->indices[q] || fabsf(a->values[q] - b->values[q]) > 1e-7f)
            return 0;
    }
    return 1;
}

static void test_positional_tokens(void **state) {
    (void)state;
    lg_embeddings a, b, c;
    lg_embeddings_init(&a);
    lg_embeddings_init(&b);
    lg_embeddings_init(&c);
    /* pos=0 is the plain encoder; without pos the two orders share every
     * unigram and char gram, only bigrams differ */
    size_t n0 = nnz_of("hash:text=1", "alpha beta gamma delta", &a);
    nnz_of("hash:text=1,pos=0", "alpha beta gamma delta", &b);
    assert_true(same_row(&a, &b));
    /* pos=2: 4 tokens, the first 2 and the last 2 each get one more feature */
    size_t n2 = nnz_of("hash:text=1,pos=2", "alpha beta gamma delta", &b);
    assert_int_equal(n2, n0 + 4);
    /* 3 tokens with pos=2: the middle one is both 2nd from the start and
     * 2nd from the end: 2 + 2 */
    size_t m0 = nnz_of("hash:text=1", "alpha beta gamma", &a);
    assert_int_equal(nnz_of("hash:text=1,pos=2", "alpha beta gamma", &b), m0 + 4);
    /* a word moved from the end to the start changes its positional
     * features: the rows differ in more than bigrams */
    nnz_of("hash:text=1,pos=1", "x alpha beta y", &a);
    nnz_of("hash:text=1,pos=1", "y alpha beta x", &c);
    assert_false(same_row(&a, &c));
    lg_encoder *enc;
    lg_errmsg err;
    assert_int_equal(lg_encoder_new("hash:pos=33", &enc, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "pos must be in 0..32"));
    assert_int_equal(lg_encoder_new("hash:text=1,pos=3", &enc, NULL), LG_OK);
    assert_string_equal(lg_encoder_spec(enc), "hash:dim=32768,seed=1,text=1,pos=3");
    assert_non_null(strstr(lg_encoder_config_json(enc), "\"positional_tokens\": 3}"));
    uint64_t h3 = lg_encoder_config_hash(enc);
    lg_encoder_free(enc);
    assert_int_equal(lg_encoder_new("hash:text=1", &enc, NULL), LG_OK);
    assert_null(strstr(lg_encoder_config_json(enc), "positional"));
    assert_true(lg_encoder_config_hash(enc) != h3);
    lg_encoder_free(enc);
    lg_embeddings_free(&a);
    lg_embeddings_free(&b);
    lg_embeddings_free(&c);
}

static int setup(void **state) {
    (void)state;
    if (tmpdir_enter("logify_test_srcfeat")) return -1;
    snprintf(dir, sizeof dir, "%s", test_tmpdir);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_by_hand),
        cmocka_unit_test(test_bundle_with_source),
        cmocka_unit_test(test_positional_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
