/* report.h - a classification report (per label precision, recall, F1,
 * support; accuracy; macro and weighted averages), as scikit-learn's
 * classification_report prints it, plus JSON for `--json` and the bundle.
 *
 * Standard definitions (scikit-learn's precision_recall_fscore_support with
 * zero_division=0): the labels are the union of the true and the predicted
 * ones, a label only ever predicted (e.g. "Unclassified") included with
 * support 0 (its recall and F1 are 0); the macro average is the plain mean
 * over that union; the weighted average weighs each label by its support.
 * Labels are kept in byte order of their names; there is no cap on their
 * number (a sorted array, binary search). */
#ifndef LOGIFY_REPORT_H
#define LOGIFY_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_REPORT_DEFINITION                                                                     \
    "macro: unweighted mean over the union of true and predicted labels (a label only "          \
    "predicted, such as Unclassified, counts with F1 0); weighted: mean weighted by support; "   \
    "accuracy: correct / rows (scikit-learn's definitions, zero_division=0)"

typedef struct {
    size_t n_labels, cap;
    char **labels;          /* (cap) sorted */
    uint64_t *tp, *fp, *fn; /* (cap) */
    uint64_t rows, correct;
} lg_report;

/* Zeroed report; free with lg_report_clear. */
void lg_report_init(lg_report *r);
void lg_report_clear(lg_report *r);

/* Counts one (truth, prediction) pair. LG_ENOMEM when a new label cannot
 * be stored. */
lg_err lg_report_add(lg_report *r, const char *truth, const char *pred, lg_errmsg *err);

typedef struct {
    double precision, recall, f1;
    uint64_t support;
} lg_report_row;

void lg_report_label(const lg_report *r, size_t i, lg_report_row *out);
double lg_report_accuracy(const lg_report *r);
/* macro: mean over every label (true or predicted); weighted: by support */
void lg_report_macro(const lg_report *r, lg_report_row *out);
void lg_report_weighted(const lg_report *r, lg_report_row *out);

/* Text table, sklearn style, each line prefixed with indent. */
void lg_report_print(const lg_report *r, FILE *f, const char *indent);
/* {"rows", "accuracy", "macro_f1", "weighted_f1", "macro_avg": {...},
 *  "weighted_avg": {...}, "labels_in_macro": N, "definitions": "...",
 *  "per_label": {label: {precision, recall, f1, support}}}; NULL when out
 *  of memory. Caller json_decref()s. */
json_t *lg_report_json(const lg_report *r);

#ifdef __cplusplus
}
#endif
#endif
