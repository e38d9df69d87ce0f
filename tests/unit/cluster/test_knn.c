/* test_knn.c - k-nearest neighbours (src/cluster/knn.c): the exact search against a
 * brute force in double precision, NN-descent's recall and determinism. */
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

/* n rows of d dims, L2-normalised: points around 6 random centres. */
static float *make_data(size_t n, size_t d, uint64_t seed) {
    lg_rng r;
    lg_rng_seed(&r, seed);
    float *c = malloc(6 * d * sizeof *c), *x = malloc(n * d * sizeof *x);
    for (size_t i = 0; i < 6 * d; i++) c[i] = (float)(lg_rng_unif(&r) * 2 - 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            x[i * d + j] = c[(i % 6) * d + j] + (float)(lg_rng_unif(&r) - 0.5) * 0.8f;
    lg_l2_normalize_rows(x, n, d);
    free(c);
    return x;
}

typedef struct {
    double dist;
    int32_t idx;
} dj;

static int cmp_dj(const void *a, const void *b) {
    const dj *x = a, *y = b;
    if (x->dist != y->dist) return x->dist < y->dist ? -1 : 1;
    return x->idx - y->idx;
}

/* brute force in double: (n, k) indices and distances */
static void brute(const float *x, size_t n, size_t d, size_t k, int32_t *idx, double *dist) {
    dj *row = malloc(n * sizeof *row);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            double s = 0;
            for (size_t t = 0; t < d; t++) s += (double)x[i * d + t] * x[j * d + t];
            row[j].dist = j == i ? 0 : 1 - s;
            row[j].idx = (int32_t)j;
        }
        qsort(row, n, sizeof *row, cmp_dj);
        for (size_t t = 0; t < k; t++) {
            idx[i * k + t] = row[t].idx;
            dist[i * k + t] = row[t].dist;
        }
    }
    free(row);
}

static void test_exact_matches_brute_force(void **state) {
    (void)state;
    size_t n = 300, d = 24, k = 10;
    float *x = make_data(n, d, 7);
    int32_t *bi = malloc(n * k * sizeof *bi);
    double *bd = malloc(n * k * sizeof *bd);
    brute(x, n, d, k, bi, bd);
    lg_knn_graph g;
    lg_errmsg err;
    assert_int_equal(lg_knn_exact(x, n, d, k, NULL, NULL, &g, &err), LG_OK);
    assert_int_equal(g.n, n);
    assert_int_equal(g.k, k);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g.idx[i * k], (int32_t)i); /* itself first */
        for (size_t t = 0; t < k; t++) {
            assert_true(fabs((double)g.dist[i * k + t] - bd[i * k + t]) < 1e-5);
            same += g.idx[i * k + t] == bi[i * k + t];
            if (t) assert_true(g.dist[i * k + t] >= g.dist[i * k + t - 1]);
        }
    }
    /* indices may differ only on float near-ties */
    assert_true(same >= n * k - 3);
    lg_knn_graph_free(&g);
    free(x), free(bi), free(bd);
}

static void test_nndescent_recall_and_determinism(void **state) {
    (void)state;
    size_t n = 1200, d = 16, k = 15;
    float *x = make_data(n, d, 11);
    int32_t *bi = malloc(n * k * sizeof *bi);
    double *bd = malloc(n * k * sizeof *bd);
    brute(x, n, d, k, bi, bd);
    lg_knn_graph g1, g2;
    lg_errmsg err;
    assert_int_equal(lg_knn_nndescent(x, n, d, k, 42, NULL, NULL, &g1, &err), LG_OK);
    assert_int_equal(lg_knn_nndescent(x, n, d, k, 42, NULL, NULL, &g2, &err), LG_OK);
    assert_memory_equal(g1.idx, g2.idx, n * k * sizeof *g1.idx);
    size_t hit = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) /* a true neighbour found (by distance, ties count) */
            for (size_t u = 0; u < k; u++)
                if (g1.idx[i * k + u] == bi[i * k + t]) {
                    hit++;
                    break;
                }
    double recall = (double)hit / (double)(n * k);
    print_message("NN-descent recall@15 on 1200 x 16: %.4f\n", recall);
    assert_true(recall > 0.97);
    lg_knn_graph_free(&g1);
    lg_knn_graph_free(&g2);
    free(x), free(bi), free(bd);
}

static void test_build_chooses_and_rejects_bad_k(void **state) {
    (void)state;
    size_t n = 50, d = 8;
    float *x = make_data(n, d, 3);
    lg_knn_graph g;
    lg_errmsg err;
    assert_int_equal(lg_knn_build(x, n, d, 60, 100, 1, NULL, NULL, &g, &err), LG_EINVAL);
    assert_int_equal(lg_knn_build(x, n, d, 5, 100, 1, NULL, NULL, &g, &err), LG_OK);
    lg_knn_graph_free(&g);
    free(x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_matches_brute_force),
        cmocka_unit_test(test_nndescent_recall_and_determinism),
        cmocka_unit_test(test_build_chooses_and_rejects_bad_k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
