/* test_logreg.c - multinomial logistic regression: the gradient against
 * finite differences (sparse and dense rows, class and row weights), a
 * separable problem learned, determinism to the byte, sparse == dense,
 * bad input (empty, one class, NaN, label out of range). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/logreg.h"

static uint64_t rng_state = 12345;
static double urand(void) { /* xorshift64*, [0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

/* n rows, D dims, about `per_row` stored values a row, as CSR */
static void make_sparse(lg_embeddings *e, size_t n, size_t D, size_t per_row) {
    lg_embeddings_init(e);
    assert_int_equal(lg_embeddings_reserve_sparse(e, n, D, n * per_row, NULL), LG_OK);
    size_t q = 0;
    e->indptr[0] = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < per_row; k++) {
            uint32_t j = (uint32_t)((i * 7 + k * 3) % D);
            int dup = 0;
            for (size_t r = e->indptr[i]; r < q; r++)
                dup |= e->indices[r] == j;
            if (dup) continue;
            e->indices[q] = j;
            e->values[q++] = (float)(urand() * 2 - 1);
        }
        e->indptr[i + 1] = q;
    }
}

static void to_dense(const lg_embeddings *s, lg_embeddings *d) {
    lg_embeddings_init(d);
    assert_int_equal(lg_embeddings_reserve_dense(d, s->n_rows, s->dim, NULL), LG_OK);
    lg_embeddings_to_dense(s, d->dense);
}

static void check_gradient(const lg_embeddings *X, const int *y, size_t K, const double *cw,
                           const double *rw) {
    const size_t D = X->dim, nv = D * K + K;
    lg_logreg_problem p = {X, y, NULL, X->n_rows, K, cw, rw, 0.7};
    double *th = calloc(nv, sizeof *th), *g = calloc(nv, sizeof *g);
    for (size_t j = 0; j < nv; j++)
        th[j] = urand() - 0.5;
    double f = lg_logreg_objective(&p, th, g);
    assert_true(isfinite(f) && f > 0);
    assert_true(lg_logreg_objective(&p, th, NULL) == f);
    for (size_t j = 0; j < nv; j++) {
        const double h = 1e-5, keep = th[j];
        th[j] = keep + h;
        double fp = lg_logreg_objective(&p, th, NULL);
        th[j] = keep - h;
        double fm = lg_logreg_objective(&p, th, NULL);
        th[j] = keep;
        double fd = (fp - fm) / (2 * h);
        if (fabs(fd - g[j]) > 1e-6 * (1 + fabs(fd)))
            fail_msg("d f / d theta[%zu]: analytic %.9g, finite difference %.9g", j, g[j], fd);
    }
    free(th);
    free(g);
}

static void test_gradient_matches_finite_differences(void **state) {
    (void)state;
    lg_embeddings Xs, Xd;
    make_sparse(&Xs, 9, 6, 3);
    to_dense(&Xs, &Xd);
    int y[9] = {0, 1, 2, 0, 1, 2, 0, 0, 1};
    double cw[3] = {0.8, 1.1, 1.7}, rw[9] = {1, 2, 1, 3, 1, 1, 0.5, 1, 2};
    check_gradient(&Xs, y, 3, NULL, NULL);
    check_gradient(&Xs, y, 3, cw, rw);
    check_gradient(&Xd, y, 3, cw, NULL);
    lg_embeddings_free(&Xs);
    lg_embeddings_free(&Xd);
}

/* three well separated clusters in 8 dims, each row L2-normalised, dense */
static void make_clusters(lg_embeddings *X, int *y, size_t n) {
    lg_embeddings_init(X);
    assert_int_equal(lg_embeddings_reserve_dense(X, n, 8, NULL), LG_OK);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % 3);
        double ss = 0;
        for (size_t j = 0; j < 8; j++) {
            float v = (float)(0.1 * (urand() - 0.5)) + (j == (size_t)y[i] * 2 ? 1.0f : 0.0f);
            X->dense[i * 8 + j] = v;
            ss += (double)v * v;
        }
        for (size_t j = 0; j < 8; j++)
            X->dense[i * 8 + j] /= (float)sqrt(ss);
    }
}

static void test_learns_and_is_deterministic(void **state) {
    (void)state;
    enum { N = 60 };
    lg_embeddings X;
    int y[N];
    make_clusters(&X, y, N);
    lg_logreg *a = NULL, *b = NULL;
    lg_logreg_fit_info info;
    lg_errmsg err;
    if (lg_logreg_train(&X, y, NULL, N, 3, NULL, &a, &info, &err)) fail_msg("%s", err.msg);
    assert_true(info.iterations > 0);
    assert_true(isfinite(info.loss));
    assert_int_equal(lg_logreg_train(&X, y, NULL, N, 3, NULL, &b, NULL, &err), LG_OK);
    assert_memory_equal(a->W, b->W, a->dim * a->n_classes * sizeof *a->W);
    assert_memory_equal(a->b, b->b, a->n_classes * sizeof *a->b);
    float proba[3];
    for (size_t i = 0; i < N; i++) {
        int k = lg_logreg_predict_row(a, &X, i, proba);
        assert_int_equal(k, y[i]);
        assert_true(fabsf(proba[0] + proba[1] + proba[2] - 1.0f) < 1e-5f);
        assert_true(proba[k] > 0.5f);
    }
    /* a row subset trains on those rows only */
    size_t rows[] = {0, 1, 2, 3, 4, 5};
    lg_logreg *c = NULL;
    assert_int_equal(lg_logreg_train(&X, y, rows, 6, 3, NULL, &c, NULL, &err), LG_OK);
    assert_int_equal(lg_logreg_predict_row(c, &X, 7, proba), y[7]);
    lg_logreg_free(a);
    lg_logreg_free(b);
    lg_logreg_free(c);
    lg_embeddings_free(&X);
}

static void test_sparse_equals_dense(void **state) {
    (void)state;
    lg_embeddings Xs, Xd;
    make_sparse(&Xs, 30, 12, 4);
    to_dense(&Xs, &Xd);
    int y[30];
    for (size_t i = 0; i < 30; i++)
        y[i] = Xs.values[Xs.indptr[i]] > 0 ? 1 : 0;
    lg_logreg *s = NULL, *d = NULL;
    assert_int_equal(lg_logreg_train(&Xs, y, NULL, 30, 2, NULL, &s, NULL, NULL), LG_OK);
    assert_int_equal(lg_logreg_train(&Xd, y, NULL, 30, 2, NULL, &d, NULL, NULL), LG_OK);
    float ps[2], pd[2];
    for (size_t i = 0; i < 30; i++) {
        assert_int_equal(lg_logreg_predict_row(s, &Xs, i, ps),
                         lg_logreg_predict_row(d, &Xd, i, pd));
        assert_true(fabsf(ps[0] - pd[0]) < 1e-3f);
    }
    lg_logreg_free(s);
    lg_logreg_free(d);
    lg_embeddings_free(&Xs);
    lg_embeddings_free(&Xd);
}

static void test_bad_input(void **state) {
    (void)state;
    enum { N = 12 };
    lg_embeddings X;
    int y[N];
    make_clusters(&X, y, N);
    lg_logreg *m = (lg_logreg *)1;
    lg_errmsg err;
    assert_int_equal(lg_logreg_train(&X, y, NULL, 0, 3, NULL, &m, NULL, &err), LG_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "empty"));
    int one[N] = {0};
    assert_int_equal(lg_logreg_train(&X, one, NULL, N, 3, NULL, &m, NULL, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "two classes"));
    assert_int_equal(lg_logreg_train(&X, y, NULL, N, 1, NULL, &m, NULL, &err), LG_EINVAL);
    int bad[N];
    memcpy(bad, y, sizeof bad);
    bad[5] = 7;
    assert_int_equal(lg_logreg_train(&X, bad, NULL, N, 3, NULL, &m, NULL, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "row 5"));
    lg_logreg_opts o;
    lg_logreg_opts_default(&o);
    o.C = -1;
    assert_int_equal(lg_logreg_train(&X, y, NULL, N, 3, &o, &m, NULL, &err), LG_EINVAL);
    X.dense[3 * 8 + 2] = NAN;
    assert_int_equal(lg_logreg_train(&X, y, NULL, N, 3, NULL, &m, NULL, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "non-finite"));
    /* predicting a NaN row: -1 and zero probabilities, no crash */
    X.dense[3 * 8 + 2] = 0;
    assert_int_equal(lg_logreg_train(&X, y, NULL, N, 3, NULL, &m, NULL, &err), LG_OK);
    X.dense[4 * 8 + 1] = INFINITY;
    float p[3] = {1, 1, 1};
    assert_int_equal(lg_logreg_predict_row(m, &X, 4, p), -1);
    assert_true(p[0] == 0 && p[1] == 0 && p[2] == 0);
    lg_logreg_free(m);
    lg_logreg_free(NULL);
    assert_int_equal(lg_logreg_new(1, 8, &m, &err), LG_EINVAL);
    lg_embeddings_free(&X);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient_matches_finite_differences),
        cmocka_unit_test(test_learns_and_is_deterministic),
        cmocka_unit_test(test_sparse_equals_dense),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
