/* model.h - the model stage: a sentence encoder plus a multinomial logistic
 * regression, loaded from a model bundle directory (docs/model.md).
 * A loaded lg_model is immutable and shared by all threads. */
#ifndef LOGIFY_MODEL_H
#define LOGIFY_MODEL_H

#include "logify/common.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_model lg_model;

/* Loads and validates a bundle. Caller frees with lg_model_free. */
lg_err lg_model_load(const char *dir, lg_model **out, lg_errmsg *err);
void lg_model_free(lg_model *m);

/* The model stage for one route: answers when the top probability is at
 * least spec->threshold (or default_threshold when spec->threshold < 0),
 * else passes the record on with its best guess in detail. Borrows m. */
lg_err lg_model_stage_new(const lg_model *m, const lg_stage_spec *spec, double default_threshold,
                          lg_stage *out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
