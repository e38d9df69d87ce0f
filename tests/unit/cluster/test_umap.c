/* test_umap.c - UMAP's pieces (src/cluster/umap.c, src/cluster/umap_spectral.c): smooth kNN
 * distances and fuzzy-set weights against hand-computed values, a/b against
 * umap-learn's, the spectral start on a graph of two components, and a
 * whole fit: deterministic for a seed, blobs kept apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "logify/umap.h"
#include "cluster/umap_spectral.h"

/* Value of the symmetric graph at (i, j), 0 when absent. */
static float at(const lg_csr *m, size_t i, int32_t j) {
    for (size_t t = m->indptr[i]; t < m->indptr[i + 1]; t++)
        if (m->col[t] == j) return m->val[t];
    return 0;
}

/* k = 3, every row: itself (0), a first neighbour at rho, a second one
 * further. Then sum_{j>=1} exp(-(d_j - rho)/sigma) = log2 3 has the closed
 * form exp(-(d_2 - rho)/sigma) = log2(3) - 1, so the weight of every second
 * neighbour is log2(3) - 1 and sigma = (d_2 - rho) / -ln(log2(3) - 1). */
static void test_fuzzy_weights_by_hand(void **state) {
    (void)state;
    int32_t idx[] = {0, 1, 2, /**/ 1, 0, 3, /**/ 2, 3, 1, /**/ 3, 2, 1};
    float dist[] = {0, 0.1f, 0.3f, /**/ 0, 0.1f, 0.5f, /**/ 0, 0.2f, 0.4f, /**/ 0, 0.2f, 0.5f};
    lg_knn_graph g = {4, 3, idx, dist};
    float sigma[4], rho[4];
    lg_smooth_knn_dist(&g, sigma, rho);
    double w2 = log2(3.0) - 1; /* 0.5849625 */
    double expect_rho[] = {0.1, 0.1, 0.2, 0.2}, expect_gap[] = {0.2, 0.4, 0.2, 0.3};
    for (int i = 0; i < 4; i++) {
        assert_true(fabs(rho[i] - expect_rho[i]) < 1e-6);
        double s = expect_gap[i] / -log(w2);
        if (fabs(sigma[i] - s) > 1e-4 * s) {
            print_error("sigma[%d] = %.7f, expected %.7f\n", i, (double)sigma[i], s);
            fail();
        }
    }
    lg_csr m;
    lg_errmsg err;
    assert_int_equal(lg_fuzzy_simplicial_set(&g, &m, &err), LG_OK);
    /* directed: 0->1 1, 0->2 w2; 1->0 1, 1->3 w2; 2->3 1, 2->1 w2; 3->2 1, 3->1 w2
     * union a + b - ab: */
    struct { int i, j; double w; } want[] = {
        {0, 1, 1.0},          /* 1 + 1 - 1 */
        {0, 2, w2},           /* one way only */
        {1, 2, w2},           /* one way only (2->1) */
        {1, 3, 2 * w2 - w2 * w2},
        {2, 3, 1.0},
        {0, 3, 0.0},
    };
    for (size_t t = 0; t < sizeof want / sizeof *want; t++) {
        float a = at(&m, (size_t)want[t].i, want[t].j), b = at(&m, (size_t)want[t].j, want[t].i);
        if (fabs(a - want[t].w) > 1e-5 || a != b) {
            print_error("W[%d][%d] = %.6f / %.6f, expected %.6f\n", want[t].i, want[t].j, (double)a,
                        (double)b, want[t].w);
            fail();
        }
    }
    for (size_t i = 0; i < 4; i++) assert_true(at(&m, i, (int32_t)i) == 0); /* no self loops */
    assert_int_equal(lg_csr_nnz(&m), 10);
    lg_csr_free(&m);
}

static void test_find_ab_matches_umap_learn(void **state) {
    (void)state;
    float a, b;
    lg_umap_find_ab(1.0f, 0.1f, &a, &b);
    /* umap.umap_.find_ab_params(1.0, 0.1) = (1.5769434604, 0.8950608781) */
    assert_true(fabs(a - 1.5769434604) < 2e-3);
    assert_true(fabs(b - 0.8950608781) < 2e-3);
    lg_umap_find_ab(1.0f, 0.5f, &a, &b);
    /* find_ab_params(1.0, 0.5) = (0.5830300, 1.3341669) */
    assert_true(fabs(a - 0.5830300) < 5e-3);
    assert_true(fabs(b - 1.3341669) < 5e-3);
}

/* three blobs of 80 points in 10-D */
static float *blobs(size_t n, size_t d) {
    lg_rng r;
    lg_rng_seed(&r, 5);
    float *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = (j == (i % 3) * 3 ? 1.0f : 0.0f) + (float)(lg_rng_unif(&r) - 0.5) * 0.3f;
    lg_l2_normalize_rows(x, n, d);
    return x;
}

static void test_spectral_two_components(void **state) {
    (void)state;
    size_t n = 240, d = 10;
    float *x = blobs(n, d);
    /* a graph keeping only edges inside blob 0 and inside blobs 1+2 */
    lg_knn_graph g;
    lg_errmsg err;
    assert_int_equal(lg_knn_exact(x, n, d, 15, NULL, NULL, &g, &err), LG_OK);
    lg_csr m;
    assert_int_equal(lg_fuzzy_simplicial_set(&g, &m, &err), LG_OK);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        size_t st = m.indptr[i];
        m.indptr[i] = w;
        for (size_t t = st; t < m.indptr[i + 1]; t++)
            if ((i % 3 == 0) == ((size_t)m.col[t] % 3 == 0)) {
                m.col[w] = m.col[t];
                m.val[w++] = m.val[t];
            }
    }
    m.indptr[n] = w;
    float *y = malloc(2 * n * sizeof *y);
    size_t comps = 0, rnd = 0;
    assert_int_equal(lg_umap_spectral_init(&m, x, d, 42, y, &comps, &rnd, &err), LG_OK);
    assert_true(comps >= 2);
    assert_int_equal(rnd, 0);
    float mx = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        assert_true(isfinite(y[i]));
        mx = fabsf(y[i]) > mx ? fabsf(y[i]) : mx;
    }
    assert_true(fabsf(mx - 10.0f) < 1e-3); /* scaled to 10 as umap-learn */
    free(y);
    lg_csr_free(&m);
    lg_knn_graph_free(&g);
    free(x);
}

static void test_fit_deterministic_and_separates(void **state) {
    (void)state;
    size_t n = 240, d = 10;
    float *x = blobs(n, d);
    lg_umap_params p;
    lg_umap_params_default(&p);
    p.n_epochs = 100;
    float *y1 = malloc(2 * n * sizeof *y1), *y2 = malloc(2 * n * sizeof *y2);
    lg_errmsg err;
    lg_umap_stats st;
    assert_int_equal(lg_umap_fit(x, n, d, &p, NULL, NULL, y1, &st, &err), LG_OK);
    assert_int_equal(lg_umap_fit(x, n, d, &p, NULL, NULL, y2, NULL, &err), LG_OK);
    assert_memory_equal(y1, y2, 2 * n * sizeof *y1);
    /* blobs: mean distance to the own centroid well below centroid gaps */
    double c[3][2] = {{0}}, spread = 0, gap = INFINITY;
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) c[i % 3][k] += y1[2 * i + (size_t)k] / (double)(n / 3);
    for (size_t i = 0; i < n; i++)
        spread += hypot(y1[2 * i] - c[i % 3][0], y1[2 * i + 1] - c[i % 3][1]) / (double)n;
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++) {
            double gd = hypot(c[a][0] - c[b][0], c[a][1] - c[b][1]);
            gap = gd < gap ? gd : gap;
        }
    print_message("blob spread %.3f, smallest centroid gap %.3f\n", spread, gap);
    assert_true(gap > 3 * spread);
    p.seed = 7; /* another seed, another layout */
    assert_int_equal(lg_umap_fit(x, n, d, &p, NULL, NULL, y2, NULL, &err), LG_OK);
    assert_true(memcmp(y1, y2, 2 * n * sizeof *y1) != 0);
    assert_int_equal(lg_umap_fit(x, 1, d, &p, NULL, NULL, y2, NULL, &err), LG_EINVAL);
    free(y1), free(y2), free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuzzy_weights_by_hand),
        cmocka_unit_test(test_find_ab_matches_umap_learn),
        cmocka_unit_test(test_spectral_two_components),
        cmocka_unit_test(test_fit_deterministic_and_separates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
