/* featw.c - per-feature weights (purity, IDF) fitted on the training rows and
 * applied to encoded rows before the classifier. See include/logify/featw.h. */
#include "logify/featw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

lg_err lg_featw_method_parse(const char *name, lg_featw_method *out, lg_errmsg *err) {
    if (!strcmp(name, "none"))
        *out = LG_FEATW_NONE;
    else if (!strcmp(name, "idf"))
        *out = LG_FEATW_IDF;
    else if (!strcmp(name, "purity"))
        *out = LG_FEATW_PURITY;
    else
        return lg_fail(err, LG_EINVAL, "unknown feature weighting '%.40s' (none, idf or purity)", name);
    return LG_OK;
}

const char *lg_featw_method_name(lg_featw_method m) {
    return m == LG_FEATW_IDF ? "idf" : m == LG_FEATW_PURITY ? "purity" : "none";
}

void lg_featw_free(lg_featw *fw) {
    if (!fw) return;
    free(fw->w);
    free(fw);
}

lg_err lg_featw_new(size_t dim, lg_featw_method method, lg_featw **out, lg_errmsg *err) {
    *out = NULL;
    if (dim < 1 || dim > (1u << 24))
        return lg_fail(err, LG_EINVAL, "feature weights: bad dimension %zu", dim);
    lg_featw *fw = calloc(1, sizeof *fw);
    if (fw) fw->w = malloc(dim * sizeof *fw->w);
    if (!fw || !fw->w) {
        lg_featw_free(fw);
        return lg_fail(err, LG_ENOMEM, "out of memory (feature weights)");
    }
    fw->dim = dim;
    fw->method = method;
    for (size_t f = 0; f < dim; f++)
        fw->w[f] = 1.0f;
    *out = fw;
    return LG_OK;
}

lg_err lg_featw_check(const lg_featw *fw, lg_errmsg *err) {
    for (size_t f = 0; f < fw->dim; f++)
        if (!(isfinite(fw->w[f]) && fw->w[f] > 0))
            return lg_fail(err, LG_EMODEL, "feature weight %zu is not a finite value > 0", f);
    return LG_OK;
}

lg_err lg_featw_fit(const lg_embeddings *X, const int *y, size_t K, const size_t *rows, size_t n,
                    lg_featw_method method, lg_featw **out, lg_errmsg *err) {
    *out = NULL;
    if (!X->sparse) return lg_fail(err, LG_EINVAL, "feature weights need sparse rows");
    lg_featw *fw;
    lg_err e = lg_featw_new(X->dim, method, &fw, err);
    if (e) return e;
    const size_t D = X->dim;
    double *df = calloc(D, sizeof *df), *s2 = NULL;
    if (!df) goto oom;
    if (method == LG_FEATW_IDF) {
        for (size_t r = 0; r < n; r++) {
            size_t i = rows ? rows[r] : r;
            for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
                df[X->indices[q]] += 1.0;
        }
        for (size_t f = 0; f < D; f++)
            fw->w[f] = (float)(log((1.0 + (double)n) / (1.0 + df[f])) + 1.0);
    } else if (method == LG_FEATW_PURITY) {
        /* per class k and feature f, c = rows of k holding f: df += c,
         * s2 += c^2 / n_k; purity = s2 / df (1: every row of the classes
         * that hold f holds it) */
        size_t *cnt = calloc(K + 1, sizeof *cnt), *ptr = calloc(K + 2, sizeof *ptr);
        size_t *byc = malloc((n + 1) * sizeof *byc);
        uint32_t *c = calloc(D, sizeof *c), *touched = malloc(D * sizeof *touched);
        s2 = calloc(D, sizeof *s2);
        if (!cnt || !ptr || !byc || !c || !touched || !s2) {
            free(cnt), free(ptr), free(byc), free(c), free(touched);
            goto oom;
        }
        for (size_t r = 0; r < n; r++)
            ptr[y[rows ? rows[r] : r] + 1]++;
        for (size_t k = 0; k < K; k++)
            ptr[k + 1] += ptr[k], cnt[k] = ptr[k];
        for (size_t r = 0; r < n; r++) {
            size_t i = rows ? rows[r] : r;
            byc[cnt[y[i]]++] = i;
        }
        for (size_t k = 0; k < K; k++) {
            size_t nt = 0, nk = ptr[k + 1] - ptr[k];
            for (size_t a = ptr[k]; a < ptr[k + 1]; a++) {
                size_t i = byc[a];
                for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++) {
                    uint32_t f = X->indices[q];
                    if (!c[f]++) touched[nt++] = f;
                }
            }
            for (size_t t = 0; t < nt; t++) {
                uint32_t f = touched[t];
                df[f] += c[f];
                s2[f] += (double)c[f] * c[f] / (double)nk;
                c[f] = 0;
            }
        }
        for (size_t f = 0; f < D; f++) {
            double p = df[f] > 0 ? s2[f] / df[f] : 1.0; /* unseen: as a template word */
            fw->w[f] = (float)(LG_FEATW_FLOOR + (1.0 - LG_FEATW_FLOOR) * p * p * p);
        }
        free(cnt), free(ptr), free(byc), free(c), free(touched);
    }
    free(df);
    free(s2);
    *out = fw;
    return LG_OK;
oom:
    free(df);
    free(s2);
    lg_featw_free(fw);
    return lg_fail(err, LG_ENOMEM, "out of memory (feature weights)");
}

void lg_featw_apply(const lg_featw *fw, const lg_featw *w_old, lg_embeddings *X, size_t r0,
                    size_t r1) {
    for (size_t i = r0; i < r1; i++) {
        double ss = 0;
        for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++) {
            uint32_t f = X->indices[q];
            float v = X->values[q] * fw->w[f];
            if (w_old) v /= w_old->w[f];
            X->values[q] = v;
            ss += (double)v * v;
        }
        if (ss > 0) {
            float inv = (float)(1.0 / sqrt(ss));
            for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
                X->values[q] *= inv;
        }
    }
}
