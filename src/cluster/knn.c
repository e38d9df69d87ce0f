/* knn.c - k-nearest neighbours under cosine distance for UMAP and the
 * clusterer: an exact search (one sgemm per block of rows, then a top-k
 * per row) and NN-descent (Dong et al. 2011, as in pynndescent) started
 * from a forest of angular random-projection trees.
 *
 * Rows are L2-normalised, so distance = 1 - dot. Both searches run on
 * one thread apart from OpenBLAS inside sgemm, and are deterministic.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/dynlib_blas.h"
#include "logify/knn.h"

/* ---- Vector kernels ------------------------------------------------------- */

typedef float v8f __attribute__((vector_size(32)));

/* Compiled twice (dot_haswell, dot_base; lg_dot picks by the CPU at its
 * first call): AVX2+FMA where the machine has it, SSE2 otherwise. */
static inline __attribute__((always_inline)) float dot_body(const float *a, const float *b, size_t d) {
    v8f acc0 = {0}, acc1 = {0};
    size_t i = 0;
    for (; i + 16 <= d; i += 16) {
        v8f x0, y0, x1, y1;
        memcpy(&x0, a + i, sizeof x0);
        memcpy(&y0, b + i, sizeof y0);
        memcpy(&x1, a + i + 8, sizeof x1);
        memcpy(&y1, b + i + 8, sizeof y1);
        acc0 += x0 * y0;
        acc1 += x1 * y1;
    }
    acc0 += acc1;
    float s = 0;
    for (int j = 0; j < 8; j++) s += acc0[j];
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}

#ifdef LG_SIMD_DISPATCH
LG_SIMD_HASWELL static float dot_haswell(const float *a, const float *b, size_t d) { return dot_body(a, b, d); }
#endif
static float dot_base(const float *a, const float *b, size_t d) { return dot_body(a, b, d); }

float lg_dot(const float *a, const float *b, size_t d) {
#ifdef LG_SIMD_DISPATCH
    static int sel;
    if (lg_simd_pick(&sel) == 2) return dot_haswell(a, b, d);
#endif
    return dot_base(a, b, d);
}

void lg_l2_normalize_rows(float *x, size_t n, size_t d) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * d;
        double s = 0;
        for (size_t j = 0; j < d; j++) s += (double)r[j] * r[j];
        if (s <= 0) continue;
        float inv = (float)(1.0 / sqrt(s));
        for (size_t j = 0; j < d; j++) r[j] *= inv;
    }
}

static inline float cos_dist(const float *x, size_t d, int32_t i, int32_t j) {
    float v = 1.0f - lg_dot(x + (size_t)i * d, x + (size_t)j * d, d);
    return v < 0 ? 0 : v;
}

lg_err lg_progress_check(lg_progress_fn progress, void *puser, const char *phase, size_t done,
                         size_t total, lg_errmsg *err) {
    if (!progress || !progress(puser, phase, done, total)) return LG_OK;
    return lg_fail(err, LG_ECANCELED, "%s: canceled", phase);
}

void lg_knn_graph_free(lg_knn_graph *g) {
    if (!g) return;
    free(g->idx);
    free(g->dist);
    memset(g, 0, sizeof *g);
}

static lg_err graph_alloc(lg_knn_graph *g, size_t n, size_t k, lg_errmsg *err) {
    memset(g, 0, sizeof *g);
    g->n = n;
    g->k = k;
    g->idx = malloc(n * k * sizeof *g->idx);
    g->dist = malloc(n * k * sizeof *g->dist);
    if (!g->idx || !g->dist) {
        lg_knn_graph_free(g);
        return lg_fail(err, LG_ENOMEM, "knn: out of memory for %zu x %zu neighbours", n, k);
    }
    return LG_OK;
}

/* ---- Bounded max-heap of (dist, idx): the k best so far -------------------- */
/* Layout per row: dist[k], idx[k], flag[k]; root (index 0) is the worst.
 * Ties on distance are broken by the lower index (kept as "better"). */

static inline int worse(float da, int32_t ia, float db, int32_t ib) {
    return da > db || (da == db && ia > ib);
}

static void heap_sift_down(float *dist, int32_t *idx, uint8_t *flag, size_t k, size_t pos) {
    for (;;) {
        size_t l = 2 * pos + 1, r = l + 1, m = pos;
        if (l < k && worse(dist[l], idx[l], dist[m], idx[m])) m = l;
        if (r < k && worse(dist[r], idx[r], dist[m], idx[m])) m = r;
        if (m == pos) return;
        float td = dist[m];
        dist[m] = dist[pos];
        dist[pos] = td;
        int32_t ti = idx[m];
        idx[m] = idx[pos];
        idx[pos] = ti;
        if (flag) {
            uint8_t tf = flag[m];
            flag[m] = flag[pos];
            flag[pos] = tf;
        }
        pos = m;
    }
}

/* Offers (d, j) to the heap; returns 1 when it entered. Skips duplicates. */
static int heap_push(float *dist, int32_t *idx, uint8_t *flag, size_t k, float d, int32_t j) {
    if (!worse(dist[0], idx[0], d, j)) return 0;
    for (size_t t = 0; t < k; t++)
        if (idx[t] == j) return 0;
    dist[0] = d;
    idx[0] = j;
    if (flag) flag[0] = 1;
    heap_sift_down(dist, idx, flag, k, 0);
    return 1;
}

/* Heap -> ascending order (heap sort in place). */
static void heap_sort(float *dist, int32_t *idx, size_t k) {
    for (size_t end = k; end > 1; end--) {
        float td = dist[0];
        dist[0] = dist[end - 1];
        dist[end - 1] = td;
        int32_t ti = idx[0];
        idx[0] = idx[end - 1];
        idx[end - 1] = ti;
        heap_sift_down(dist, idx, NULL, end - 1, 0);
    }
}

static void heap_init(float *dist, int32_t *idx, uint8_t *flag, size_t k) {
    for (size_t t = 0; t < k; t++) {
        dist[t] = INFINITY;
        idx[t] = INT32_MAX; /* "worse" than any real row on a tie */
        if (flag) flag[t] = 0;
    }
}

/* ---- Exact search ---------------------------------------------------------- */

lg_err lg_knn_exact(const float *x, size_t n, size_t d, size_t k, lg_progress_fn progress,
                    void *puser, lg_knn_graph *out, lg_errmsg *err) {
    if (k == 0 || k > n) return lg_fail(err, LG_EINVAL, "knn: k=%zu must be in 1..%zu", k, n);
    if (n > INT32_MAX) return lg_fail(err, LG_ELIMIT, "knn: too many rows (%zu)", n);
    lg_err e = lg_blas_load(err); /* OpenBLAS: loaded on first use */
    if (!e) e = graph_alloc(out, n, k, err);
    if (e) return e;
    const size_t block = 256;
    float *sim = malloc(block * n * sizeof *sim); /* (block, n) */
    if (!sim) {
        lg_knn_graph_free(out);
        return lg_fail(err, LG_ENOMEM, "knn: out of memory");
    }
    for (size_t r0 = 0; r0 < n; r0 += block) {
        size_t rb = n - r0 < block ? n - r0 : block;
        lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rb, (int)n, (int)d,
                               1.0f, x + r0 * d, (int)d, x, (int)d, 0.0f, sim, (int)n);
        for (size_t r = 0; r < rb; r++) {
            size_t i = r0 + r;
            float *hd = out->dist + i * k;
            int32_t *hi = out->idx + i * k;
            heap_init(hd, hi, NULL, k);
            const float *s = sim + r * n;
            for (size_t j = 0; j < n; j++) {
                float dj = j == i ? 0.0f : 1.0f - s[j];
                if (dj < 0) dj = 0;
                if (dj < hd[0] || (dj == hd[0] && (int32_t)j < hi[0])) {
                    hd[0] = dj;
                    hi[0] = (int32_t)j;
                    heap_sift_down(hd, hi, NULL, k, 0);
                }
            }
            heap_sort(hd, hi, k);
        }
        if ((e = lg_progress_check(progress, puser, "knn", r0 + rb, n, err))) {
            lg_knn_graph_free(out);
            break;
        }
    }
    free(sim);
    return e;
}

/* ---- Random-projection forest (angular) ------------------------------------ */

typedef struct {
    const float *x;
    size_t d;
    lg_rng *rng;
    float *hyper; /* (d) scratch */
    float *side;  /* (n) scratch: projection of each row */
    size_t leaf_size;
    /* leaves are reported to this callback as index ranges of perm */
    void (*leaf)(void *u, const int32_t *rows, size_t m);
    void *leaf_user;
} rp_ctx;

/* Splits rows[0..m) recursively (explicit stack avoided: depth is
 * logarithmic for any useful split, and degenerate splits fall back to a
 * random halving, so the depth stays bounded by log2 n + a few). */
static void rp_split(rp_ctx *c, int32_t *rows, size_t m, int depth) {
    if (m <= c->leaf_size || depth > 200) {
        c->leaf(c->leaf_user, rows, m);
        return;
    }
    size_t d = c->d;
    size_t a = lg_rng_below(c->rng, m), b = lg_rng_below(c->rng, m - 1);
    if (b >= a) b++;
    const float *xa = c->x + (size_t)rows[a] * d, *xb = c->x + (size_t)rows[b] * d;
    for (size_t t = 0; t < d; t++) c->hyper[t] = xa[t] - xb[t];
    size_t left = 0;
    /* partition: rows with positive side first */
    size_t lo = 0, hi = m;
    while (lo < hi) {
        float s = lg_dot(c->hyper, c->x + (size_t)rows[lo] * d, d);
        int go_left = s > 0 || (s == 0 && (lg_rng_next(c->rng) & 1));
        if (go_left) {
            lo++;
        } else {
            hi--;
            int32_t t = rows[lo];
            rows[lo] = rows[hi];
            rows[hi] = t;
        }
    }
    left = lo;
    if (left == 0 || left == m) { /* degenerate (duplicates): random halves */
        for (size_t t = m - 1; t > 0; t--) {
            size_t u = lg_rng_below(c->rng, t + 1);
            int32_t tmp = rows[t];
            rows[t] = rows[u];
            rows[u] = tmp;
        }
        left = m / 2;
    }
    rp_split(c, rows, left, depth + 1);
    rp_split(c, rows + left, m - left, depth + 1);
}

/* ---- NN-descent ------------------------------------------------------------- */

typedef struct {
    const float *x;
    size_t d, k;
    float *dist;   /* (n, k) heaps */
    int32_t *idx;  /* (n, k) */
    uint8_t *flag; /* (n, k) 1 = new */
} nnd_state;

static void leaf_all_pairs(void *u, const int32_t *rows, size_t m) {
    nnd_state *s = u;
    for (size_t a = 0; a < m; a++)
        for (size_t b = a + 1; b < m; b++) {
            int32_t i = rows[a], j = rows[b];
            float dd = cos_dist(s->x, s->d, i, j);
            heap_push(s->dist + (size_t)i * s->k, s->idx + (size_t)i * s->k,
                      s->flag + (size_t)i * s->k, s->k, dd, j);
            heap_push(s->dist + (size_t)j * s->k, s->idx + (size_t)j * s->k,
                      s->flag + (size_t)j * s->k, s->k, dd, i);
        }
}

/* Candidate lists with reservoir sampling: cand[(i, max_c)], count[i]. */
static void cand_add(int32_t *cand, uint32_t *count, size_t max_c, int32_t i, int32_t v,
                     lg_rng *rng) {
    int32_t *c = cand + (size_t)i * max_c;
    uint32_t seen = count[i]++;
    if (seen < max_c) {
        c[seen] = v;
    } else {
        size_t r = lg_rng_below(rng, (size_t)seen + 1);
        if (r < max_c) c[r] = v;
    }
}

lg_err lg_knn_nndescent(const float *x, size_t n, size_t d, size_t k, uint64_t seed,
                        lg_progress_fn progress, void *puser, lg_knn_graph *out, lg_errmsg *err) {
    if (k == 0 || k > n) return lg_fail(err, LG_EINVAL, "knn: k=%zu must be in 1..%zu", k, n);
    if (n > INT32_MAX) return lg_fail(err, LG_ELIMIT, "knn: too many rows (%zu)", n);
    lg_err e = graph_alloc(out, n, k, err);
    if (e) return e;
    const size_t max_c = k;
    uint8_t *flag = malloc(n * k);
    int32_t *rows = malloc(n * sizeof *rows);
    float *hyper = malloc(d * sizeof *hyper);
    int32_t *newc = malloc(n * max_c * sizeof *newc), *oldc = malloc(n * max_c * sizeof *oldc);
    uint32_t *nnew = malloc(n * sizeof *nnew), *nold = malloc(n * sizeof *nold);
    if (!flag || !rows || !hyper || !newc || !oldc || !nnew || !nold) {
        e = lg_fail(err, LG_ENOMEM, "knn: out of memory");
        goto done;
    }
    lg_rng rng;
    lg_rng_seed(&rng, seed);
    nnd_state st = {x, d, k, out->dist, out->idx, flag};
    for (size_t i = 0; i < n; i++) {
        heap_init(out->dist + i * k, out->idx + i * k, flag + i * k, k);
        /* the point itself first, as umap-learn's graphs have it */
        heap_push(out->dist + i * k, out->idx + i * k, flag + i * k, k, 0.0f, (int32_t)i);
    }

    /* start: leaves of a small forest of angular RP trees */
    size_t n_trees = 4 + (size_t)lround(pow((double)n, 0.25) / 2);
    if (n_trees > 12) n_trees = 12;
    rp_ctx rc = {x, d, &rng, hyper, NULL, k > 10 ? 2 * k : 20, leaf_all_pairs, &st};
    for (size_t t = 0; t < n_trees; t++) {
        for (size_t i = 0; i < n; i++) rows[i] = (int32_t)i;
        rp_split(&rc, rows, n, 0);
        if ((e = lg_progress_check(progress, puser, "knn", 0, 10, err))) goto done; /* a stop */
    }
    /* fill any row still short of k with random rows */
    for (size_t i = 0; i < n; i++) {
        size_t tries = 0;
        while (out->idx[i * k] == INT32_MAX && tries++ < 4 * k) {
            int32_t j = (int32_t)lg_rng_below(&rng, n);
            heap_push(out->dist + i * k, out->idx + i * k, flag + i * k, k,
                      cos_dist(x, d, (int32_t)i, j), j);
        }
    }

    size_t max_iter = 10;
    for (size_t it = 0; it < max_iter; it++) {
        memset(nnew, 0, n * sizeof *nnew);
        memset(nold, 0, n * sizeof *nold);
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < k; t++) {
                int32_t j = out->idx[i * k + t];
                if (j == INT32_MAX || j == (int32_t)i) continue;
                if (flag[i * k + t]) {
                    cand_add(newc, nnew, max_c, (int32_t)i, j, &rng);
                    cand_add(newc, nnew, max_c, j, (int32_t)i, &rng);
                } else {
                    cand_add(oldc, nold, max_c, (int32_t)i, j, &rng);
                    cand_add(oldc, nold, max_c, j, (int32_t)i, &rng);
                }
            }
        /* entries sampled as new candidates become old */
        for (size_t i = 0; i < n; i++) {
            size_t cn = nnew[i] < max_c ? nnew[i] : max_c;
            for (size_t t = 0; t < k; t++) {
                if (!flag[i * k + t]) continue;
                for (size_t c = 0; c < cn; c++)
                    if (newc[i * max_c + c] == out->idx[i * k + t]) {
                        flag[i * k + t] = 0;
                        break;
                    }
            }
        }
        size_t updates = 0;
        for (size_t i = 0; i < n; i++) {
            /* an iteration is long: a stop is looked for every 1,024 rows */
            if ((i & 1023) == 1023 && (e = lg_progress_check(progress, puser, "knn", it, max_iter, err)))
                goto done;
            size_t cn = nnew[i] < max_c ? nnew[i] : max_c;
            size_t co = nold[i] < max_c ? nold[i] : max_c;
            const int32_t *nc = newc + i * max_c, *oc = oldc + i * max_c;
            for (size_t a = 0; a < cn; a++) {
                int32_t p = nc[a];
                for (size_t b = a + 1; b < cn + co; b++) {
                    int32_t q = b < cn ? nc[b] : oc[b - cn];
                    if (p == q) continue;
                    float dd = cos_dist(x, d, p, q);
                    updates += (size_t)heap_push(out->dist + (size_t)p * k, out->idx + (size_t)p * k,
                                                 flag + (size_t)p * k, k, dd, q);
                    updates += (size_t)heap_push(out->dist + (size_t)q * k, out->idx + (size_t)q * k,
                                                 flag + (size_t)q * k, k, dd, p);
                }
            }
        }
        if ((e = lg_progress_check(progress, puser, "knn", it + 1, max_iter, err))) goto done;
        if ((double)updates <= 0.001 * (double)k * (double)n) break;
    }
    if ((e = lg_progress_check(progress, puser, "knn", max_iter, max_iter, err))) goto done;
    for (size_t i = 0; i < n; i++) {
        heap_sort(out->dist + i * k, out->idx + i * k, k);
        for (size_t t = 0; t < k; t++)
            if (out->idx[i * k + t] == INT32_MAX) out->idx[i * k + t] = -1;
    }
done:
    free(flag);
    free(rows);
    free(hyper);
    free(newc);
    free(oldc);
    free(nnew);
    free(nold);
    if (e) lg_knn_graph_free(out);
    return e;
}

lg_err lg_knn_build(const float *x, size_t n, size_t d, size_t k, size_t exact_max, uint64_t seed,
                    lg_progress_fn progress, void *puser, lg_knn_graph *out, lg_errmsg *err) {
    if (n <= exact_max) return lg_knn_exact(x, n, d, k, progress, puser, out, err);
    return lg_knn_nndescent(x, n, d, k, seed, progress, puser, out, err);
}

/* ---- Sparse symmetric graph ------------------------------------------------------ */

void lg_csr_free(lg_csr *m) {
    if (!m) return;
    free(m->indptr);
    free(m->col);
    free(m->val);
    memset(m, 0, sizeof *m);
}
