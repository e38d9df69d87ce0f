/* test_svm.c - class centroids (values, top-k order, similarity) and the
 * one-vs-rest linear SVM: many classes of hashed log lines learned with
 * candidate retrieval, the same bytes for 1 and 3 threads and with M >= K
 * against plain one-vs-rest, an ovr_linear_svm bundle written, read back and
 * damaged, and the model stage's open set ("unlike any training line"). */
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
#include "logify/centroids.h"
#include "logify/encoder.h"
#include "logify/model.h"
#include "logify/svm.h"
#include "tmpdir.h"

#define NCLS 300 /* classes */
#define PER 3    /* lines a class */

static const char *const words[] = {"disk", "network", "login", "cache", "queue", "socket",
                                    "kernel", "backup", "mirror", "shard", "token", "lease",
                                    "quota", "route", "packet", "daemon", "cursor", "ledger"};
#define NW (sizeof words / sizeof *words)

/* class k: three of the words (k in base NW) and a verb; its lines differ
 * in numbers only, so classes differ by one word or by word order */
static void line(size_t k, size_t v, char *out, size_t cap) {
    size_t a = k % NW, b = (k / NW) % NW, c = (k / (NW * NW)) % 2;
    snprintf(out, cap, "%s %s %s failed after %zu ms on node%zu", words[a], words[b],
             c ? "flush" : "sync", 10 + v * 7, v);
}

typedef struct {
    lg_encoder *enc;
    lg_encoder_scratch *es;
    lg_embeddings X;
    int y[NCLS * PER];
} corpus;

static void corpus_make(corpus *c) {
    static char text[NCLS * PER][128];
    const char *msgs[NCLS * PER];
    size_t lens[NCLS * PER];
    for (size_t k = 0; k < NCLS; k++)
        for (size_t v = 0; v < PER; v++) {
            size_t i = k * PER + v;
            line(k, v, text[i], sizeof text[i]);
            msgs[i] = text[i];
            lens[i] = strlen(text[i]);
            c->y[i] = (int)k;
        }
    assert_int_equal(lg_encoder_new("hash:dim=65536", &c->enc, NULL), LG_OK);
    assert_int_equal(lg_encoder_scratch_new(c->enc, &c->es, NULL), LG_OK);
    lg_embeddings_init(&c->X);
    assert_int_equal(lg_encoder_encode_batch(c->enc, c->es, msgs, lens, NCLS * PER, &c->X, NULL),
                     LG_OK);
}

static void corpus_free(corpus *c) {
    lg_embeddings_free(&c->X);
    lg_encoder_scratch_free(c->es);
    lg_encoder_free(c->enc);
}

/* two rows, two classes, by hand: centroid = normalised mean */
static void test_centroids_by_hand(void **state) {
    (void)state;
    lg_embeddings X;
    lg_embeddings_init(&X);
    assert_int_equal(lg_embeddings_reserve_sparse(&X, 3, 8, 6, NULL), LG_OK);
    /* row 0: e0; row 1: e1; row 2: (e0 + e2) / sqrt 2 */
    uint32_t idx[] = {0, 1, 0, 2};
    float val[] = {1, 1, (float)M_SQRT1_2, (float)M_SQRT1_2};
    memcpy(X.indices, idx, sizeof idx);
    memcpy(X.values, val, sizeof val);
    X.indptr[0] = 0, X.indptr[1] = 1, X.indptr[2] = 2, X.indptr[3] = 4;
    X.n_rows = 3;
    int y[] = {0, 1, 0};
    lg_centroids *c;
    assert_int_equal(lg_centroids_build(&X, y, NULL, 3, NULL, 2, &c, NULL), LG_OK);
    /* class 0: (1 + 0.7071, 0, 0.7071) / norm */
    double n0 = sqrt((1 + M_SQRT1_2) * (1 + M_SQRT1_2) + 0.5);
    assert_int_equal(c->ptr[1], 2);
    assert_true(fabs(c->val[0] - (1 + M_SQRT1_2) / n0) < 1e-6);
    assert_true(fabs(c->val[1] - M_SQRT1_2 / n0) < 1e-6);
    lg_centroid_scratch s;
    assert_int_equal(lg_centroid_scratch_init(c, &s, NULL), LG_OK);
    int best;
    float sim = lg_centroids_score(c, &X, 1, &s, &best);
    assert_int_equal(best, 1);
    assert_true(fabs(sim - 1.0f) < 1e-6);
    sim = lg_centroids_score(c, &X, 0, &s, &best);
    assert_int_equal(best, 0);
    assert_true(fabs(sim - (1 + M_SQRT1_2) / n0) < 1e-6);
    uint32_t top[2];
    /* few classes are scored densely: every class is ranked, class 1 (it
     * shares nothing with row 0) last */
    assert_true(lg_centroids_top(&s, 2, top) >= 1);
    assert_int_equal(top[0], 0);
    lg_centroid_scratch_clear(&s);
    lg_centroids_free(c);
    lg_embeddings_free(&X);
}

static lg_svm *fit(corpus *c, lg_centroids *cent, size_t cand, int threads) {
    lg_svm_opts o;
    lg_svm_opts_default(&o);
    o.candidates = cand;
    o.threads = threads;
    lg_svm *m = NULL;
    lg_errmsg err;
    if (lg_svm_train(&c->X, c->y, NULL, NCLS * PER, NCLS, cent, &o, &m, NULL, &err))
        fail_msg("%s", err.msg);
    return m;
}

static void same_model(const lg_svm *a, const lg_svm *b) {
    assert_int_equal(a->ptr[a->n_classes], b->ptr[b->n_classes]);
    assert_memory_equal(a->ptr, b->ptr, (a->n_classes + 1) * sizeof *a->ptr);
    assert_memory_equal(a->idx, b->idx, a->ptr[a->n_classes] * sizeof *a->idx);
    assert_memory_equal(a->val, b->val, a->ptr[a->n_classes] * sizeof *a->val);
    assert_memory_equal(a->bias, b->bias, a->n_classes * sizeof *a->bias);
}

/* Scoring against many classes (300, every line shares "failed after ..
 * ms on node" with every class: the rows' lists cover all classes, the
 * pass that sums into a zeroed array) agrees with a brute-force cosine:
 * the touched classes, each similarity, the best class and the top 16 */
static void test_centroids_wide_rows(void **state) {
    (void)state;
    corpus c;
    corpus_make(&c);
    lg_centroids *cent;
    assert_int_equal(lg_centroids_build(&c.X, c.y, NULL, NCLS * PER, NULL, NCLS, &cent, NULL),
                     LG_OK);
    lg_centroid_scratch s;
    assert_int_equal(lg_centroid_scratch_init(cent, &s, NULL), LG_OK);
    static double dense[65536], want[NCLS];
    static int shares[NCLS];
    size_t wide = 0;
    for (size_t i = 0; i < NCLS * PER; i += 7) {
        double ss = 0;
        size_t len = 0;
        for (size_t q = c.X.indptr[i]; q < c.X.indptr[i + 1]; q++) {
            dense[c.X.indices[q]] = c.X.values[q];
            ss += (double)c.X.values[q] * c.X.values[q];
            len += cent->fptr[c.X.indices[q] + 1] - cent->fptr[c.X.indices[q]];
        }
        wide += len >= NCLS / 2;
        int bb = -1;
        size_t nshare = 0;
        for (size_t k = 0; k < NCLS; k++) {
            want[k] = 0, shares[k] = 0;
            for (size_t q = cent->ptr[k]; q < cent->ptr[k + 1]; q++)
                if (dense[cent->idx[q]] != 0)
                    want[k] += dense[cent->idx[q]] * cent->val[q] / sqrt(ss), shares[k] = 1;
            nshare += (size_t)shares[k];
            if (shares[k] && (bb < 0 || want[k] > want[bb] + 1e-6)) bb = (int)k;
        }
        int best;
        float sim = lg_centroids_score(cent, &c.X, i, &s, &best);
        assert_int_equal(s.n_touched, nshare);
        for (size_t t = 0; t < s.n_touched; t++) {
            assert_true(shares[s.touched[t]]);
            assert_true(fabs(s.acc[s.touched[t]] - want[s.touched[t]]) < 1e-5);
        }
        assert_true(best >= 0 && fabs(sim - want[bb]) < 1e-5 && fabs(want[best] - want[bb]) < 1e-5);
        assert_int_equal(best, c.y[i]); /* its own class is nearest */
        uint32_t top[16];
        size_t nt = lg_centroids_top(&s, 16, top);
        assert_int_equal(nt, 16);
        assert_int_equal(top[0], (uint32_t)best);
        for (size_t t = 1; t < nt; t++)
            assert_true(s.acc[top[t]] <= s.acc[top[t - 1]]);
        for (size_t k = 0; k < NCLS; k++) { /* nothing left out ranks above the 16th */
            int in = 0;
            for (size_t t = 0; t < nt; t++)
                in |= top[t] == k;
            if (!in) assert_true(want[k] <= want[top[nt - 1]] + 1e-5);
        }
        for (size_t q = c.X.indptr[i]; q < c.X.indptr[i + 1]; q++)
            dense[c.X.indices[q]] = 0;
    }
    assert_true(wide > 0); /* the test reaches the wide pass */
    lg_centroid_scratch_clear(&s);
    lg_centroids_free(cent);
    corpus_free(&c);
}

/* 300 classes: every training line back to its class; threads change
 * nothing; candidates >= K is plain one-vs-rest and also learns all */
static void test_svm_many_classes(void **state) {
    (void)state;
    corpus c;
    corpus_make(&c);
    lg_centroids *cent;
    assert_int_equal(lg_centroids_build(&c.X, c.y, NULL, NCLS * PER, NULL, NCLS, &cent, NULL),
                     LG_OK);
    lg_svm *m1 = fit(&c, cent, 32, 1), *m3 = fit(&c, cent, 32, 3);
    same_model(m1, m3);
    lg_svm *full = fit(&c, cent, NCLS, 2);
    lg_svm_scratch s1, s2;
    assert_int_equal(lg_svm_scratch_init(m1, &s1, NULL), LG_OK);
    assert_int_equal(lg_svm_scratch_init(full, &s2, NULL), LG_OK);
    size_t right = 0, right_full = 0;
    for (size_t i = 0; i < NCLS * PER; i++) {
        float p, sim;
        right += lg_svm_predict_row(m1, &c.X, i, &s1, &p, &sim) == c.y[i];
        assert_true(p >= 0 && p <= 1 && sim > 0.5f);
        right_full += lg_svm_predict_row(full, &c.X, i, &s2, &p, &sim) == c.y[i];
    }
    assert_int_equal(right, NCLS * PER);
    assert_int_equal(right_full, NCLS * PER);
    lg_svm_scratch_clear(&s1);
    lg_svm_scratch_clear(&s2);
    lg_svm_free(m1);
    lg_svm_free(m3);
    lg_svm_free(full);
    lg_centroids_free(cent);
    corpus_free(&c);
}

static void test_svm_bad_input(void **state) {
    (void)state;
    corpus c;
    corpus_make(&c);
    lg_centroids *cent;
    assert_int_equal(lg_centroids_build(&c.X, c.y, NULL, NCLS * PER, NULL, NCLS, &cent, NULL),
                     LG_OK);
    lg_svm_opts o;
    lg_svm_opts_default(&o);
    lg_svm *m = NULL;
    lg_errmsg err;
    c.y[5] = NCLS; /* out of range */
    assert_int_equal(lg_svm_train(&c.X, c.y, NULL, NCLS * PER, NCLS, cent, &o, &m, NULL, &err),
                     LG_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(lg_svm_train(&c.X, c.y, NULL, 0, NCLS, cent, &o, &m, NULL, &err), LG_EINVAL);
    lg_centroids_free(cent);
    corpus_free(&c);
}

static char *slurp(const char *path, size_t *len) {
    char *d = read_whole(path, len);
    assert_non_null(d);
    return d;
}
static void spit(const char *path, const char *d, size_t len) {
    assert_int_equal(write_whole(path, d, len), 0);
}

/* CSR weights (magic, u32 K, u32 D, u64 nnz, u64 ptr[K + 1], ...): sets
 * ptr[1] past ptr[2] (both <= nnz) and the checksum in meta.json to match */
static void unordered_offsets(const char *wpath, const char *mpath) {
    size_t len, ml;
    char *w = slurp(wpath, &len);
    char old[17], sum[17];
    snprintf(old, sizeof old, "%016llx", (unsigned long long)lg_fnv1a64(w, len, 0));
    uint64_t nnz, p2;
    memcpy(&nnz, w + 16, 8);
    memcpy(&p2, w + 24 + 2 * 8, 8);
    assert_true(p2 < nnz);
    uint64_t p1 = p2 + 1;
    memcpy(w + 24 + 8, &p1, 8);
    spit(wpath, w, len);
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)lg_fnv1a64(w, len, 0));
    free(w);
    char *m = slurp(mpath, &ml);
    char *hit = strstr(m, old);
    assert_non_null(hit);
    memcpy(hit, sum, 16);
    spit(mpath, m, ml);
    free(m);
}

/* an ovr_linear_svm bundle: write, read back (same weights), load as a
 * model, the open set, then damage */
static void test_svm_bundle_and_open_set(void **state) {
    (void)state;
    corpus c;
    corpus_make(&c);
    lg_bundle *b = calloc(1, sizeof *b);
    assert_int_equal(lg_centroids_build(&c.X, c.y, NULL, NCLS * PER, NULL, NCLS, &b->cent, NULL),
                     LG_OK);
    b->svm = fit(&c, b->cent, 32, 1);
    b->svm->platt_a = 4, b->svm->platt_b = 1;
    b->kind = LG_CLF_SVM;
    b->labels = calloc(NCLS, sizeof *b->labels);
    for (size_t k = 0; k < NCLS; k++) {
        char name[32];
        snprintf(name, sizeof name, "L%03zu", k);
        b->labels[k] = lg_strdup(name);
    }
    b->n_labels = NCLS;
    b->encoder_spec = lg_strdup(lg_encoder_spec(c.enc));
    b->encoder_hash = lg_encoder_config_hash(c.enc);
    b->encoder_config = lg_strdup(lg_encoder_config_json(c.enc));
    b->threshold = 0.5;
    b->unknown_threshold = 0.5;
    b->C = 10;
    lg_errmsg err;
    if (lg_bundle_write("b", b, &err)) fail_msg("%s", err.msg);
    lg_bundle *r = NULL;
    if (lg_bundle_read("b", &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r->kind, LG_CLF_SVM);
    same_model(b->svm, r->svm);
    assert_true(r->svm->platt_a == 4.0f && r->unknown_threshold == 0.5);
    lg_bundle_free(r);

    lg_model *m;
    if (lg_model_load("b", &m, &err)) fail_msg("%s", err.msg);
    assert_string_equal(lg_model_classifier_type(m), "ovr_linear_svm");
    lg_stage st;
    assert_int_equal(lg_model_stage_new(m, NULL, 0.0, &st, NULL), LG_OK);
    void *scr;
    assert_int_equal(st.ops->scratch_new(st.ctx, &scr, NULL), LG_OK);
    char known[128];
    line(37, 9, known, sizeof known); /* class 37, unseen numbers */
    const char *unknown = "Zebra crossing painted yellow by municipal crew";
    lg_record r1 = {0}, r2 = {0};
    r1.message = known, r1.message_len = strlen(known);
    r2.message = unknown, r2.message_len = strlen(unknown);
    lg_record *recs[2] = {&r1, &r2};
    assert_int_equal(st.ops->process(st.ctx, scr, recs, 2, NULL), LG_OK);
    assert_string_equal(r1.label, "L037");
    assert_null(r2.label);
    assert_non_null(strstr(r2.detail, "unlike any training line: similarity "));
    assert_non_null(strstr(r2.detail, "< 0.50"));
    st.ops->scratch_free(scr);
    st.ops->ctx_free(st.ctx);
    lg_model_free(m);

    /* damage: flipped byte in the weights, missing centroids, old version */
    FILE *f = fopen("b/weights.bin", "r+b");
    fseek(f, 40, SEEK_SET);
    fputc(0x5a ^ fgetc(f), f);
    fclose(f);
    assert_int_equal(lg_bundle_read("b", &r, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "checksum mismatch"));
    assert_int_equal(lg_bundle_write("b", b, &err), LG_OK);
    remove("b/centroids.bin");
    assert_int_equal(lg_bundle_read("b", &r, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "centroids.bin: missing"));
    /* offsets within bounds but out of order (class 1 ends after class 2
     * begins), written with a matching checksum: refused, not read */
    assert_int_equal(lg_bundle_write("b", b, &err), LG_OK);
    unordered_offsets("b/weights.bin", "b/meta.json");
    assert_int_equal(lg_bundle_read("b", &r, &err), LG_EMODEL);
    if (!strstr(err.msg, "bad offsets")) fail_msg("unordered offsets: %s", err.msg);
    lg_bundle_free(b);
    corpus_free(&c);
}

static int setup(void **state) {
    (void)state;
    return tmpdir_enter("logify_test_svm");
}
static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_centroids_by_hand),
        cmocka_unit_test(test_centroids_wide_rows),
        cmocka_unit_test(test_svm_many_classes),
        cmocka_unit_test(test_svm_bad_input),
        cmocka_unit_test(test_svm_bundle_and_open_set),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
