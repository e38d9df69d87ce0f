/* evalplot.h - `logify eval --plot FILE.svg`: the confusion matrix and the
 * per-label precision, recall and F1 of one evaluation as one SVG, made
 * from the lg_report and lg_confusion that eval fills (the server's
 * console can draw the same from the same two).
 *
 * Layout: a title line with rows, accuracy and macro F1; the matrix (true
 * label down, predicted label across, labels in the report's order) with
 * each row's cells shaded by their share of the row (the diagonal blue,
 * mistakes red); to its right, on the same rows, bars and figures for
 * precision, recall, F1 and the support. Cell size and type shrink with
 * the number of labels (48 px cells up to 12 labels, down to 7 px: 200
 * labels make a 1,400 px matrix that stays legible when zoomed); the
 * counts are printed in the cells that can hold them and every non-empty
 * cell carries them as data-rows (and a tooltip), with data-truth and
 * data-pred naming its labels, so the figure can be checked against the
 * numbers. Labels are escaped (logify/svg.h) and cut to 32 characters on
 * the axes (the full text in a tooltip). */
#ifndef LOGIFY_EVALPLOT_H
#define LOGIFY_EVALPLOT_H

#include "logify/common.h"
#include "logify/confusion.h"
#include "logify/report.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends the SVG document to out. title: the heading's start (e.g. the
 * data file's name; NULL: "logify eval"). LG_ELIMIT (out full) or LG_EINVAL
 * (a label of the confusion missing from the report). */
lg_err lg_evalplot_svg(const lg_report *rep, const lg_confusion *cm, const char *title,
                       lg_buf *out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
