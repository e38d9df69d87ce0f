/* knn.h - vectors and neighbour graphs for the clusterer and UMAP
 * (src/cluster/knn.c): row normalisation and the dot kernel, k-nearest
 * neighbours under cosine distance (exact or NN-descent), the symmetric
 * sparse graph (CSR) UMAP builds from them, and the small seeded random
 * generator these modules share. The bottom of src/cluster/: it uses only
 * logify/common.h. UMAP itself is in logify/umap.h. */
#ifndef LOGIFY_KNN_H
#define LOGIFY_KNN_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hot kernels are compiled twice on x86-64 with GCC, for AVX2+FMA
 * (LG_SIMD_HASWELL: the AVX2 and FMA instructions, so that a body marked
 * always_inline goes into both copies) and baseline, and their first call
 * picks one by the CPU (lg_simd_pick). Elsewhere, once. Not GCC's target_clones: its
 * resolvers pull libgcc's CPU probe, a constructor that ran 12 CPUIDs at
 * every start of every command (src/core/cpu.c). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define LG_SIMD_DISPATCH 1
#define LG_SIMD_HASWELL __attribute__((target("avx2,fma")))
#endif

/* 2 when the AVX2+FMA copy is to run, else 1; *sel (a static of the
 * kernel, 0 at first) keeps the answer: threads racing on the first call
 * store the same value. */
static inline int lg_simd_pick(int *sel) {
    int s = __atomic_load_n(sel, __ATOMIC_RELAXED);
    if (!s) {
        s = lg_cpu_has(LG_CPU_AVX2_FMA) ? 2 : 1;
        __atomic_store_n(sel, s, __ATOMIC_RELAXED);
    }
    return s;
}

/* Progress of a long phase: `done` of `total` units of `phase` ("knn",
 * "layout", ...). May be NULL wherever it is accepted. Returns 0 to go on;
 * non-zero stops the work: the function that called it frees what it
 * holds and returns LG_ECANCELED (how the console's cluster job is
 * canceled; it is called at least once per block, batch, iteration or
 * epoch of every long phase). */
typedef int (*lg_progress_fn)(void *user, const char *phase, size_t done, size_t total);

/* Calls progress (when set); LG_ECANCELED with "canceled" in err when it
 * says stop, else LG_OK. */
lg_err lg_progress_check(lg_progress_fn progress, void *puser, const char *phase, size_t done,
                         size_t total, lg_errmsg *err);

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

/* ---- Sparse symmetric graph ------------------------------------------------ */

/* A symmetric sparse matrix in CSR form. */
typedef struct {
    size_t n;       /* rows = columns */
    size_t *indptr; /* (n + 1) */
    int32_t *col;   /* (nnz) */
    float *val;     /* (nnz) */
} lg_csr;

void lg_csr_free(lg_csr *m);
static inline size_t lg_csr_nnz(const lg_csr *m) { return m->indptr ? m->indptr[m->n] : 0; }

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
