/* logreg.h - multinomial (softmax) logistic regression with L2, trained by
 * L-BFGS (liblbfgs), on sparse (CSR) or dense rows from an encoder.
 *
 * Objective, as scikit-learn's LogisticRegression(multi_class=multinomial):
 *   f(W, b) = sum_i sw_i * -log softmax(x_i W + b)[y_i] + ||W||^2 / (2 C)
 * (the bias is not penalised; sw_i = n / (K * n_{y_i}) with
 * class_weight=balanced, else 1). The start point is zero and every sum runs
 * in a fixed order on one thread, so training is deterministic: the same
 * rows give the same bytes.
 *
 * A trained lg_logreg is immutable: predict from any number of threads.
 */
#ifndef LOGIFY_LOGREG_H
#define LOGIFY_LOGREG_H

#include "logify/common.h"
#include "logify/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_LOGREG_MAX_CLASSES 256

typedef struct {
    size_t n_classes; /* K >= 2 */
    size_t dim;       /* D */
    float *W;         /* (D, K) feature-major: a sparse row touches one
                         contiguous K-vector per stored value */
    float *b;         /* (K) */
    /* prediction copy of W, rows padded with zeros to Kp = K rounded up to
     * a multiple of 4 so the inner loop is fixed-width SIMD; built by
     * lg_logreg_seal (NULL before: prediction then reads W) */
    float *Wp; /* (D, Kp) */
    size_t Kp;
    /* with lg_logreg_seal_joint: per feature the padded weights and then
     * the padded class-centroid values, one cache line for both when
     * Kp <= 8, so the open-set similarity costs no second table walk */
    float *Wj; /* (D, 2 Kp) or NULL */
} lg_logreg;

typedef struct {
    double C;       /* inverse L2 strength (default 10) */
    int balanced;   /* class_weight=balanced (default 1) */
    int max_iter;   /* L-BFGS iterations (default 500) */
    double epsilon; /* stop when ||g|| / max(1, ||x||) < epsilon (1e-6) */
} lg_logreg_opts;

/* Defaults above. */
void lg_logreg_opts_default(lg_logreg_opts *o);

typedef struct {
    int iterations; /* L-BFGS iterations run */
    int status;     /* liblbfgs return code (0 = converged) */
    const char *status_text;
    double loss; /* final objective */
    double seconds;
} lg_logreg_fit_info;

/* Trains on rows[0..n_rows-1] of X (all rows when rows == NULL) with labels
 * y[row] in [0, n_classes). Errors: LG_EINVAL for no rows, fewer than two
 * classes present, a label out of range or a non-finite input value;
 * LG_EMODEL when the optimiser ends on a non-finite loss. Caller frees *out
 * with lg_logreg_free. info may be NULL. */
lg_err lg_logreg_train(const lg_embeddings *X, const int *y, const size_t *rows, size_t n_rows,
                       size_t n_classes, const lg_logreg_opts *o, lg_logreg **out,
                       lg_logreg_fit_info *info, lg_errmsg *err);

/* Allocates an all-zero model (for loading a bundle). */
lg_err lg_logreg_new(size_t n_classes, size_t dim, lg_logreg **out, lg_errmsg *err);
/* Call once W and b are final (training and bundle loading do): builds the
 * padded prediction copy. The model must not change afterwards. */
lg_err lg_logreg_seal(lg_logreg *m, lg_errmsg *err);
void lg_logreg_free(lg_logreg *m);
/* Builds the joint table from the sealed model and centroids dense[(D,
 * Kp)] of the same classes (lg_centroids' dense copy). */
lg_err lg_logreg_seal_joint(lg_logreg *m, const float *cent_dense, size_t cent_kp,
                            lg_errmsg *err);
/* As lg_logreg_predict_row, and *sim = the row's best cosine similarity to
 * a class centroid (0 when it shares nothing); needs lg_logreg_seal_joint. */
int lg_logreg_predict_row_joint(const lg_logreg *m, const lg_embeddings *X, size_t row,
                                float *proba /* (K) */, float *sim);

/* Class probabilities of row `row` of X into proba[0..K-1]. Returns the
 * arg-max class, or -1 when the scores are not finite (NaN/Inf in the
 * input): proba is then all zero. X->dim must equal m->dim. */
int lg_logreg_predict_row(const lg_logreg *m, const lg_embeddings *X, size_t row,
                          float *proba /* (K) */);

/* ---- Exposed for tests ------------------------------------------------------ */

typedef struct {
    const lg_embeddings *X;
    const int *y;
    const size_t *rows; /* NULL: all rows */
    size_t n_rows;
    size_t n_classes;
    const double *class_weight; /* (K) weight of each class's rows */
    const double *row_weight;   /* (n_rows) extra weight per row, or NULL */
    double C;
} lg_logreg_problem;

/* Objective at theta = [W (D, K) feature-major, b (K)]; writes the gradient
 * into grad (same layout) when non-NULL. */
double lg_logreg_objective(const lg_logreg_problem *p, const double *theta, double *grad);

#ifdef __cplusplus
}
#endif
#endif
