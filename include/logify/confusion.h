/* confusion.h - a confusion matrix over any number of labels: (true label,
 * predicted label) -> rows, kept sparse (a hash of the cells that occur),
 * so that thousands of labels cost only the pairs seen. `logify eval`
 * fills one next to its lg_report; lg_evalplot_svg draws both. */
#ifndef LOGIFY_CONFUSION_H
#define LOGIFY_CONFUSION_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t truth, pred; /* label ids */
    uint64_t rows;
} lg_confusion_cell;

typedef struct {
    char **labels; /* (n_labels) in order of first appearance; id = index */
    size_t n_labels, labels_cap;
    uint32_t *lslot; /* (lslots) label hash: id + 1, 0 = empty */
    size_t lslots;
    lg_confusion_cell *cells; /* (cslots) open addressing; rows == 0: empty */
    size_t cslots, n_cells;
    uint64_t rows;
} lg_confusion;

void lg_confusion_init(lg_confusion *c);
void lg_confusion_clear(lg_confusion *c);
/* Counts one (truth, pred) row. LG_ENOMEM when a label or cell cannot be
 * stored; LG_ELIMIT beyond 2^31 labels. */
lg_err lg_confusion_add(lg_confusion *c, const char *truth, const char *pred, lg_errmsg *err);
/* Id of a label, or -1 if it never appeared. */
long lg_confusion_label_id(const lg_confusion *c, const char *label);
/* Rows with this (truth, pred) pair of ids. */
uint64_t lg_confusion_get(const lg_confusion *c, uint32_t truth, uint32_t pred);
/* {true label: {predicted label: rows}} with the non-empty cells only;
 * NULL when out of memory. Caller json_decref()s. */
json_t *lg_confusion_json(const lg_confusion *c);

#ifdef __cplusplus
}
#endif
#endif
