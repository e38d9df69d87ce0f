/* umap.h - nearest neighbours and UMAP (Uniform Manifold Approximation and
 * Projection) to 2-D, as umap-learn computes it, on plain float matrices.
 *
 * Pipeline (src/cluster/knn.c, src/cluster/umap.c, src/cluster/umap_spectral.c):
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

#ifdef __cplusplus
extern "C" {
#endif

/* Hot kernels are compiled twice on x86-64 (GCC function multi-versioning,
 * picked once at load by the CPU): AVX2+FMA and baseline. Elsewhere, once;
 * and once under ThreadSanitizer, whose runtime is not up yet when the
 * loader runs the ifunc resolvers (the binary would crash at start). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__)
#define LG_SIMD_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define LG_SIMD_CLONES
#endif

/* Progress of a long phase: `done` of `total` units of `phase` ("knn",
 * "layout", ...). May be NULL wherever it is accepted. */
typedef void (*lg_progress_fn)(void *user, const char *phase, size_t done, size_t total);

/* ---- Vectors ------------------------------------------------------------- */

/* L2-normalises each row of x in place (rows of norm 0 stay 0). */
void lg_l2_normalize_rows(float *x /* (n, d) */, size_t n, size_t d);
/* Dot product of two d-vectors (the one scalar kernel; vectorised). */
float lg_dot(const float *a, const float *b, size_t d);

/* ---- k-nearest neighbours ------------------------------------------------ */

/* Rows up to which lg_knn_build uses the exact search (measured: see
 * docs/cluster.md). */
#define LG_KNN_EXACT_MAX_DEFAULT 4096

typedef struct {
    size_t n, k;
    int32_t *idx; /* (n, k) neighbour rows, nearest first; -1 = none */
    float *dist;  /* (n, k) cosine distances, ascending */
} lg_knn_graph;

/* Exact k-NN of the rows of x (L2-normalised, (n, d)). k <= n. Caller
 * frees out with lg_knn_graph_free. */
lg_err lg_knn_exact(const float *x, size_t n, size_t d, size_t k, lg_progress_fn progress,
                    void *puser, lg_knn_graph *out, lg_errmsg *err);
/* Approximate k-NN by NN-descent, started from a forest of angular
 * random-projection trees; deterministic for a seed. */
lg_err lg_knn_nndescent(const float *x, size_t n, size_t d, size_t k, uint64_t seed,
                        lg_progress_fn progress, void *puser, lg_knn_graph *out, lg_errmsg *err);
/* Exact when n <= exact_max, NN-descent otherwise. */
lg_err lg_knn_build(const float *x, size_t n, size_t d, size_t k, size_t exact_max, uint64_t seed,
                    lg_progress_fn progress, void *puser, lg_knn_graph *out, lg_errmsg *err);
void lg_knn_graph_free(lg_knn_graph *g);

/* ---- Fuzzy simplicial set -------------------------------------------------- */

/* A symmetric sparse matrix in CSR form. */
typedef struct {
    size_t n;       /* rows = columns */
    size_t *indptr; /* (n + 1) */
    int32_t *col;   /* (nnz) */
    float *val;     /* (nnz) */
} lg_csr;

void lg_csr_free(lg_csr *m);
static inline size_t lg_csr_nnz(const lg_csr *m) { return m->indptr ? m->indptr[m->n] : 0; }

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
/* Spectral start from the graph; x is used for the meta layout of several
 * components. Writes (n, 2) coordinates scaled into [-10, 10]. */
lg_err lg_umap_spectral_init(const lg_csr *graph, const float *x, size_t d, uint64_t seed,
                             float *out /* (n, 2) */, size_t *n_components,
                             size_t *random_rows, lg_errmsg *err);
/* SGD on the graph from the start in emb (overwritten). */
lg_err lg_umap_optimize(const lg_csr *graph, float *emb /* (n, 2) */, const lg_umap_params *p,
                        float a, float b, lg_progress_fn progress, void *puser, lg_errmsg *err);

/* ---- Small random generator shared by the modules ---------------------------- */

typedef struct {
    uint64_t s;
} lg_rng;
static inline void lg_rng_seed(lg_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }
static inline uint64_t lg_rng_next(lg_rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double lg_rng_unif(lg_rng *r) { return (double)(lg_rng_next(r) >> 11) * 0x1.0p-53; }
/* Uniform in [0, n). */
static inline size_t lg_rng_below(lg_rng *r, size_t n) { return (size_t)(lg_rng_unif(r) * (double)n); }

#ifdef __cplusplus
}
#endif
#endif
