/* centroids.h - class centroids in the encoder's space: per label, the
 * mean of its training rows scaled to unit length, stored sparse (CSR by
 * class) with a feature-major inverted index for scoring.
 *
 * Two uses: the open set (a line whose best cosine similarity to every
 * centroid is below a threshold is "unlike any training line" and the
 * model stage passes it on) and candidate retrieval for the one-vs-rest
 * SVM (svm.h): the classes whose centroids are nearest a row.
 * Immutable once sealed: score from any number of threads, each with its
 * own lg_centroid_scratch. No cap on the number of classes. */
#ifndef LOGIFY_CENTROIDS_H
#define LOGIFY_CENTROIDS_H

#include "logify/common.h"
#include "logify/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n_classes, dim;
    size_t *ptr;  /* (K + 1) row k is idx/val[ptr[k] .. ptr[k+1]-1], idx ascending */
    uint32_t *idx; /* (nnz) feature */
    float *val;    /* (nnz) */
    /* built by lg_centroids_seal: the same values by feature */
    size_t *fptr;  /* (dim + 1) */
    uint32_t *fcls; /* (nnz) class */
    float *fval;    /* (nnz) */
    /* few classes (<= LG_CENTROIDS_DENSE_MAX): also dense, feature-major,
     * rows padded to Kp = K rounded up to 4, so that scoring is one
     * fixed-width pass like the logistic regression's */
    float *dense; /* (dim, Kp) or NULL */
    size_t Kp;
} lg_centroids;

#define LG_CENTROIDS_DENSE_MAX 64

/* Mean of rows[0..n-1] of X (all rows when rows == NULL) per label y[row]
 * in [0, K), each row counted weight[r] times (NULL: once), scaled to unit
 * L2 norm; sealed. Works on sparse and dense rows. A class without rows
 * gets an empty centroid. Free with lg_centroids_free. */
lg_err lg_centroids_build(const lg_embeddings *X, const int *y, const size_t *rows, size_t n,
                          const double *weight, size_t n_classes, lg_centroids **out,
                          lg_errmsg *err);

/* Allocates an unsealed model with nnz stored values (bundle loading
 * fills ptr/idx/val, then seals). */
lg_err lg_centroids_new(size_t n_classes, size_t dim, size_t nnz, lg_centroids **out,
                        lg_errmsg *err);
/* Checks ptr/idx (ascending features < dim) and builds the inverted index. */
lg_err lg_centroids_seal(lg_centroids *c, lg_errmsg *err);
void lg_centroids_free(lg_centroids *c);

/* Per-thread scoring memory. */
typedef struct {
    float *acc;       /* (K) similarity of each class, valid where touched */
    uint32_t *touched; /* (K) classes with a non-zero similarity */
    size_t n_touched;
    uint8_t *mark;    /* (K) */
} lg_centroid_scratch;

lg_err lg_centroid_scratch_init(const lg_centroids *c, lg_centroid_scratch *s, lg_errmsg *err);
void lg_centroid_scratch_clear(lg_centroid_scratch *s);

/* Cosine similarity of row `row` of X with every centroid (the row is
 * scaled to unit length first): fills s->acc / s->touched; returns the
 * best similarity and its class in *best (-1 and 0.0 when no feature is
 * shared with any centroid). */
float lg_centroids_score(const lg_centroids *c, const lg_embeddings *X, size_t row,
                         lg_centroid_scratch *s, int *best);

/* After lg_centroids_score: the (at most) m touched classes of highest
 * similarity into out (ties: lower class first); returns how many. */
size_t lg_centroids_top(const lg_centroid_scratch *s, size_t m, uint32_t *out);

#ifdef __cplusplus
}
#endif
#endif
