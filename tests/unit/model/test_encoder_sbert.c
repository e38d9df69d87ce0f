/* test_encoder_sbert.c - the "sbert:DIR" encoder (src/model/encoder_sbert.c)
 * behind the encoder interface: dense unit rows equal to the engine's
 * (re-normalised for a CLS model without Normalize), a zero row for an
 * empty message, the embedding cache (duplicates in a batch, repeats across
 * batches, more texts than the cache holds) giving identical rows, and a
 * config hash that tells models apart. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/encoder.h"
#include "logify/sbert.h"

static char fixtures[1024];

static void fixture(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", fixtures, name);
}

static void test_rows_match_engine(void **state) {
    (void)state;
    const char *names[] = {"tiny_mean", "tiny_cls"};
    for (int f = 0; f < 2; f++) {
        char dir[1200], spec[1300];
        fixture(dir, sizeof dir, names[f]);
        snprintf(spec, sizeof spec, "sbert:%s", dir);
        lg_encoder *enc = NULL;
        lg_errmsg err;
        if (lg_encoder_new(spec, &enc, &err)) fail_msg("%s", err.msg);
        assert_string_equal(lg_encoder_name(enc), "sbert");
        assert_int_equal(lg_encoder_dim(enc), 32);
        assert_int_equal(lg_encoder_is_sparse(enc), 0);
        lg_encoder_scratch *es = NULL;
        assert_int_equal(lg_encoder_scratch_new(enc, &es, &err), LG_OK);
        const char *msgs[] = {"disk full on /var", "", "User 7 logged in", "disk full on /var",
                              "Führer café 我想"};
        size_t lens[5];
        for (int i = 0; i < 5; i++)
            lens[i] = strlen(msgs[i]);
        lg_embeddings e;
        lg_embeddings_init(&e);
        assert_int_equal(lg_encoder_encode_batch(enc, es, msgs, lens, 5, &e, &err), LG_OK);
        assert_int_equal(e.n_rows, 5);
        /* the engine directly */
        lg_sbert *m = NULL;
        lg_sbert_scratch *s = NULL;
        assert_int_equal(lg_sbert_load(dir, &m, &err), LG_OK);
        assert_int_equal(lg_sbert_scratch_new(m, &s, &err), LG_OK);
        float ref[5 * 32];
        assert_int_equal(lg_sbert_encode(m, s, msgs, lens, 5, ref, &err), LG_OK);
        for (int i = 0; i < 5; i++) {
            const float *row = e.dense + i * 32;
            double nr = 0, nref = 0;
            for (int d = 0; d < 32; d++) {
                nr += (double)row[d] * row[d];
                nref += (double)ref[i * 32 + d] * ref[i * 32 + d];
            }
            if (lens[i] == 0) {
                assert_true(nr == 0.0); /* empty message: zero row */
                continue;
            }
            assert_true(fabs(nr - 1.0) < 1e-5);
            for (int d = 0; d < 32; d++)
                assert_true(fabsf(row[d] - (float)(ref[i * 32 + d] / sqrt(nref))) < 1e-5f);
        }
        assert_memory_equal(e.dense, e.dense + 3 * 32, 32 * sizeof(float));
        /* the same batch again comes from the cache: identical */
        float first[5 * 32];
        memcpy(first, e.dense, sizeof first);
        assert_int_equal(lg_encoder_encode_batch(enc, es, msgs, lens, 5, &e, &err), LG_OK);
        assert_memory_equal(first, e.dense, sizeof first);
        lg_embeddings_free(&e);
        lg_sbert_scratch_free(s);
        lg_sbert_free(m);
        lg_encoder_scratch_free(es);
        lg_encoder_free(enc);
    }
}

static void test_many_batches_and_hash(void **state) {
    (void)state;
    char dir[1200], spec[1300];
    fixture(dir, sizeof dir, "tiny_mean");
    snprintf(spec, sizeof spec, "sbert:%s", dir);
    lg_encoder *a = NULL, *b = NULL, *c = NULL;
    lg_errmsg err;
    assert_int_equal(lg_encoder_new(spec, &a, &err), LG_OK);
    assert_int_equal(lg_encoder_new(spec, &b, &err), LG_OK);
    fixture(dir, sizeof dir, "tiny_f16");
    snprintf(spec, sizeof spec, "sbert:%s", dir);
    assert_int_equal(lg_encoder_new(spec, &c, &err), LG_OK);
    assert_true(lg_encoder_config_hash(a) == lg_encoder_config_hash(b));
    assert_true(lg_encoder_config_hash(a) != lg_encoder_config_hash(c));
    assert_non_null(strstr(lg_encoder_config_json(a), "\"pooling\": \"mean\""));
    /* 300 distinct texts in batches of 100, then mixed repeats: a message's
     * row never depends on the batch it came in */
    enum { N = 300 };
    static char buf[N][32];
    const char *msgs[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "job %d finished with code %d", i, i % 7);
        msgs[i] = buf[i];
        lens[i] = strlen(buf[i]);
    }
    lg_encoder_scratch *s = NULL;
    assert_int_equal(lg_encoder_scratch_new(a, &s, &err), LG_OK);
    lg_embeddings e;
    lg_embeddings_init(&e);
    static float all[N * 32];
    for (int k = 0; k < N; k += 100) {
        assert_int_equal(lg_encoder_encode_batch(a, s, msgs + k, lens + k, 100, &e, &err), LG_OK);
        memcpy(all + k * 32, e.dense, 100 * 32 * sizeof(float));
    }
    const char *mix[4] = {msgs[5], msgs[250], msgs[5], msgs[120]};
    size_t ml[4] = {lens[5], lens[250], lens[5], lens[120]};
    assert_int_equal(lg_encoder_encode_batch(a, s, mix, ml, 4, &e, &err), LG_OK);
    for (int d = 0; d < 32; d++) {
        assert_true(fabsf(e.dense[d] - all[5 * 32 + d]) < 1e-6f);
        assert_true(fabsf(e.dense[32 + d] - all[250 * 32 + d]) < 1e-6f);
        assert_true(fabsf(e.dense[96 + d] - all[120 * 32 + d]) < 1e-6f);
    }
    lg_embeddings_free(&e);
    lg_encoder_scratch_free(s);
    lg_encoder_free(a);
    lg_encoder_free(b);
    lg_encoder_free(c);
}

static void test_bad_dir(void **state) {
    (void)state;
    lg_encoder *enc = NULL;
    lg_errmsg err;
    assert_int_not_equal(lg_encoder_new("sbert:/nonexistent/model", &enc, &err), LG_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/model"));
    assert_null(enc);
}

int main(void) {
    const char *root = getenv("LOGIFY_ROOT");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/bert", root ? root : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_match_engine),
        cmocka_unit_test(test_many_batches_and_hash),
        cmocka_unit_test(test_bad_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
