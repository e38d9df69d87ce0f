/* umap.h - nearest neighbours and UMAP (Uniform Manifold Approximation and
 * Projection) to 2-D, as umap-learn computes it, on plain float matrices.
 *
 * Pipeline (src/cluster/knn.c with include/logify/knn.h, src/cluster/umap.c,
 * src/cluster/umap_spectral.c with its private umap_spectral.h):
 *   1. k-nearest neighbours under cosine distance (1 - dot of L2-normalised
 *      rows), the point itself included as its own first neighbour, as
 *      umap-learn does: exact with one sgemm per block of rows for small
 *      inputs, NN-descent (random-projection-tree start) beyond
 *      LG_KNN_EXACT_MAX_DEFAULT rows;
 *   2. the fuzzy simplicial set: smooth k-NN distances (rho, sigma by
 *      binary search to log2(k)), membership strengths, then the fuzzy
 *      union W + W^T - W o W^T;
 *   3. spectral initialisation (eigenvectors of the normalised Laplacian,
 *      per connected component, components placed by a meta layout; a
 *      seeded random start only where the spectral one cannot be had);
 *   4. the SGD layout with negative sampling, the curve 1/(1 + a d^2b) with
 *      a, b fitted to min_dist/spread as umap-learn's find_ab_params.
 * Everything runs on one thread in a fixed order: the same input and seed
 * give the same layout, bit for bit (the exact kNN sgemm may use OpenBLAS
 * threads; its result does not depend on their number in practice).
 */
#ifndef LOGIFY_UMAP_H
#define LOGIFY_UMAP_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"
#include "logify/knn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fuzzy simplicial set -------------------------------------------------- */

/* umap-learn's smooth_knn_dist: for each row, rho = distance to the nearest
 * neighbour at a distance > 0 (local_connectivity 1), sigma such that
 * sum_j exp(-(max(0, d_j - rho)) / sigma) = log2(k) (64 bisection steps,
 * tolerance 1e-5, floored at 1e-3 of the mean distance). */
void lg_smooth_knn_dist(const lg_knn_graph *g, float *sigma /* OUT (n) */,
                        float *rho /* OUT (n) */);
/* The fuzzy simplicial set: memberships exp(-(d - rho)/sigma) (1 when
 * d <= rho, 0 for the point itself), then W + W^T - W o W^T. */
lg_err lg_fuzzy_simplicial_set(const lg_knn_graph *g, lg_csr *out, lg_errmsg *err);

/* ---- Layout ------------------------------------------------------------------ */

/* a, b of the curve 1 / (1 + a x^(2b)) fitted (least squares, Levenberg-
 * Marquardt) to 1 for x < min_dist and exp(-(x - min_dist) / spread)
 * beyond, on 300 points of [0, 3 spread]: umap-learn's find_ab_params. */
void lg_umap_find_ab(float spread, float min_dist, float *a, float *b);

typedef struct {
    int n_neighbors;         /* 15 */
    float min_dist;          /* 0.1 */
    float spread;            /* 1.0 */
    int n_epochs;            /* 0: 500 below 10,000 rows, else 200 */
    float learning_rate;     /* 1.0 */
    float repulsion;         /* gamma, 1.0 */
    int negative_sample_rate;/* 5 */
    uint64_t seed;           /* 42 */
    size_t exact_max;        /* kNN: exact up to this many rows */
    int random_init;         /* 1: skip the spectral start */
} lg_umap_params;

void lg_umap_params_default(lg_umap_params *p);

typedef struct {
    double knn_seconds, graph_seconds, init_seconds, layout_seconds;
    int knn_exact;            /* 1 exact, 0 NN-descent */
    size_t graph_nnz;         /* stored entries of the symmetric graph */
    size_t components;        /* connected components of the graph */
    size_t random_init_rows;  /* rows placed at random (tiny components) */
    float a, b;
} lg_umap_stats;

/* Embeds the rows of x (L2-normalised, (n, d)) into out ((n, 2)). n >= 2.
 * stats may be NULL. */
lg_err lg_umap_fit(const float *x, size_t n, size_t d, const lg_umap_params *p,
                   lg_progress_fn progress, void *puser, float *out /* (n, 2) */,
                   lg_umap_stats *stats, lg_errmsg *err);

/* The steps of lg_umap_fit, exposed for tests. */
/* SGD on the graph from the start in emb (overwritten). */
lg_err lg_umap_optimize(const lg_csr *graph, float *emb /* (n, 2) */, const lg_umap_params *p,
                        float a, float b, lg_progress_fn progress, void *puser, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
