/* umap_spectral.c - UMAP's spectral initialisation: the eigenvectors of the
 * symmetric normalised Laplacian L = I - D^-1/2 W D^-1/2 with the smallest
 * non-trivial eigenvalues, per connected component of the fuzzy graph,
 * components placed by umap-learn's meta layout (spectral embedding of the
 * components' centroid affinities when there are more than 4, the +-unit
 * axes otherwise). Components too small for a spectrum get a seeded
 * random start around their place, as in umap-learn.
 *
 * Eigenvectors: the largest of B = (I + D^-1/2 W D^-1/2) / 2 (same vectors,
 * eigenvalues in [0, 1]) by block subspace iteration with the trivial
 * vector D^1/2 1 deflated and a Rayleigh-Ritz step (Jacobi on the small
 * block); dense Jacobi outright for small matrices.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/umap_spectral.h"

#define SUBSPACE 8       /* block size of the subspace iteration */
#define MAX_ITERS 800    /* operator applications */
#define DENSE_MAX 64     /* dense Jacobi up to this size */

/* ---- Small dense symmetric eigenproblem (cyclic Jacobi) ---------------------- */

/* a: (m, m) symmetric, destroyed; evals (m); evecs (m, m) columns. */
static void jacobi_eig(double *a, size_t m, double *evals, double *evecs) {
    for (size_t i = 0; i < m * m; i++) evecs[i] = 0;
    for (size_t i = 0; i < m; i++) evecs[i * m + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (size_t p = 0; p < m; p++)
            for (size_t q = p + 1; q < m; q++) off += a[p * m + q] * a[p * m + q];
        if (off < 1e-22) break;
        for (size_t p = 0; p < m; p++)
            for (size_t q = p + 1; q < m; q++) {
                double apq = a[p * m + q];
                if (fabs(apq) < 1e-300) continue;
                double theta = (a[q * m + q] - a[p * m + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < m; k++) {
                    double akp = a[k * m + p], akq = a[k * m + q];
                    a[k * m + p] = c * akp - s * akq;
                    a[k * m + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < m; k++) {
                    double apk = a[p * m + k], aqk = a[q * m + k];
                    a[p * m + k] = c * apk - s * aqk;
                    a[q * m + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < m; k++) {
                    double vkp = evecs[k * m + p], vkq = evecs[k * m + q];
                    evecs[k * m + p] = c * vkp - s * vkq;
                    evecs[k * m + q] = s * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < m; i++) evals[i] = a[i * m + i];
}

/* ---- The operator B = (I + D^-1/2 W D^-1/2) / 2 on one component ------------- */

typedef struct {
    size_t m;
    const size_t *indptr; /* (m + 1) local CSR */
    const int32_t *col;
    const double *val;    /* normalised weights w_ij / sqrt(d_i d_j) */
    const double *dense;  /* (m, m) normalised matrix instead, or NULL */
} op_t;

/* out (m, p) = B in (m, p) */
static void op_apply(const op_t *op, const double *in, double *out, size_t p) {
    size_t m = op->m;
    for (size_t i = 0; i < m; i++) {
        double acc[SUBSPACE] = {0};
        if (op->dense) {
            for (size_t j = 0; j < m; j++) {
                double w = op->dense[i * m + j];
                for (size_t c = 0; c < p; c++) acc[c] += w * in[j * p + c];
            }
        } else {
            for (size_t t = op->indptr[i]; t < op->indptr[i + 1]; t++) {
                double w = op->val[t];
                const double *r = in + (size_t)op->col[t] * p;
                for (size_t c = 0; c < p; c++) acc[c] += w * r[c];
            }
        }
        for (size_t c = 0; c < p; c++) out[i * p + c] = 0.5 * (in[i * p + c] + acc[c]);
    }
}

/* Removes the trivial direction u (unit) from each column, then modified
 * Gram-Schmidt. Returns 0 if a column collapsed. */
static int orthonormalize(double *v, size_t m, size_t p, const double *u) {
    for (size_t c = 0; c < p; c++) {
        double s = 0;
        for (size_t i = 0; i < m; i++) s += u[i] * v[i * p + c];
        for (size_t i = 0; i < m; i++) v[i * p + c] -= s * u[i];
        for (size_t q = 0; q < c; q++) {
            double t = 0;
            for (size_t i = 0; i < m; i++) t += v[i * p + q] * v[i * p + c];
            for (size_t i = 0; i < m; i++) v[i * p + c] -= t * v[i * p + q];
        }
        double nrm = 0;
        for (size_t i = 0; i < m; i++) nrm += v[i * p + c] * v[i * p + c];
        nrm = sqrt(nrm);
        if (nrm < 1e-12) return 0;
        for (size_t i = 0; i < m; i++) v[i * p + c] /= nrm;
    }
    return 1;
}

/* The 2 leading non-trivial eigenvectors of B into out (m, 2). u: the unit
 * trivial eigenvector sqrt(d)/|sqrt(d)|. Returns 1 on success. */
static int leading_pair(const op_t *op, const double *u, lg_rng *rng, double *out) {
    size_t m = op->m;
    if (m <= DENSE_MAX) {
        double *a = malloc(m * m * sizeof *a), *ev = malloc(m * sizeof *ev),
               *vec = malloc(m * m * sizeof *vec), *e = calloc(m, sizeof *e),
               *col = malloc(m * sizeof *col);
        int ok = a && ev && vec && e && col;
        for (size_t j = 0; ok && j < m; j++) { /* column j of B (p = 1) */
            memset(e, 0, m * sizeof *e);
            e[j] = 1;
            op_apply(op, e, col, 1);
            for (size_t i = 0; i < m; i++) a[i * m + j] = col[i];
        }
        if (ok) {
            /* deflate: B - u u^T moves the trivial eigenvalue 1 to 0 */
            for (size_t i = 0; i < m; i++)
                for (size_t j = 0; j < m; j++) a[i * m + j] -= u[i] * u[j];
            jacobi_eig(a, m, ev, vec);
            for (int c = 0; c < 2; c++) { /* pick the two largest */
                size_t best = 0;
                for (size_t j = 1; j < m; j++)
                    if (ev[j] > ev[best]) best = j;
                for (size_t i = 0; i < m; i++) out[i * 2 + (size_t)c] = vec[i * m + best];
                ev[best] = -INFINITY;
            }
        }
        free(a), free(ev), free(vec), free(e), free(col);
        return ok;
    }
    const size_t p = SUBSPACE;
    double *v = malloc(m * p * sizeof *v), *w = malloc(m * p * sizeof *w);
    if (!v || !w) {
        free(v), free(w);
        return 0;
    }
    for (size_t i = 0; i < m * p; i++) v[i] = lg_rng_unif(rng) - 0.5;
    int ok = orthonormalize(v, m, p, u);
    double prev[SUBSPACE] = {0};
    double h[SUBSPACE * SUBSPACE], ev[SUBSPACE], q[SUBSPACE * SUBSPACE];
    for (int it = 1; ok && it <= MAX_ITERS; it++) {
        op_apply(op, v, w, p);
        double *t = v;
        v = w;
        w = t;
        ok = orthonormalize(v, m, p, u);
        if (!ok || (it % 20 && it != MAX_ITERS)) continue;
        /* Rayleigh-Ritz: H = V^T B V */
        op_apply(op, v, w, p);
        for (size_t a = 0; a < p; a++)
            for (size_t b = 0; b < p; b++) {
                double s = 0;
                for (size_t i = 0; i < m; i++) s += v[i * p + a] * w[i * p + b];
                h[a * p + b] = s;
            }
        for (size_t a = 0; a < p; a++) /* symmetrise rounding */
            for (size_t b = a + 1; b < p; b++) h[a * p + b] = h[b * p + a] = 0.5 * (h[a * p + b] + h[b * p + a]);
        jacobi_eig(h, p, ev, q);
        /* rotate the block onto the Ritz vectors, largest first */
        size_t order[SUBSPACE];
        for (size_t a = 0; a < p; a++) order[a] = a;
        for (size_t a = 0; a < p; a++)
            for (size_t b = a + 1; b < p; b++)
                if (ev[order[b]] > ev[order[a]]) {
                    size_t tmp = order[a];
                    order[a] = order[b];
                    order[b] = tmp;
                }
        for (size_t i = 0; i < m; i++) {
            double row[SUBSPACE];
            for (size_t a = 0; a < p; a++) {
                double s = 0;
                for (size_t b = 0; b < p; b++) s += v[i * p + b] * q[b * p + order[a]];
                row[a] = s;
            }
            memcpy(v + i * p, row, sizeof row);
        }
        double change = fabs(ev[order[0]] - prev[0]) + fabs(ev[order[1]] - prev[1]);
        prev[0] = ev[order[0]];
        prev[1] = ev[order[1]];
        if (change < 1e-9) break;
    }
    if (ok)
        for (size_t i = 0; i < m; i++) {
            out[i * 2] = v[i * p];
            out[i * 2 + 1] = v[i * p + 1];
        }
    free(v), free(w);
    return ok;
}

/* ---- Connected components ------------------------------------------------------- */

static size_t uf_find(size_t *parent, size_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* comp[i] in 0..nc-1, numbered by first row. Returns nc. */
static size_t components(const lg_csr *g, size_t *comp, size_t *parent) {
    size_t n = g->n;
    for (size_t i = 0; i < n; i++) parent[i] = i;
    for (size_t i = 0; i < n; i++)
        for (size_t t = g->indptr[i]; t < g->indptr[i + 1]; t++) {
            size_t a = uf_find(parent, i), b = uf_find(parent, (size_t)g->col[t]);
            if (a != b) parent[a > b ? a : b] = a < b ? a : b;
        }
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) comp[i] = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t r = uf_find(parent, i);
        if (comp[r] == SIZE_MAX) comp[r] = nc++;
        comp[i] = comp[r];
    }
    return nc;
}

/* ---- Meta layout of the components ------------------------------------------------- */

static lg_err meta_layout(const float *x, size_t n, size_t d, const size_t *comp, size_t nc,
                          lg_rng *rng, double *meta /* (nc, 2) */, lg_errmsg *err) {
    if (nc <= 4) {
        static const double axes[4][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
        size_t k = (nc + 1) / 2; /* umap-learn: vstack([eye(k), -eye(k)]) */
        for (size_t c = 0; c < nc; c++) {
            size_t a = c < k ? c : c - k;
            double sgn = c < k ? 1 : -1;
            meta[c * 2] = sgn * axes[a][0];
            meta[c * 2 + 1] = sgn * axes[a][1];
        }
        return LG_OK;
    }
    double *cent = calloc(nc * d, sizeof *cent), *aff = malloc(nc * nc * sizeof *aff);
    double *deg = malloc(nc * sizeof *deg), *u = malloc(nc * sizeof *u);
    lg_err e = LG_OK;
    if (!cent || !aff || !deg || !u) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the component layout");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++) cent[comp[i] * d + j] += x[i * d + j];
    for (size_t c = 0; c < nc; c++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) s += cent[c * d + j] * cent[c * d + j];
        s = s > 0 ? 1 / sqrt(s) : 0;
        for (size_t j = 0; j < d; j++) cent[c * d + j] *= s;
    }
    for (size_t a = 0; a < nc; a++)
        for (size_t b = a; b < nc; b++) {
            double s = 0;
            for (size_t j = 0; j < d; j++) s += cent[a * d + j] * cent[b * d + j];
            double dist = a == b ? 0 : 1 - s;
            aff[a * nc + b] = aff[b * nc + a] = exp(-dist * dist);
        }
    double tot = 0;
    for (size_t a = 0; a < nc; a++) {
        double s = 0;
        for (size_t b = 0; b < nc; b++) s += aff[a * nc + b];
        deg[a] = s;
        tot += s;
    }
    for (size_t a = 0; a < nc; a++) u[a] = sqrt(deg[a] / tot);
    for (size_t a = 0; a < nc; a++)
        for (size_t b = 0; b < nc; b++) aff[a * nc + b] /= sqrt(deg[a] * deg[b]);
    op_t op = {nc, NULL, NULL, NULL, aff};
    if (!leading_pair(&op, u, rng, meta)) {
        for (size_t i = 0; i < 2 * nc; i++) meta[i] = lg_rng_unif(rng) * 2 - 1;
    } else {
        /* sklearn's spectral_embedding returns D^-1/2 v; then / max */
        double mx = 0;
        for (size_t c = 0; c < nc; c++)
            for (int k = 0; k < 2; k++) {
                meta[c * 2 + (size_t)k] /= sqrt(deg[c]);
                if (fabs(meta[c * 2 + (size_t)k]) > mx) mx = fabs(meta[c * 2 + (size_t)k]);
            }
        for (size_t i = 0; i < 2 * nc; i++) meta[i] = mx > 0 ? meta[i] / mx : 0;
    }
done:
    free(cent), free(aff), free(deg), free(u);
    return e;
}

/* ---- Spectral initialisation ---------------------------------------------------------- */

lg_err lg_umap_spectral_init(const lg_csr *g, const float *x, size_t d, uint64_t seed, float *out,
                             size_t *n_components, size_t *random_rows, lg_errmsg *err) {
    size_t n = g->n, nnz = lg_csr_nnz(g);
    lg_rng rng;
    lg_rng_seed(&rng, seed ^ 0xC0FFEEull);
    size_t *comp = malloc(n * sizeof *comp), *parent = malloc(n * sizeof *parent);
    size_t *local = malloc(n * sizeof *local), *rows = malloc(n * sizeof *rows);
    size_t *indptr = malloc((n + 1) * sizeof *indptr);
    int32_t *col = malloc((nnz ? nnz : 1) * sizeof *col);
    double *val = malloc((nnz ? nnz : 1) * sizeof *val), *deg = malloc(n * sizeof *deg);
    double *u = malloc(n * sizeof *u), *vec = malloc(2 * n * sizeof *vec), *meta = NULL;
    size_t randoms = 0, nc = 0;
    lg_err e = LG_OK;
    if (!comp || !parent || !local || !rows || !indptr || !col || !val || !deg || !u || !vec) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the spectral start");
        goto done;
    }
    nc = components(g, comp, parent);
    meta = calloc(2 * nc, sizeof *meta);
    if (!meta) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the spectral start");
        goto done;
    }
    if (nc > 1 && (e = meta_layout(x, n, d, comp, nc, &rng, meta, err))) goto done;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t t = g->indptr[i]; t < g->indptr[i + 1]; t++) s += g->val[t];
        deg[i] = s;
    }
    /* rows of each component, in input order: bucket by component */
    size_t *start = calloc(nc + 1, sizeof *start);
    if (!start) {
        e = lg_fail(err, LG_ENOMEM, "umap: out of memory for the spectral start");
        goto done;
    }
    for (size_t i = 0; i < n; i++) start[comp[i] + 1]++;
    for (size_t c = 0; c < nc; c++) start[c + 1] += start[c];
    memset(parent, 0, n * sizeof *parent); /* reused: fill count per component */
    for (size_t i = 0; i < n; i++) {
        size_t c = comp[i];
        local[i] = parent[c]++;
        rows[start[c] + local[i]] = i;
    }
    for (size_t c = 0; c < nc; c++) {
        size_t m = start[c + 1] - start[c];
        const size_t *rc = rows + start[c];
        double range = 1.0; /* half the distance to the nearest other component */
        if (nc > 1) {
            double best = INFINITY;
            for (size_t o = 0; o < nc; o++) {
                double dx = meta[o * 2] - meta[c * 2], dy = meta[o * 2 + 1] - meta[c * 2 + 1];
                double dist = sqrt(dx * dx + dy * dy);
                if (dist > 0 && dist < best) best = dist;
            }
            range = isinf(best) ? 1.0 : best / 2;
        }
        int ok = 0;
        if (m > 4) { /* umap-learn: random when m < 2 dim or m <= dim + 1 */
            size_t nz = 0;
            double tot = 0;
            indptr[0] = 0;
            for (size_t a = 0; a < m; a++) {
                size_t i = rc[a];
                for (size_t t = g->indptr[i]; t < g->indptr[i + 1]; t++) {
                    size_t j = (size_t)g->col[t];
                    col[nz] = (int32_t)local[j];
                    val[nz] = g->val[t] / sqrt(deg[i] * deg[j]);
                    nz++;
                }
                indptr[a + 1] = nz;
                tot += deg[i];
            }
            for (size_t a = 0; a < m; a++) u[a] = sqrt(deg[rc[a]] / tot);
            op_t op = {m, indptr, col, val, NULL};
            ok = leading_pair(&op, u, &rng, vec);
        }
        if (ok) {
            double mx = 0;
            for (size_t a = 0; a < 2 * m; a++) mx = fabs(vec[a]) > mx ? fabs(vec[a]) : mx;
            double s = mx > 0 ? range / mx : 0;
            for (size_t a = 0; a < m; a++)
                for (int k = 0; k < 2; k++)
                    out[rc[a] * 2 + (size_t)k] = (float)(vec[a * 2 + (size_t)k] * s + meta[c * 2 + (size_t)k]);
        } else {
            for (size_t a = 0; a < m; a++)
                for (int k = 0; k < 2; k++)
                    out[rc[a] * 2 + (size_t)k] =
                        (float)((lg_rng_unif(&rng) * 2 - 1) * range + meta[c * 2 + (size_t)k]);
            randoms += m;
        }
    }
    free(start);
    /* scale so that the largest coordinate is 10, as umap-learn */
    float mx = 0;
    for (size_t i = 0; i < 2 * n; i++) mx = fabsf(out[i]) > mx ? fabsf(out[i]) : mx;
    if (mx > 0)
        for (size_t i = 0; i < 2 * n; i++) out[i] *= 10.0f / mx;
done:
    if (n_components) *n_components = nc;
    if (random_rows) *random_rows = randoms;
    free(comp), free(parent), free(local), free(rows), free(indptr), free(col), free(val);
    free(deg), free(u), free(vec), free(meta);
    return e;
}
