/* model.h - the model stage: a sentence encoder plus a multinomial logistic
 * regression, loaded from a model bundle directory (docs/model.md).
 * A loaded lg_model is immutable and shared by all threads. */
#ifndef LOGIFY_MODEL_H
#define LOGIFY_MODEL_H

#include "logify/common.h"
#include "logify/encoder.h"
#include "logify/logreg.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_model lg_model;

/* Loads and validates a bundle. Caller frees with lg_model_free. */
lg_err lg_model_load(const char *dir, lg_model **out, lg_errmsg *err);
void lg_model_free(lg_model *m);

/* The model stage for one route: a line whose best similarity to the class
 * centroids is below the bundle's open-set threshold is passed on ("unlike
 * any training line: similarity 0.31 < 0.60"); otherwise it answers when
 * the top probability is at least spec->threshold (or default_threshold
 * when spec->threshold < 0), else passes the record on with its best guess
 * in detail. Borrows m. */
lg_err lg_model_stage_new(const lg_model *m, const lg_stage_spec *spec, double default_threshold,
                          lg_stage *out, lg_errmsg *err);

/* ---- Direct use (train/eval/bench) -------------------------------------------- */

size_t lg_model_n_labels(const lg_model *m);
/* Label of class i (owned by m, lives as long as m). */
const char *lg_model_label(const lg_model *m, size_t i);
/* Class index of a label name; LG_ENOTFOUND (with a message naming the
 * label and the model's labels) when the model does not know it. */
lg_err lg_model_label_index(const lg_model *m, const char *label, size_t *out, lg_errmsg *err);
/* Threshold recorded in the bundle. */
double lg_model_threshold(const lg_model *m);
const lg_encoder *lg_model_encoder(const lg_model *m);
/* The logistic regression (NULL for an ovr_linear_svm bundle). */
const lg_logreg *lg_model_classifier(const lg_model *m);
/* "multinomial_logreg" or "ovr_linear_svm". */
const char *lg_model_classifier_type(const lg_model *m);
/* Open-set threshold recorded in the bundle; -1 when the bundle has no
 * centroids (no open-set check). */
double lg_model_unknown_threshold(const lg_model *m);
/* Training figures recorded in the bundle (JSON object text), or NULL. */
const char *lg_model_training_json(const lg_model *m);

/* Per-thread working memory for lg_model_predict. */
typedef struct lg_model_scratch lg_model_scratch;
lg_err lg_model_scratch_new(const lg_model *m, lg_model_scratch **out, lg_errmsg *err);
void lg_model_scratch_free(lg_model_scratch *s);

/* Encodes msgs[0..n-1] as one batch and predicts: class[i] is the best
 * class (-1 when the input gave non-finite scores or shares nothing with
 * any class), prob[i] its probability and, when sim is not NULL, sim[i]
 * the line's best cosine similarity to a class centroid (1 when the
 * bundle has no centroids). */
lg_err lg_model_predict(const lg_model *m, lg_model_scratch *s, const char *const *msgs,
                        const size_t *lens, size_t n, int *cls /* (n) */, float *prob /* (n) */,
                        float *sim /* (n) or NULL */, lg_errmsg *err);

/* The same with each line's source (srcs[i] of src_lens[i] bytes; srcs
 * NULL: none), which a bundle trained with the source feature uses
 * (srcfeat.h); other bundles ignore it. */
lg_err lg_model_predict_src(const lg_model *m, lg_model_scratch *s, const char *const *msgs,
                            const size_t *lens, const char *const *srcs, const size_t *src_lens,
                            size_t n, int *cls, float *prob, float *sim, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
