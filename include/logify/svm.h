/* svm.h - one-vs-rest linear SVM (L2-regularised squared hinge loss, the
 * loss of scikit-learn's LinearSVC, with a regularised bias feature of
 * value 1), trained by dual coordinate descent with shrinking (Hsieh et
 * al. 2008, liblinear's solver), for label sets of any size.
 *
 * Scaling: class k is trained against its own rows and the rows whose
 * nearest class centroids (centroids.h) include k: the `candidates` (M)
 * nearest classes of every row. Prediction does the same: the M classes
 * nearest the line are scored and the best one wins. With M >= K this is
 * plain one-vs-rest. Cost of training: O(rows x M x features x epochs);
 * memory: one dense vector over the used features plus the sparse result.
 * Each class's weights are kept sparse (the features where they are not 0).
 * Identical rows are trained once with their multiplicity (cost C x m).
 * Deterministic: classes in order, rows in a seeded order.
 *
 * A probability for the route threshold: Platt scaling of the winning
 * decision value, p = 1 / (1 + exp(-(a s + b))), the chance that the
 * answer is right, with a and b fitted on the held-out split by the
 * trainer. Immutable once sealed. */
#ifndef LOGIFY_SVM_H
#define LOGIFY_SVM_H

#include "logify/centroids.h"
#include "logify/common.h"
#include "logify/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n_classes, dim;
    size_t *ptr;   /* (K + 1) class k's weights: idx/val[ptr[k] .. ptr[k+1]-1], idx ascending */
    uint32_t *idx; /* (nnz) */
    float *val;    /* (nnz) */
    float *bias;   /* (K) */
    size_t candidates;  /* M: classes scored per line */
    float platt_a, platt_b; /* probability of the winning decision value */
    const lg_centroids *cent; /* borrowed: retrieval (the bundle owns it) */
} lg_svm;

typedef struct {
    double C;          /* default 30 (measured, docs/model.md) */
    double epsilon;    /* stop when max - min projected gradient < epsilon (0.01) */
    int max_epochs;    /* 200 */
    size_t candidates; /* M (64) */
    uint64_t seed;     /* row order (1) */
    int threads;       /* classes trained on this many threads (1); the result does not depend on it */
} lg_svm_opts;

void lg_svm_opts_default(lg_svm_opts *o);

typedef struct {
    size_t pairs;       /* (row, class) pairs trained */
    size_t weights;     /* stored weights */
    double mean_epochs; /* per class */
    int max_epochs_hit; /* classes that stopped at the epoch limit */
    double seconds;
} lg_svm_fit_info;

/* Trains on rows[0..n-1] of X (sparse; NULL = all rows) with labels y[row]
 * in [0, K); cent must be the centroids of the same rows (candidate
 * retrieval; borrowed by the result). Caller frees *out with lg_svm_free. */
lg_err lg_svm_train(const lg_embeddings *X, const int *y, const size_t *rows, size_t n,
                    size_t n_classes, const lg_centroids *cent, const lg_svm_opts *o,
                    lg_svm **out, lg_svm_fit_info *info, lg_errmsg *err);

lg_err lg_svm_new(size_t n_classes, size_t dim, size_t nnz, lg_svm **out, lg_errmsg *err);
/* Checks the weights (ascending features < dim, finite). */
lg_err lg_svm_check(const lg_svm *m, lg_errmsg *err);
void lg_svm_free(lg_svm *m);

/* Per-thread prediction memory. */
typedef struct {
    lg_centroid_scratch cs;
    uint32_t *cand;  /* (M) after a prediction: the classes scored */
    float *score;    /* (M) and their decision values */
    size_t n_cand;
    float *xd;       /* (dim) the row being scored, dense; zero between rows */
} lg_svm_scratch;

lg_err lg_svm_scratch_init(const lg_svm *m, lg_svm_scratch *s, lg_errmsg *err);
void lg_svm_scratch_clear(lg_svm_scratch *s);

/* Best class of row `row` (-1 when the row shares nothing with any class
 * or gives non-finite scores), its probability in *prob and the row's best
 * centroid similarity in *sim. */
int lg_svm_predict_row(const lg_svm *m, const lg_embeddings *X, size_t row, lg_svm_scratch *s,
                       float *prob, float *sim);

#ifdef __cplusplus
}
#endif
#endif
