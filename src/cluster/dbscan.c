/* dbscan.c - DBSCAN under cosine distance and the cosine silhouette score,
 * both on L2-normalised rows and both built on blocks of one sgemm
 * (similarities of a block of rows against all rows), so that memory stays
 * O(n + block * n) whatever the density of the data.
 *
 * Both take weights: row i stands for weight[i] identical points (the
 * distinct vectors of src/cluster/cluster_dedup.c), which makes them exactly the
 * DBSCAN and silhouette of all the rows at the cost of the distinct ones.
 * The unweighted functions are the weighted ones with weights 1.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/dynlib_blas.h"
#include "logify/cluster.h"

#define BLOCK 256
#define SIM_TOL 1e-5f

/* sim (rb, n) = x[r0 .. r0+rb) . x^T */
static void sim_block(const float *x, size_t n, size_t d, size_t r0, size_t rb, float *sim) {
    lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rb, (int)n, (int)d, 1.0f,
                           x + r0 * d, (int)d, x, (int)d, 0.0f, sim, (int)n);
}

static size_t uf_find(size_t *parent, size_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void uf_union(size_t *parent, size_t a, size_t b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b) parent[a > b ? a : b] = a < b ? a : b; /* root = lowest row */
}

/* ---- DBSCAN ----------------------------------------------------------------- */

lg_err lg_dbscan(const float *x, size_t n, size_t d, float eps, size_t min_samples,
                 lg_progress_fn progress, void *puser, int32_t *labels, size_t *n_clusters,
                 lg_errmsg *err) {
    return lg_dbscan_weighted(x, n, d, NULL, eps, min_samples, progress, puser, labels, n_clusters,
                              err);
}

/* Identical points are within any eps >= 0 of each other: copies of a
 * point count toward its neighbourhood (weight[i], itself included), share
 * its core status, and since the first occurrence of a vector comes before
 * its copies, "first core neighbour" and "first core row" of the expanded
 * rows are the same vectors in first-occurrence order. */
lg_err lg_dbscan_weighted(const float *x, size_t n, size_t d, const size_t *weight, float eps,
                          size_t min_samples, lg_progress_fn progress, void *puser,
                          int32_t *labels, size_t *n_clusters, lg_errmsg *err) {
    *n_clusters = 0;
    if (n == 0) return LG_OK;
    lg_err eb = lg_blas_load(err); /* OpenBLAS: loaded on first use */
    if (eb) return eb;
    if (!(eps >= 0) || min_samples < 1)
        return lg_fail(err, LG_EINVAL, "dbscan: eps must be >= 0 and min_samples >= 1");
    if (n > INT32_MAX) return lg_fail(err, LG_ELIMIT, "dbscan: too many rows (%zu)", n);
    size_t block = n < BLOCK ? n : BLOCK;
    float *sim = malloc(block * n * sizeof *sim);
    uint8_t *core = calloc(n, 1);
    size_t *parent = malloc(n * sizeof *parent), *border = malloc(n * sizeof *border);
    size_t *cnt = calloc(n, sizeof *cnt);
    if (!sim || !core || !parent || !border || !cnt) {
        free(sim), free(core), free(parent), free(border), free(cnt);
        return lg_fail(err, LG_ENOMEM, "dbscan: out of memory for %zu rows", n);
    }
    /* dist <= eps  <=>  sim >= 1 - eps; a unit row's dot with itself is 1
     * only up to float rounding, so similarities within SIM_TOL of 1 count
     * as distance 0: identical rows are always neighbours, as in exact
     * arithmetic (and as the weighted rows' copies are) */
    const float smin = 1.0f - eps < 1.0f - SIM_TOL ? 1.0f - eps : 1.0f - SIM_TOL;
    size_t passes = min_samples > 1 ? 2 : 1, steps = passes * ((n + block - 1) / block), step = 0;
    if (min_samples > 1) { /* pass 1: neighbour counts, self included */
        for (size_t r0 = 0; r0 < n; r0 += block) {
            size_t rb = n - r0 < block ? n - r0 : block;
            sim_block(x, n, d, r0, rb, sim);
            for (size_t r = 0; r < rb; r++) {
                const float *s = sim + r * n;
                size_t c = 0;
                if (weight) {
                    for (size_t j = 0; j < n; j++)
                        if ((j == r0 + r) || s[j] >= smin) c += weight[j];
                } else {
                    for (size_t j = 0; j < n; j++) c += (j == r0 + r) || s[j] >= smin;
                }
                cnt[r0 + r] = c;
            }
            if (lg_progress_check(progress, puser, "dbscan", ++step, steps, err)) goto canceled;
        }
        for (size_t i = 0; i < n; i++) core[i] = cnt[i] >= min_samples;
    } else {
        memset(core, 1, n);
    }
    /* pass 2: join core points within eps; border -> lowest core neighbour */
    for (size_t i = 0; i < n; i++) {
        parent[i] = i;
        border[i] = SIZE_MAX;
    }
    for (size_t r0 = 0; r0 < n; r0 += block) {
        size_t rb = n - r0 < block ? n - r0 : block;
        sim_block(x, n, d, r0, rb, sim);
        for (size_t r = 0; r < rb; r++) {
            size_t i = r0 + r;
            const float *s = sim + r * n;
            if (core[i]) {
                for (size_t j = i + 1; j < n; j++)
                    if (core[j] && s[j] >= smin) uf_union(parent, i, j);
            } else {
                for (size_t j = 0; j < n; j++)
                    if (j != i && core[j] && s[j] >= smin) {
                        border[i] = j;
                        break;
                    }
            }
        }
        if (lg_progress_check(progress, puser, "dbscan", ++step, steps, err)) goto canceled;
    }
    /* number clusters by their first core row */
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) cnt[i] = SIZE_MAX; /* reused: root -> id */
    for (size_t i = 0; i < n; i++) {
        if (!core[i]) continue;
        size_t r = uf_find(parent, i);
        if (cnt[r] == SIZE_MAX) cnt[r] = nc++;
        labels[i] = (int32_t)cnt[r];
    }
    for (size_t i = 0; i < n; i++)
        if (!core[i]) labels[i] = border[i] == SIZE_MAX ? LG_NOISE : labels[border[i]];
    *n_clusters = nc;
    free(sim), free(core), free(parent), free(border), free(cnt);
    return LG_OK;
canceled:
    free(sim), free(core), free(parent), free(border), free(cnt);
    return LG_ECANCELED;
}

/* ---- Silhouette ----------------------------------------------------------------- */

lg_err lg_silhouette_cosine(const float *x, size_t n, size_t d, const int32_t *labels,
                            size_t n_clusters, size_t max_cells, uint64_t seed, double *score,
                            lg_errmsg *err) {
    return lg_silhouette_cosine_weighted(x, n, d, NULL, labels, n_clusters, max_cells, seed, score,
                                         err);
}

/* For row i (weight w_i, cluster c_i) and each cluster c: sums[c] =
 * sum over the other rows j of w_j dist(i, j). The w_i - 1 copies of i sit
 * at distance 0: they add nothing to sums[c_i] but count in its size, so
 * a(i) = sums[c_i] / (size[c_i] - 1) with size in points. */
lg_err lg_silhouette_cosine_weighted(const float *x, size_t n, size_t d, const size_t *weight,
                                     const int32_t *labels, size_t n_clusters, size_t max_cells,
                                     uint64_t seed, double *score, lg_errmsg *err) {
    *score = NAN;
    size_t m = 0, points = 0; /* non-noise rows; the points they stand for */
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0) m++, points += weight ? weight[i] : 1;
    if (n_clusters < 2 || n_clusters >= points) return LG_OK;
    lg_err eb = lg_blas_load(err); /* OpenBLAS: loaded on first use */
    if (eb) return eb;
    size_t *size = calloc(n_clusters, sizeof *size); /* points per cluster */
    size_t *pick = malloc(m * sizeof *pick);
    if (!size || !pick) {
        free(size), free(pick);
        return lg_fail(err, LG_ENOMEM, "silhouette: out of memory");
    }
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= 0) {
            size[labels[i]] += weight ? weight[i] : 1;
            pick[np++] = i;
        }
    if (max_cells && np * n_clusters > max_cells) { /* seeded sample of rows */
        lg_rng rng;
        lg_rng_seed(&rng, seed);
        size_t want = max_cells / n_clusters;
        if (want < 1) want = 1;
        for (size_t t = 0; t < want; t++) {
            size_t u = t + lg_rng_below(&rng, np - t);
            size_t tmp = pick[t];
            pick[t] = pick[u];
            pick[u] = tmp;
        }
        np = want;
    }
    size_t block = np < BLOCK ? np : BLOCK;
    float *sim = malloc(block * n * sizeof *sim), *xb = malloc(block * d * sizeof *xb);
    double *sums = malloc(n_clusters * sizeof *sums);
    if (!sim || !xb || !sums) {
        free(size), free(pick), free(sim), free(xb), free(sums);
        return lg_fail(err, LG_ENOMEM, "silhouette: out of memory");
    }
    double total = 0, scored = 0; /* sum of w_i s(i); sum of w_i */
    for (size_t p0 = 0; p0 < np; p0 += block) {
        size_t rb = np - p0 < block ? np - p0 : block;
        for (size_t r = 0; r < rb; r++) memcpy(xb + r * d, x + pick[p0 + r] * d, d * sizeof *xb);
        lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rb, (int)n, (int)d,
                               1.0f, xb, (int)d, x, (int)d, 0.0f, sim, (int)n);
        for (size_t r = 0; r < rb; r++) {
            size_t i = pick[p0 + r];
            int32_t li = labels[i];
            double wi = weight ? (double)weight[i] : 1.0;
            scored += wi;
            memset(sums, 0, n_clusters * sizeof *sums);
            const float *s = sim + r * n;
            for (size_t j = 0; j < n; j++) {
                if (labels[j] < 0 || j == i) continue;
                double dist = 1.0 - (double)s[j];
                if (dist < 0) dist = 0;
                sums[labels[j]] += weight ? dist * (double)weight[j] : dist;
            }
            if (size[li] <= 1) continue; /* a point alone in its cluster scores 0 */
            double a = sums[li] / (double)(size[li] - 1), b = INFINITY;
            for (size_t c = 0; c < n_clusters; c++)
                if ((int32_t)c != li && size[c] > 0) {
                    double v = sums[c] / (double)size[c];
                    if (v < b) b = v;
                }
            double den = a > b ? a : b;
            total += wi * (den > 0 ? (b - a) / den : 0);
        }
    }
    *score = total / scored;
    free(size), free(pick), free(sim), free(xb), free(sums);
    return LG_OK;
}
