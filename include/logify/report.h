/* report.h - a classification report (per label precision, recall, F1,
 * support; accuracy; macro and weighted averages), as scikit-learn's
 * classification_report prints it, plus JSON for `--json` and the bundle.
 *
 * Labels are kept in byte order of their names. A label that only ever
 * appears as a prediction (e.g. "Unclassified") is listed with support 0
 * but left out of the macro and weighted averages, which run over the
 * labels present in the truth. */
#ifndef LOGIFY_REPORT_H
#define LOGIFY_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_REPORT_MAX_LABELS 256

typedef struct {
    size_t n_labels;
    char *labels[LG_REPORT_MAX_LABELS]; /* sorted */
    uint64_t tp[LG_REPORT_MAX_LABELS], fp[LG_REPORT_MAX_LABELS], fn[LG_REPORT_MAX_LABELS];
    uint64_t rows, correct;
} lg_report;

/* Zeroed report; free with lg_report_clear. */
void lg_report_init(lg_report *r);
void lg_report_clear(lg_report *r);

/* Counts one (truth, prediction) pair. LG_ELIMIT past LG_REPORT_MAX_LABELS
 * distinct labels. */
lg_err lg_report_add(lg_report *r, const char *truth, const char *pred, lg_errmsg *err);

typedef struct {
    double precision, recall, f1;
    uint64_t support;
} lg_report_row;

void lg_report_label(const lg_report *r, size_t i, lg_report_row *out);
double lg_report_accuracy(const lg_report *r);
/* averages over labels with support > 0 */
void lg_report_macro(const lg_report *r, lg_report_row *out);
void lg_report_weighted(const lg_report *r, lg_report_row *out);

/* Text table, sklearn style, each line prefixed with indent. */
void lg_report_print(const lg_report *r, FILE *f, const char *indent);
/* {"rows", "accuracy", "macro_f1", "weighted_f1", "macro_avg": {...},
 *  "weighted_avg": {...}, "per_label": {label: {precision, recall, f1,
 *  support}}}; NULL when out of memory. Caller json_decref()s. */
json_t *lg_report_json(const lg_report *r);

#ifdef __cplusplus
}
#endif
#endif
