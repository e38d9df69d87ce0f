/* centroids.c - unit-length class means in the encoder's space (sparse,
 * CSR by class) with a feature-major inverted index: cosine similarity of
 * a row with every class in one pass over the row's features, and the top
 * classes. See include/logify/centroids.h. */
#include "logify/centroids.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- Building -------------------------------------------------------------- */

void lg_centroids_free(lg_centroids *c) {
    if (!c) return;
    free(c->ptr);
    free(c->idx);
    free(c->val);
    free(c->fptr);
    free(c->fcls);
    free(c->fval);
    free(c->dense);
    free(c);
}

lg_err lg_centroids_new(size_t n_classes, size_t dim, size_t nnz, lg_centroids **out,
                        lg_errmsg *err) {
    *out = NULL;
    if (n_classes < 1 || dim < 1 || dim > (1u << 24))
        return lg_fail(err, LG_EINVAL, "centroids: bad shape (%zu classes, dim %zu)", n_classes,
                       dim);
    lg_centroids *c = calloc(1, sizeof *c);
    if (!c) return lg_fail(err, LG_ENOMEM, "centroids: out of memory");
    c->n_classes = n_classes;
    c->dim = dim;
    c->ptr = calloc(n_classes + 1, sizeof *c->ptr);
    c->idx = malloc((nnz ? nnz : 1) * sizeof *c->idx);
    c->val = malloc((nnz ? nnz : 1) * sizeof *c->val);
    if (!c->ptr || !c->idx || !c->val) {
        lg_centroids_free(c);
        return lg_fail(err, LG_ENOMEM, "out of memory (centroids)");
    }
    c->ptr[n_classes] = nnz;
    *out = c;
    return LG_OK;
}

lg_err lg_centroids_seal(lg_centroids *c, lg_errmsg *err) {
    const size_t K = c->n_classes, D = c->dim, nnz = c->ptr[K];
    for (size_t k = 0; k < K; k++) {
        if (c->ptr[k] > c->ptr[k + 1] || c->ptr[k + 1] > nnz)
            return lg_fail(err, LG_EMODEL, "centroids: class %zu: bad offsets", k);
        for (size_t q = c->ptr[k]; q < c->ptr[k + 1]; q++) {
            if (c->idx[q] >= D || (q > c->ptr[k] && c->idx[q] <= c->idx[q - 1]))
                return lg_fail(err, LG_EMODEL,
                               "centroids: class %zu: features not ascending below %zu", k, D);
            if (!isfinite(c->val[q]))
                return lg_fail(err, LG_EMODEL, "centroids: class %zu: value not finite", k);
        }
    }
    free(c->fptr);
    free(c->fcls);
    free(c->fval);
    c->fptr = calloc(D + 1, sizeof *c->fptr);
    c->fcls = malloc((nnz ? nnz : 1) * sizeof *c->fcls);
    c->fval = malloc((nnz ? nnz : 1) * sizeof *c->fval);
    if (!c->fptr || !c->fcls || !c->fval) return lg_fail(err, LG_ENOMEM, "centroids: out of memory");
    for (size_t q = 0; q < nnz; q++)
        c->fptr[c->idx[q] + 1]++;
    for (size_t j = 0; j < D; j++)
        c->fptr[j + 1] += c->fptr[j];
    size_t *fill = malloc((D + 1) * sizeof *fill);
    if (!fill) return lg_fail(err, LG_ENOMEM, "centroids: out of memory");
    memcpy(fill, c->fptr, (D + 1) * sizeof *fill);
    for (size_t k = 0; k < K; k++) /* classes ascending inside each feature */
        for (size_t q = c->ptr[k]; q < c->ptr[k + 1]; q++) {
            size_t at = fill[c->idx[q]]++;
            c->fcls[at] = (uint32_t)k;
            c->fval[at] = c->val[q];
        }
    free(fill);
    free(c->dense);
    c->dense = NULL;
    if (K <= LG_CENTROIDS_DENSE_MAX) {
        c->Kp = (K + 3) & ~(size_t)3;
        if (!(c->dense = calloc(D * c->Kp, sizeof *c->dense)))
            return lg_fail(err, LG_ENOMEM, "centroids: out of memory");
        for (size_t k = 0; k < K; k++)
            for (size_t q = c->ptr[k]; q < c->ptr[k + 1]; q++)
                c->dense[(size_t)c->idx[q] * c->Kp + k] = c->val[q];
    }
    return LG_OK;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

lg_err lg_centroids_build(const lg_embeddings *X, const int *y, const size_t *rows, size_t n,
                          const double *weight, size_t n_classes, lg_centroids **out,
                          lg_errmsg *err) {
    *out = NULL;
    const size_t K = n_classes, D = X->dim;
    lg_err e = LG_OK;
    /* rows of each class (counting sort), then one dense accumulator over
     * the features a class touches */
    size_t *cptr = calloc(K + 1, sizeof *cptr), *crow = calloc(n + 1, sizeof *crow);
    double *acc = calloc(D, sizeof *acc);
    uint32_t *touched = malloc(D * sizeof *touched);
    uint8_t *mark = calloc(D, 1);
    size_t cap = 1024, nnz = 0;
    uint32_t *idx = malloc(cap * sizeof *idx);
    float *val = malloc(cap * sizeof *val);
    size_t *ptr = calloc(K + 1, sizeof *ptr);
    lg_centroids *c = NULL;
    if (!cptr || !crow || !acc || !touched || !mark || !idx || !val || !ptr) {
        e = lg_fail(err, LG_ENOMEM, "out of memory (centroids)");
        goto done;
    }
    for (size_t r = 0; r < n; r++) {
        int k = y[rows ? rows[r] : r];
        if (k < 0 || (size_t)k >= K) {
            e = lg_fail(err, LG_EINVAL, "centroids: label index %d out of range", k);
            goto done;
        }
        cptr[k + 1]++;
    }
    for (size_t k = 0; k < K; k++)
        cptr[k + 1] += cptr[k];
    {
        size_t *fill = calloc(K + 1, sizeof *fill);
        if (!fill) {
            e = lg_fail(err, LG_ENOMEM, "centroids: out of memory");
            goto done;
        }
        memcpy(fill, cptr, (K + 1) * sizeof *fill);
        for (size_t r = 0; r < n; r++)
            crow[fill[y[rows ? rows[r] : r]]++] = r;
        free(fill);
    }
    for (size_t k = 0; k < K; k++) {
        size_t nt = 0;
        for (size_t a = cptr[k]; a < cptr[k + 1]; a++) {
            size_t r = crow[a], i = rows ? rows[r] : r;
            double w = weight ? weight[r] : 1.0;
            if (X->sparse) {
                for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++) {
                    uint32_t j = X->indices[q];
                    if (!mark[j]) mark[j] = 1, touched[nt++] = j;
                    acc[j] += w * X->values[q];
                }
            } else {
                for (size_t j = 0; j < D; j++) {
                    float v = X->dense[i * D + j];
                    if (v == 0.0f) continue;
                    if (!mark[j]) mark[j] = 1, touched[nt++] = (uint32_t)j;
                    acc[j] += w * v;
                }
            }
        }
        qsort(touched, nt, sizeof *touched, cmp_u32);
        double ss = 0;
        for (size_t t = 0; t < nt; t++)
            ss += acc[touched[t]] * acc[touched[t]];
        double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
        if (nnz + nt > cap) {
            while (nnz + nt > cap)
                cap *= 2;
            uint32_t *i2 = realloc(idx, cap * sizeof *idx);
            if (i2) idx = i2;
            float *v2 = i2 ? realloc(val, cap * sizeof *val) : NULL;
            if (v2) val = v2;
            if (!v2) {
                e = lg_fail(err, LG_ENOMEM, "out of memory (centroids)");
                goto done;
            }
        }
        for (size_t t = 0; t < nt; t++) {
            uint32_t j = touched[t];
            float v = (float)(acc[j] * inv);
            if (v != 0.0f) {
                idx[nnz] = j;
                val[nnz++] = v;
            }
            acc[j] = 0;
            mark[j] = 0;
        }
        ptr[k + 1] = nnz;
    }
    if (!(c = calloc(1, sizeof *c))) {
        e = lg_fail(err, LG_ENOMEM, "centroids: out of memory");
        goto done;
    }
    c->n_classes = K;
    c->dim = D;
    c->ptr = ptr;
    c->idx = idx;
    c->val = val;
    ptr = NULL, idx = NULL, val = NULL;
    if ((e = lg_centroids_seal(c, err))) goto done;
    *out = c;
    c = NULL;
done:
    lg_centroids_free(c);
    free(cptr);
    free(crow);
    free(acc);
    free(touched);
    free(mark);
    free(idx);
    free(val);
    free(ptr);
    return e;
}

/* ---- Scoring ------------------------------------------------------------------ */

lg_err lg_centroid_scratch_init(const lg_centroids *c, lg_centroid_scratch *s, lg_errmsg *err) {
    memset(s, 0, sizeof *s);
    s->acc = calloc(c->n_classes + 4, sizeof *s->acc);
    s->touched = calloc(c->n_classes, sizeof *s->touched);
    s->mark = calloc(c->n_classes, 1);
    if (!s->acc || !s->touched || !s->mark) {
        lg_centroid_scratch_clear(s);
        return lg_fail(err, LG_ENOMEM, "out of memory (centroid scratch)");
    }
    return LG_OK;
}

void lg_centroid_scratch_clear(lg_centroid_scratch *s) {
    free(s->acc);
    free(s->touched);
    free(s->mark);
    memset(s, 0, sizeof *s);
}

static inline void add_feature(const lg_centroids *c, lg_centroid_scratch *s, uint32_t j,
                               float v) {
    for (size_t p = c->fptr[j]; p < c->fptr[j + 1]; p++) {
        uint32_t k = c->fcls[p];
        if (!s->mark[k]) {
            s->mark[k] = 1;
            s->acc[k] = 0;
            s->touched[s->n_touched++] = k;
        }
        s->acc[k] += v * c->fval[p];
    }
}

/* A row whose features' lists hold many classes (many labels sharing
 * common n-grams: 10,000 labels, thousands of classes a feature): every
 * class's sum in a zeroed (K) array with no test per entry, then one scan
 * of the K classes collects the touched ones in ascending order. The same
 * sums in the same order as add_feature, the same touched set (marks, not
 * values, so it holds for negative values too), so the same best class and
 * top classes (ties go to the lower class either way); the branch per
 * entry of add_feature mispredicts when each row touches most classes.
 * Returns 0 (nothing done) when the lists are short next to K. */
static int score_wide(const lg_centroids *c, const lg_embeddings *X, size_t row, float inv,
                      lg_centroid_scratch *s, int *best) {
    const size_t K = c->n_classes, q0 = X->indptr[row], q1 = X->indptr[row + 1];
    size_t len = 0;
    for (size_t q = q0; q < q1; q++)
        if (X->indices[q] < c->dim) len += c->fptr[X->indices[q] + 1] - c->fptr[X->indices[q]];
    if (len < K / 2 || K < 256) return 0;
    float *acc = s->acc;
    uint8_t *mark = s->mark;
    memset(acc, 0, K * sizeof *acc);
    for (size_t q = q0; q < q1; q++) {
        const uint32_t j = X->indices[q];
        if (j >= c->dim) continue;
        const float v = X->values[q] * inv;
        const uint32_t *fc = c->fcls + c->fptr[j];
        const float *fv = c->fval + c->fptr[j];
        const size_t nl = c->fptr[j + 1] - c->fptr[j];
        for (size_t p = 0; p < nl; p++) {
            acc[fc[p]] += v * fv[p];
            mark[fc[p]] = 1;
        }
    }
    int b = -1;
    float bs = 0.0f;
    size_t nt = 0;
    for (size_t k = 0; k < K; k++) {
        if (!mark[k]) continue;
        s->touched[nt++] = (uint32_t)k;
        if (b < 0 || acc[k] > bs) b = (int)k, bs = acc[k];
    }
    s->n_touched = nt;
    *best = b;
    return 1;
}

float lg_centroids_score(const lg_centroids *c, const lg_embeddings *X, size_t row,
                         lg_centroid_scratch *s, int *best) {
    double ss = 0;
    if (X->sparse) {
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++)
            ss += (double)X->values[q] * X->values[q];
    } else {
        for (size_t j = 0; j < X->dim; j++)
            ss += (double)X->dense[row * X->dim + j] * X->dense[row * X->dim + j];
    }
    float inv = ss > 0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
    if (c->dense && X->sparse) { /* few classes: every class, 4-wide blocks */
        const size_t K = c->n_classes, Kp = c->Kp;
        float *acc = s->acc;
        for (size_t k = 0; k < Kp; k++)
            acc[k] = 0;
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++) {
            uint32_t j = X->indices[q];
            if (j >= c->dim) continue;
            const float *w = c->dense + (size_t)j * Kp;
            const float v = X->values[q] * inv;
            for (size_t kb = 0; kb < Kp; kb += 4)
                for (size_t t = 0; t < 4; t++)
                    acc[kb + t] += v * w[kb + t];
        }
        int b = 0;
        for (size_t k = 0; k < K; k++) {
            s->touched[k] = (uint32_t)k;
            if (acc[k] > acc[b]) b = (int)k;
        }
        s->n_touched = K;
        *best = acc[b] > 0 ? b : -1;
        return acc[b] > 0 ? acc[b] : 0.0f;
    }
    for (size_t t = 0; t < s->n_touched; t++)
        s->mark[s->touched[t]] = 0;
    s->n_touched = 0;
    if (X->sparse && score_wide(c, X, row, inv, s, best)) return *best < 0 ? 0.0f : s->acc[*best];
    if (X->sparse) {
        for (size_t q = X->indptr[row]; q < X->indptr[row + 1]; q++)
            if (X->indices[q] < c->dim) add_feature(c, s, X->indices[q], X->values[q] * inv);
    } else {
        for (size_t j = 0; j < X->dim && j < c->dim; j++) {
            float v = X->dense[row * X->dim + j];
            if (v != 0.0f) add_feature(c, s, (uint32_t)j, v * inv);
        }
    }
    int b = -1;
    float bs = 0.0f;
    for (size_t t = 0; t < s->n_touched; t++) {
        uint32_t k = s->touched[t];
        if (b < 0 || s->acc[k] > bs || (s->acc[k] == bs && (int)k < b)) b = (int)k, bs = s->acc[k];
    }
    *best = b;
    return b < 0 ? 0.0f : bs;
}

/* is class a ranked before class b? */
static inline int before(const float *acc, uint32_t a, uint32_t b) {
    return acc[a] > acc[b] || (acc[a] == acc[b] && a < b);
}

size_t lg_centroids_top(const lg_centroid_scratch *s, size_t m, uint32_t *out) {
    /* insertion into a sorted list of at most m: m is small (tens) */
    size_t n = 0;
    for (size_t t = 0; t < s->n_touched; t++) {
        uint32_t k = s->touched[t];
        if (n == m && !before(s->acc, k, out[m - 1])) continue;
        size_t at = n < m ? n++ : m - 1;
        while (at > 0 && before(s->acc, k, out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = k;
    }
    return n;
}
