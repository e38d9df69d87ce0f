/* umap.c - UMAP to 2-D: the fuzzy simplicial set built from a k-NN graph,
 * the curve parameters a, b, the SGD layout with negative sampling, and
 * lg_umap_fit which runs the whole pipeline (kNN in src/cluster/knn.c, spectral
 * start in src/cluster/umap_spectral.c). Follows umap-learn 0.5 step by step; the
 * places where it differs are named in docs/cluster.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/umap.h"
#include "cluster/umap_spectral.h"

void lg_umap_params_default(lg_umap_params *p) {
    memset(p, 0, sizeof *p);
    p->n_neighbors = 15;
    p->min_dist = 0.1f;
    p->spread = 1.0f;
    p->n_epochs = 0;
    p->learning_rate = 1.0f;
    p->repulsion = 1.0f;
    p->negative_sample_rate = 5;
    p->seed = 42;
    p->exact_max = LG_KNN_EXACT_MAX_DEFAULT;
    p->random_init = 0;
}

/* ---- Smooth k-NN distances -------------------------------------------------- */

#define SMOOTH_K_TOLERANCE 1e-5
#define MIN_K_DIST_SCALE 1e-3

void lg_smooth_knn_dist(const lg_knn_graph *g, float *sigma, float *rho) {
    size_t n = g->n, k = g->k;
    double target = log2((double)k);
    double mean_all = 0;
    for (size_t i = 0; i < n * k; i++) mean_all += g->dist[i];
    mean_all /= (double)(n * k);
    for (size_t i = 0; i < n; i++) {
        const float *di = g->dist + i * k;
        double r = 0, mean_i = 0;
        for (size_t j = 0; j < k; j++) mean_i += di[j];
        mean_i /= (double)k;
        /* local_connectivity = 1: the first distance > 0 */
        for (size_t j = 0; j < k; j++)
            if (di[j] > 0) {
                r = di[j];
                break;
            }
        double lo = 0, hi = INFINITY, mid = 1.0;
        for (int it = 0; it < 64; it++) {
            double psum = 0;
            for (size_t j = 1; j < k; j++) {
                double dd = (double)di[j] - r;
                psum += dd > 0 ? exp(-(dd / mid)) : 1.0;
            }
            if (fabs(psum - target) < SMOOTH_K_TOLERANCE) break;
            if (psum > target) {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = isinf(hi) ? mid * 2 : (lo + hi) / 2.0;
            }
        }
        double floor_v = MIN_K_DIST_SCALE * (r > 0 ? mean_i : mean_all);
        if (mid < floor_v) mid = floor_v;
        sigma[i] = (float)mid;
        rho[i] = (float)r;
    }
}

/* ---- Fuzzy simplicial set ---------------------------------------------------- */

typedef struct {
    int32_t col;
    float w;   /* membership i -> col */
    int dir;   /* 0: i's own k-NN edge, 1: the reverse of col's edge */
} half_edge;

static int half_edge_cmp(const void *a, const void *b) {
    const half_edge *x = a, *y = b;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return x->dir - y->dir;
}

lg_err lg_fuzzy_simplicial_set(const lg_knn_graph *g, lg_csr *out, lg_errmsg *err) {
    size_t n = g->n, k = g->k;
    memset(out, 0, sizeof *out);
    float *sigma = malloc(n * sizeof *sigma), *rho = malloc(n * sizeof *rho);
    size_t *cnt = calloc(n + 1, sizeof *cnt), *fill = calloc(n, sizeof *fill);
    half_edge *he = malloc(2 * n * k * sizeof *he);
    lg_err e = LG_OK;
    if (!sigma || !rho || !cnt || !fill || !he) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the graph");
        goto done;
    }
    lg_smooth_knn_dist(g, sigma, rho);
    /* directed memberships, bucketed by both endpoints */
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) {
            int32_t j = g->idx[i * k + t];
            if (j < 0 || (size_t)j == i) continue;
            cnt[i + 1]++;
            cnt[(size_t)j + 1]++;
        }
    for (size_t i = 0; i < n; i++) cnt[i + 1] += cnt[i];
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < k; t++) {
            int32_t j = g->idx[i * k + t];
            if (j < 0 || (size_t)j == i) continue;
            float dd = g->dist[i * k + t] - rho[i];
            float w = (dd <= 0 || sigma[i] == 0) ? 1.0f : expf(-(dd / sigma[i]));
            he[cnt[i] + fill[i]++] = (half_edge){j, w, 0};
            he[cnt[j] + fill[j]++] = (half_edge){(int32_t)i, w, 1};
        }
    out->n = n;
    out->indptr = calloc(n + 1, sizeof *out->indptr);
    out->col = malloc((cnt[n] ? cnt[n] : 1) * sizeof *out->col);
    out->val = malloc((cnt[n] ? cnt[n] : 1) * sizeof *out->val);
    if (!out->indptr || !out->col || !out->val) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the graph");
        goto done;
    }
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) {
        half_edge *r = he + cnt[i];
        size_t m = cnt[i + 1] - cnt[i];
        qsort(r, m, sizeof *r, half_edge_cmp);
        for (size_t t = 0; t < m;) {
            int32_t c = r[t].col;
            float a = 0, b = 0;
            for (; t < m && r[t].col == c; t++) {
                if (r[t].dir == 0) a = r[t].w;
                else b = r[t].w;
            }
            float w = a + b - a * b;
            if (w > 0) {
                out->col[nnz] = c;
                out->val[nnz] = w;
                nnz++;
            }
        }
        out->indptr[i + 1] = nnz;
    }
done:
    free(sigma);
    free(rho);
    free(cnt);
    free(fill);
    free(he);
    if (e) lg_csr_free(out);
    return e;
}

/* ---- a, b from min_dist and spread ------------------------------------------ */

void lg_umap_find_ab(float spread, float min_dist, float *a_out, float *b_out) {
    enum { NPTS = 300 };
    double xv[NPTS], yv[NPTS];
    for (int i = 0; i < NPTS; i++) {
        xv[i] = 3.0 * spread * i / (NPTS - 1);
        yv[i] = xv[i] < min_dist ? 1.0 : exp(-(xv[i] - min_dist) / spread);
    }
    /* Levenberg-Marquardt from (1, 1), as scipy's curve_fit */
    double a = 1, b = 1, lambda = 1e-3;
    double cost = 0;
    for (int i = 0; i < NPTS; i++) {
        double u = xv[i] > 0 ? pow(xv[i], 2 * b) : 0, r = 1 / (1 + a * u) - yv[i];
        cost += r * r;
    }
    for (int it = 0; it < 500; it++) {
        double jtj[2][2] = {{0, 0}, {0, 0}}, jtr[2] = {0, 0};
        for (int i = 0; i < NPTS; i++) {
            double x = xv[i];
            double u = x > 0 ? pow(x, 2 * b) : 0, f = 1 / (1 + a * u);
            double r = f - yv[i];
            double da = -u * f * f, db = x > 0 ? -a * u * 2 * log(x) * f * f : 0;
            jtj[0][0] += da * da;
            jtj[0][1] += da * db;
            jtj[1][1] += db * db;
            jtr[0] += da * r;
            jtr[1] += db * r;
        }
        int improved = 0;
        for (int tries = 0; tries < 30 && !improved; tries++) {
            double m00 = jtj[0][0] * (1 + lambda), m11 = jtj[1][1] * (1 + lambda), m01 = jtj[0][1];
            double det = m00 * m11 - m01 * m01;
            if (det == 0) break;
            double sa = -(m11 * jtr[0] - m01 * jtr[1]) / det;
            double sb = -(m00 * jtr[1] - m01 * jtr[0]) / det;
            double na = a + sa, nb = b + sb, nc = 0;
            for (int i = 0; i < NPTS; i++) {
                double u = xv[i] > 0 ? pow(xv[i], 2 * nb) : 0, r = 1 / (1 + na * u) - yv[i];
                nc += r * r;
            }
            if (isfinite(nc) && nc <= cost) {
                double rel = (cost - nc) / (cost > 0 ? cost : 1);
                a = na;
                b = nb;
                cost = nc;
                lambda *= 0.3;
                improved = 1;
                if (rel < 1e-15) it = 500;
            } else {
                lambda *= 10;
            }
        }
        if (!improved) break;
    }
    *a_out = (float)a;
    *b_out = (float)b;
}

/* ---- SGD layout ---------------------------------------------------------------- */

/* x^y for x > 0 through exp2(y log2 x) with short polynomials (relative error
 * ~1e-5 from least-squares fits of degree 6 and 5, plenty for a stochastic gradient; 3x cheaper than powf). */
static inline float fast_log2(float x) {
    union { float f; uint32_t i; } v = {x};
    float e = (float)((int32_t)((v.i >> 23) & 255) - 127);
    v.i = (v.i & 0x007FFFFF) | 0x3F800000; /* mantissa in [1, 2) */
    float m = v.f;
    /* log2(m) on [1,2): minimax-style cubic in (m - 1) */
    float t = m - 1.0f;
    float p = t * (1.44251687f + t * (-0.71789590f + t * (0.45688178f + t * (-0.27733778f + t * (0.12188688f - t * 0.02605618f)))));
    return e + p;
}

static inline float fast_exp2(float y) {
    if (y < -126.0f) return 0.0f;
    if (y > 126.0f) y = 126.0f;
    float fi = floorf(y), f = y - fi;
    /* 2^f on [0,1) */
    float p = 0.99999977f + f * (0.69315676f + f * (0.24013177f + f * (0.05587644f + f * (0.00894063f + f * 0.00189439f))));
    union { uint32_t i; float f; } v = {(uint32_t)((int32_t)fi + 127) << 23};
    return p * v.f;
}

static inline float fast_pow(float x, float y) { return fast_exp2(y * fast_log2(x)); }

static inline float clip4(float v) { return v > 4.0f ? 4.0f : (v < -4.0f ? -4.0f : v); }

/* The same on 4 lanes (GCC vector extensions; SSE2 at -O2). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f v_bits_f(v4i i) {
    v4f f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline v4i v_bits_i(v4f f) {
    v4i i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* mask ? a : b, mask lanes all-ones or zero */
static inline v4f v_sel(v4i mask, v4f a, v4f b) {
    return v_bits_f((v_bits_i(a) & mask) | (v_bits_i(b) & ~mask));
}

static inline v4f v_clip4(v4f v) {
    const v4f hi = {4, 4, 4, 4}, lo = {-4, -4, -4, -4};
    v = v_sel(v > hi, hi, v);
    return v_sel(v < lo, lo, v);
}

/* x^y for x >= 0 lanes (x = 0 gives ~0). */
static inline v4f v_fast_pow(v4f x, float y) {
    v4i i = v_bits_i(x);
    v4f e = __builtin_convertvector(((i >> 23) & 255) - 127, v4f);
    v4f t = v_bits_f((i & 0x007FFFFF) | 0x3F800000) - 1.0f;
    v4f l = e + t * (1.44251687f + t * (-0.71789590f + t * (0.45688178f + t * (-0.27733778f + t * (0.12188688f - t * 0.02605618f)))));
    v4f z = y * l;
    const v4f zmin = {-126, -126, -126, -126}, zmax = {126, 126, 126, 126};
    z = v_sel(z < zmin, zmin, z);
    z = v_sel(z > zmax, zmax, z);
    v4i zi = __builtin_convertvector(z, v4i); /* toward zero */
    v4f fi = __builtin_convertvector(zi, v4f);
    zi += (fi > z);                            /* floor for negatives */
    fi = __builtin_convertvector(zi, v4f);
    v4f f = z - fi;
    v4f p = 0.99999977f + f * (0.69315676f + f * (0.24013177f + f * (0.05587644f + f * (0.00894063f + f * 0.00189439f))));
    return p * v_bits_f((zi + 127) << 23);
}

/* Compiled for AVX2+FMA and for plain x86-64 (optimize_haswell,
 * optimize_base), chosen by the CPU at the first call (the two can round
 * differently: a layout is reproducible on one machine). */
static inline __attribute__((always_inline)) lg_err
optimize_body(const lg_csr *graph, float *emb, const lg_umap_params *p, float a, float b, lg_progress_fn progress,
              void *puser, lg_errmsg *err) {
    size_t n = graph->n, nnz = lg_csr_nnz(graph);
    int n_epochs = p->n_epochs > 0 ? p->n_epochs : (n <= 10000 ? 500 : 200);
    float wmax = 0;
    for (size_t t = 0; t < nnz; t++)
        if (graph->val[t] > wmax) wmax = graph->val[t];
    /* edges kept: weight >= max / n_epochs (umap-learn drops the rest) */
    size_t m = 0;
    for (size_t t = 0; t < nnz; t++)
        if (graph->val[t] >= wmax / (float)n_epochs) m++;
    int32_t *head = malloc((m ? m : 1) * sizeof *head), *tail = malloc((m ? m : 1) * sizeof *tail);
    float *eps = malloc((m ? m : 1) * sizeof *eps), *next = malloc((m ? m : 1) * sizeof *next);
    float *epn = malloc((m ? m : 1) * sizeof *epn), *nextn = malloc((m ? m : 1) * sizeof *nextn);
    if (!head || !tail || !eps || !next || !epn || !nextn) {
        free(head), free(tail), free(eps), free(next), free(epn), free(nextn);
        return lg_fail(err, LG_ENOMEM, "umap: out of memory for the layout");
    }
    size_t e_i = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t t = graph->indptr[i]; t < graph->indptr[i + 1]; t++) {
            float w = graph->val[t];
            if (w < wmax / (float)n_epochs) continue;
            head[e_i] = (int32_t)i;
            tail[e_i] = graph->col[t];
            float n_samples = (float)n_epochs * (w / wmax);
            eps[e_i] = n_samples > 0 ? (float)n_epochs / n_samples : -1.0f;
            next[e_i] = eps[e_i];
            epn[e_i] = eps[e_i] / (float)p->negative_sample_rate;
            nextn[e_i] = epn[e_i];
            e_i++;
        }
    /* start scaled into [0, 10] per axis */
    for (int dim = 0; dim < 2; dim++) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            float v = emb[2 * i + (size_t)dim];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        float span = hi - lo > 0 ? hi - lo : 1;
        for (size_t i = 0; i < n; i++) emb[2 * i + (size_t)dim] = 10.0f * (emb[2 * i + (size_t)dim] - lo) / span;
    }
    lg_rng rng;
    lg_rng_seed(&rng, p->seed ^ 0x5EEDull);
    const float gamma = p->repulsion;
    float alpha = p->learning_rate;
    for (int ep = 0; ep < n_epochs; ep++) {
        float fe = (float)ep;
        for (size_t t = 0; t < m; t++) {
            if (next[t] > fe) continue;
            float *cur = emb + 2 * (size_t)head[t];
            float *oth = emb + 2 * (size_t)tail[t];
            float dx = cur[0] - oth[0], dy = cur[1] - oth[1];
            float d2 = dx * dx + dy * dy;
            float gc = 0;
            if (d2 > 0) {
                float pb = fast_pow(d2, b);
                gc = -2.0f * a * b * (pb / d2) / (a * pb + 1.0f);
            }
            float gx = clip4(gc * dx), gy = clip4(gc * dy);
            cur[0] += gx * alpha;
            cur[1] += gy * alpha;
            oth[0] -= gx * alpha;
            oth[1] -= gy * alpha;
            next[t] += eps[t];
            int n_neg = (int)((fe - nextn[t]) / epn[t]);
            /* The negative samples of this edge are all taken against the
             * position of `cur` after the attractive step and summed, instead
             * of one after the other as umap-learn: the samples no longer
             * wait on each other's updates (4x faster, same layouts within
             * the noise of the seed; docs/cluster.md). Each keeps its clip. */
            float sx = 0, sy = 0;
            const float c0 = cur[0], c1 = cur[1];
            for (int s0 = 0; s0 < n_neg; s0 += 4) { /* 4 samples per vector */
                size_t kk[4];
                int lanes = n_neg - s0 < 4 ? n_neg - s0 : 4;
                for (int l = 0; l < 4; l++) /* spare lanes: cur itself, ignored */
                    kk[l] = l < lanes ? lg_rng_below(&rng, n) : (size_t)head[t];
                v4f vx = {emb[2 * kk[0]], emb[2 * kk[1]], emb[2 * kk[2]], emb[2 * kk[3]]};
                v4f vy = {emb[2 * kk[0] + 1], emb[2 * kk[1] + 1], emb[2 * kk[2] + 1], emb[2 * kk[3] + 1]};
                v4f ex = c0 - vx, ey = c1 - vy, q2 = ex * ex + ey * ey;
                v4f rc = (2.0f * gamma * b) / ((0.001f + q2) * (a * v_fast_pow(q2, b) + 1.0f));
                v4f nx = v_clip4(rc * ex), ny = v_clip4(rc * ey);
                for (int l = 0; l < lanes; l++) {
                    if (q2[l] > 0) {
                        sx += nx[l];
                        sy += ny[l];
                    } else if ((int32_t)kk[l] != head[t]) {
                        sx += 4.0f; /* coincident points: umap-learn's fixed push */
                        sy += 4.0f;
                    }
                }
            }
            cur[0] += sx * alpha;
            cur[1] += sy * alpha;
            nextn[t] += (float)n_neg * epn[t];
        }
        alpha = p->learning_rate * (1.0f - (float)ep / (float)n_epochs);
        if (lg_progress_check(progress, puser, "layout", (size_t)ep + 1, (size_t)n_epochs, err)) {
            free(head), free(tail), free(eps), free(next), free(epn), free(nextn);
            return LG_ECANCELED;
        }
    }
    free(head), free(tail), free(eps), free(next), free(epn), free(nextn);
    return LG_OK;
}

#ifdef LG_SIMD_DISPATCH
LG_SIMD_HASWELL static lg_err optimize_haswell(const lg_csr *graph, float *emb, const lg_umap_params *p, float a,
                                               float b, lg_progress_fn progress, void *puser, lg_errmsg *err) {
    return optimize_body(graph, emb, p, a, b, progress, puser, err);
}
#endif
static lg_err optimize_base(const lg_csr *graph, float *emb, const lg_umap_params *p, float a, float b,
                            lg_progress_fn progress, void *puser, lg_errmsg *err) {
    return optimize_body(graph, emb, p, a, b, progress, puser, err);
}

lg_err lg_umap_optimize(const lg_csr *graph, float *emb, const lg_umap_params *p, float a, float b,
                        lg_progress_fn progress, void *puser, lg_errmsg *err) {
#ifdef LG_SIMD_DISPATCH
    static int sel;
    if (lg_simd_pick(&sel) == 2) return optimize_haswell(graph, emb, p, a, b, progress, puser, err);
#endif
    return optimize_base(graph, emb, p, a, b, progress, puser, err);
}

/* ---- The whole pipeline ------------------------------------------------------------ */

lg_err lg_umap_fit(const float *x, size_t n, size_t d, const lg_umap_params *p,
                   lg_progress_fn progress, void *puser, float *out, lg_umap_stats *stats,
                   lg_errmsg *err) {
    lg_umap_stats st;
    memset(&st, 0, sizeof st);
    if (n < 2) return lg_fail(err, LG_EINVAL, "umap: needs at least 2 rows, got %zu", n);
    if (p->n_neighbors < 2) return lg_fail(err, LG_EINVAL, "umap: n_neighbors must be >= 2");
    size_t k = (size_t)p->n_neighbors < n ? (size_t)p->n_neighbors : n;
    lg_knn_graph g;
    lg_csr graph;
    memset(&graph, 0, sizeof graph);
    double t0 = lg_now();
    st.knn_exact = n <= p->exact_max;
    lg_err e = lg_knn_build(x, n, d, k, p->exact_max, p->seed, progress, puser, &g, err);
    if (e) return e;
    double t1 = lg_now();
    e = lg_fuzzy_simplicial_set(&g, &graph, err);
    lg_knn_graph_free(&g);
    if (e) return e;
    st.graph_nnz = lg_csr_nnz(&graph);
    double t2 = lg_now();
    lg_rng rng;
    lg_rng_seed(&rng, p->seed);
    if (p->random_init) {
        for (size_t i = 0; i < 2 * n; i++) out[i] = (float)(lg_rng_unif(&rng) * 20.0 - 10.0);
        st.random_init_rows = n;
    } else {
        e = lg_umap_spectral_init(&graph, x, d, p->seed, out, &st.components, &st.random_init_rows,
                                  err);
        if (e) goto done;
    }
    /* a little noise, as umap-learn adds to its start */
    for (size_t i = 0; i < 2 * n; i++) {
        double u1 = lg_rng_unif(&rng), u2 = lg_rng_unif(&rng);
        out[i] += (float)(1e-4 * sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2));
    }
    double t3 = lg_now();
    lg_umap_find_ab(p->spread, p->min_dist, &st.a, &st.b);
    e = lg_umap_optimize(&graph, out, p, st.a, st.b, progress, puser, err);
    double t4 = lg_now();
    st.knn_seconds = t1 - t0;
    st.graph_seconds = t2 - t1;
    st.init_seconds = t3 - t2;
    st.layout_seconds = t4 - t3;
done:
    lg_csr_free(&graph);
    if (stats) *stats = st;
    return e;
}
