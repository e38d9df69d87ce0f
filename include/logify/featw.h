/* featw.h - per-feature weights fitted on the training rows and applied
 * to every encoded row before the classifier (train and predict alike):
 * row[f] *= w[f], then the row is scaled back to unit L2 norm.
 *
 * The hash encoder gives 1 + ln(tf) per feature and nothing learned from
 * data; these weights are learned from the training lines and stored in
 * the bundle (features.bin). Two methods:
 *   purity: how consistently a feature occurs within the labels that
 *           have it. For label k with n_k rows of which c_k(f) hold
 *           feature f: p(f) = sum_k c_k(f)^2 / n_k / sum_k c_k(f) in
 *           (0, 1] (1: every row of every label holding f holds it: a
 *           template word; small: a variable's value, a host, a user),
 *           w[f] = LG_FEATW_FLOOR + (1 - LG_FEATW_FLOOR) p(f)^3. A feature
 *           no training row holds gets 1, as a template word would: a line
 *           made of unknown words stays far from every class (open set).
 *   idf:    w[f] = ln((1 + n) / (1 + df[f])) + 1 (scikit-learn's
 *           smooth_idf), n training rows, df[f] rows holding f; unseen
 *           features get ln(1 + n) + 1.
 * Sparse rows only (a dense encoder has no features to weigh).
 * docs/model.md, "Feature weights", has the measurements behind the
 * choice (purity, cube, floor 0.02). */
#ifndef LOGIFY_FEATW_H
#define LOGIFY_FEATW_H

#include "logify/common.h"
#include "logify/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_FEATW_FLOOR 0.02 /* purity: the weight of a feature that is never consistent */

typedef enum { LG_FEATW_NONE = 0, LG_FEATW_IDF = 1, LG_FEATW_PURITY = 2 } lg_featw_method;

typedef struct {
    size_t dim;
    lg_featw_method method;
    float *w; /* (dim) > 0, finite */
} lg_featw;

/* "none", "idf" or "purity" -> *out; unknown names are LG_EINVAL. */
lg_err lg_featw_method_parse(const char *name, lg_featw_method *out, lg_errmsg *err);
const char *lg_featw_method_name(lg_featw_method m);

/* Fits the weights on rows[0..n-1] of the sparse X (all rows when rows ==
 * NULL) with labels y[row] in [0, K). Free with lg_featw_free. */
lg_err lg_featw_fit(const lg_embeddings *X, const int *y, size_t K, const size_t *rows, size_t n,
                    lg_featw_method method, lg_featw **out, lg_errmsg *err);

/* An empty model of dimension dim (weights 1) for a reader to fill. */
lg_err lg_featw_new(size_t dim, lg_featw_method method, lg_featw **out, lg_errmsg *err);
/* Every weight finite and > 0. */
lg_err lg_featw_check(const lg_featw *fw, lg_errmsg *err);
void lg_featw_free(lg_featw *fw);

/* Rows [r0, r1) of the sparse X: each value times w[feature] (times
 * w[feature] / w_old[feature] when w_old is not NULL: re-weighs rows that
 * w_old weighed before), then unit L2 norm. */
void lg_featw_apply(const lg_featw *fw, const lg_featw *w_old, lg_embeddings *X, size_t r0,
                    size_t r1);

#ifdef __cplusplus
}
#endif
#endif
