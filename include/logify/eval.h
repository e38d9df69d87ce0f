/* eval.h - one evaluation of the cascade over labelled rows, as `logify
 * eval` prints it and the console's evaluation view (POST /v1/eval on
 * `logify serve`) shows it: the report (accuracy, per-label precision,
 * recall, F1), the confusion matrix, rows and accuracy per stage, why rows
 * stayed Unclassified, and the true labels the model does not know
 * (src/pipeline/eval.c). The SVG of the two is lg_evalplot_svg
 * (logify/evalplot.h). */
#ifndef LOGIFY_EVAL_H
#define LOGIFY_EVAL_H

#include <jansson.h>

#include "logify/common.h"
#include "logify/confusion.h"
#include "logify/model.h"
#include "logify/pipeline.h"
#include "logify/progress.h"
#include "logify/report.h"
#include "logify/stage.h"
#include "logify/train.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_EVAL_MAX_KEYS 64

/* Row counts by a short text key (at most LG_EVAL_MAX_KEYS keys, the rest
 * counted in `other`). */
typedef struct {
    char *key[LG_EVAL_MAX_KEYS];
    uint64_t rows[LG_EVAL_MAX_KEYS];
    size_t n;
    uint64_t other;
} lg_eval_tally;

typedef struct {
    lg_report rep;      /* Unclassified counts as a wrong answer */
    lg_confusion cm;
    uint64_t rows[LG_STAGE_KINDS], correct[LG_STAGE_KINDS]; /* by the stage that decided */
    lg_eval_tally reasons; /* why rows stayed Unclassified (detail before ':') */
    lg_eval_tally unknown; /* true labels the model does not know, among rows it saw */
} lg_eval;

void lg_eval_init(lg_eval *ev);
void lg_eval_clear(lg_eval *ev); /* frees; init state after */

/* Classifies rows[0..n) with pl on worker w (one run) in batches and counts
 * each against its target_label. model (may be NULL) names the labels the
 * model knows. prog (may be NULL) is set to the rows done (the caller
 * starts its phase). */
lg_err lg_eval_rows(lg_eval *ev, const lg_pipeline *pl, lg_worker *w, const lg_model *model,
                    const lg_labeled_row *rows, size_t n, lg_progress *prog, lg_errmsg *err);

/* `logify eval --json`'s object: rows, accuracy, macro_f1, per_label,
 * confusion, per_stage, unclassified, unknown_to_model, model (model_desc).
 * NULL when out of memory; caller json_decref()s. */
json_t *lg_eval_json(const lg_eval *ev, const char *model_desc);

#ifdef __cplusplus
}
#endif
#endif
