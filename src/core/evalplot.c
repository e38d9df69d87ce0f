/* evalplot.c - the SVG of `logify eval --plot` (include/logify/evalplot.h):
 * confusion matrix on the left, per-label precision / recall / F1 /
 * support on the same rows to its right. Sizes follow the label count;
 * every label goes through lg_svg_text. */
#include "logify/evalplot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/svg.h"

#define AXIS_CHARS 32  /* label characters shown on an axis */
#define PAD 16.0
#define BAR_W 70.0     /* a metric's bar at 1.0 */
#define COL_W 118.0    /* a metric column: bar + figure */
#define DIAG_RGB 0x1f77b4
#define MISS_RGB 0xd62728

typedef struct {
    size_t n;       /* labels (the report's, in its order) */
    double cell;    /* px per cell */
    double fs;      /* axis label font size */
    double left;    /* x of the matrix */
    double top;     /* y of the matrix */
    double metrics; /* x of the metrics block */
} layout;

/* Index of label in the report's sorted table, or -1. */
static long report_index(const lg_report *r, const char *label) {
    size_t lo = 0, hi = r->n_labels;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->labels[mid], label);
        if (!c) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* white -> rgb at t in [0, 1], as "#rrggbb" */
static void shade(unsigned rgb, double t, char out[8]) {
    unsigned c[3] = {rgb >> 16 & 0xFF, rgb >> 8 & 0xFF, rgb & 0xFF};
    for (int i = 0; i < 3; i++) c[i] = (unsigned)(255 - (255 - (double)c[i]) * t + 0.5);
    snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static void plan(const lg_report *r, layout *L) {
    L->n = r->n_labels;
    double n = L->n ? (double)L->n : 1;
    L->cell = n <= 12 ? 48 : 640 / n < 7 ? 7 : 640 / n > 48 ? 48 : (double)(int)(640 / n);
    L->fs = L->cell - 1 < 12 ? L->cell - 1 : 12;
    size_t longest = 1;
    for (size_t i = 0; i < L->n; i++) {
        size_t k = lg_svg_chars(r->labels[i]);
        if (k > longest) longest = k;
    }
    if (longest > AXIS_CHARS) longest = AXIS_CHARS;
    double label_px = 0.62 * L->fs * (double)longest + 8; /* a generous average glyph */
    L->left = PAD + 22 + label_px;                        /* "true label" + the names */
    L->top = 64 + 18 + label_px;                          /* title + "predicted" + names */
    L->metrics = L->left + L->cell * n + 24;
}

static lg_err heading(lg_buf *b, const lg_report *r, const char *title, const layout *L) {
    double n = (double)L->n, w = L->metrics + 4 * COL_W + PAD;
    double h = L->top + L->cell * n + PAD + 24;
    lg_report_row macro;
    lg_report_macro(r, &macro);
    lg_err e = lg_buf_printf(
        b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
        "viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans, Arial, sans-serif\" "
        "data-labels=\"%zu\">\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
        "<text class=\"title\" x=\"%.0f\" y=\"28\" font-size=\"18\">",
        w, h, w, h, L->n, PAD);
    if (!e) e = lg_svg_text(b, title ? title : "logify eval", 120);
    if (!e)
        e = lg_buf_printf(b,
                          "</text>\n<text x=\"%.0f\" y=\"50\" font-size=\"13\" fill=\"#444444\">"
                          "%llu rows, %zu labels, accuracy %.4f, macro F1 %.4f; a cell's shade: "
                          "its share of the true label's rows (diagonal blue, mistakes red)"
                          "</text>\n",
                          PAD, (unsigned long long)r->rows, L->n, lg_report_accuracy(r), macro.f1);
    /* axis titles */
    if (!e)
        e = lg_buf_printf(b,
                          "<text x=\"%.1f\" y=\"76\" font-size=\"13\" font-weight=\"bold\" "
                          "text-anchor=\"middle\">predicted label</text>\n"
                          "<text font-size=\"13\" font-weight=\"bold\" text-anchor=\"middle\" "
                          "transform=\"translate(%.1f %.1f) rotate(-90)\">true label</text>\n",
                          L->left + L->cell * n / 2, PAD + 8, L->top + L->cell * n / 2);
    return e;
}

/* The names down the left (true) and across the top (predicted, turned). */
static lg_err axis_labels(lg_buf *b, const lg_report *r, const layout *L) {
    lg_err e = lg_buf_printf(b, "<g font-size=\"%.1f\" fill=\"#222222\">\n", L->fs);
    for (size_t i = 0; i < L->n && !e; i++) {
        double mid = L->cell * ((double)i + 0.5) + L->fs * 0.35;
        e = lg_buf_printf(b, "<text class=\"truth-label\" x=\"%.1f\" y=\"%.1f\" "
                             "text-anchor=\"end\"><title>", L->left - 4, L->top + mid);
        if (!e) e = lg_svg_text(b, r->labels[i], 0);
        if (!e) e = lg_buf_printf(b, "</title>");
        if (!e) e = lg_svg_text(b, r->labels[i], AXIS_CHARS);
        if (!e)
            e = lg_buf_printf(b,
                              "</text>\n<text class=\"pred-label\" transform=\"translate(%.1f "
                              "%.1f) rotate(-90)\"><title>",
                              L->left + mid, L->top - 4);
        if (!e) e = lg_svg_text(b, r->labels[i], 0);
        if (!e) e = lg_buf_printf(b, "</title>");
        if (!e) e = lg_svg_text(b, r->labels[i], AXIS_CHARS);
        if (!e) e = lg_buf_printf(b, "</text>\n");
    }
    if (!e) e = lg_buf_printf(b, "</g>\n");
    return e;
}

/* One non-empty cell: shaded rect with its numbers, and the count inside
 * when it fits. */
static lg_err cell(lg_buf *b, const lg_report *r, const layout *L, size_t t, size_t p,
                   uint64_t rows, uint64_t support) {
    double share = support ? (double)rows / (double)support : 1.0;
    char fill[8];
    /* a square root: a few rows among many still show */
    shade(t == p ? DIAG_RGB : MISS_RGB, 0.2 + 0.8 * sqrt(share), fill);
    double x = L->left + L->cell * (double)p, y = L->top + L->cell * (double)t;
    lg_err e = lg_buf_printf(b, "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                                "height=\"%.1f\" fill=\"%s\" data-truth=\"",
                             x, y, L->cell, L->cell, fill);
    if (!e) e = lg_svg_text(b, r->labels[t], 0);
    if (!e) e = lg_buf_printf(b, "\" data-pred=\"");
    if (!e) e = lg_svg_text(b, r->labels[p], 0);
    if (!e) e = lg_buf_printf(b, "\" data-rows=\"%llu\"><title>", (unsigned long long)rows);
    if (!e) e = lg_svg_text(b, r->labels[t], 0);
    if (!e) e = lg_buf_printf(b, " -&gt; ");
    if (!e) e = lg_svg_text(b, r->labels[p], 0);
    if (!e)
        e = lg_buf_printf(b, ": %llu rows (%.1f%% of the true label)</title></rect>\n",
                          (unsigned long long)rows, 100 * share);
    char num[24];
    int digits = snprintf(num, sizeof num, "%llu", (unsigned long long)rows);
    double fs = L->cell >= 40 ? 12 : L->cell * 0.42;
    if (!e && L->cell >= 20 && digits * fs * 0.62 <= L->cell - 4)
        e = lg_buf_printf(b,
                          "<text class=\"count\" x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" "
                          "text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
                          x + L->cell / 2, y + L->cell / 2 + fs * 0.35, fs,
                          share > 0.55 ? "#ffffff" : "#222222", num);
    return e;
}

static lg_err matrix(lg_buf *b, const lg_report *r, const lg_confusion *cm, const layout *L,
                     lg_errmsg *err) {
    double side = L->cell * (double)L->n;
    lg_err e = lg_buf_printf(b,
                             "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                             "fill=\"#fafafa\" stroke=\"#bbbbbb\"/>\n",
                             L->left, L->top, side, side);
    if (!e && L->n <= 60) { /* a grid while the cells are big enough to want one */
        e = lg_buf_printf(b, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
        for (size_t i = 1; i < L->n && !e; i++) {
            double o = L->cell * (double)i;
            e = lg_buf_printf(b,
                              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                              L->left + o, L->top, L->left + o, L->top + side, L->left,
                              L->top + o, L->left + side, L->top + o);
        }
        if (!e) e = lg_buf_printf(b, "</g>\n");
    }
    if (e) return e;
    /* the confusion's label ids -> the report's order */
    long *at = malloc((cm->n_labels ? cm->n_labels : 1) * sizeof *at);
    if (!at) return lg_fail(err, LG_ENOMEM, "eval plot: out of memory");
    for (size_t i = 0; i < cm->n_labels; i++) {
        if ((at[i] = report_index(r, cm->labels[i])) < 0) {
            free(at);
            return lg_fail(err, LG_EINVAL, "plot: label '%.80s' is in the confusion matrix "
                                           "but not in the report", cm->labels[i]);
        }
    }
    if (!e) e = lg_buf_printf(b, "<g class=\"cells\">\n");
    for (size_t s = 0; s < cm->cslots && !e; s++) {
        const lg_confusion_cell *c = &cm->cells[s];
        if (!c->rows) continue;
        size_t t = (size_t)at[c->truth], p = (size_t)at[c->pred];
        e = cell(b, r, L, t, p, c->rows, r->tp[t] + r->fn[t]);
    }
    if (!e) e = lg_buf_printf(b, "</g>\n");
    free(at);
    return e;
}

/* Precision, recall, F1 (bars + figures) and support, on the matrix's rows. */
static lg_err metrics(lg_buf *b, const lg_report *r, const layout *L) {
    static const char *const names[] = {"precision", "recall", "F1", "support"};
    double fs = L->fs < 11 ? L->fs : 11, bar_h = L->cell * 0.7;
    lg_err e = lg_buf_printf(b, "<g font-size=\"12\" font-weight=\"bold\">\n");
    for (int k = 0; k < 4 && !e; k++)
        e = lg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          L->metrics + COL_W * k, L->top - 8, names[k]);
    if (!e) e = lg_buf_printf(b, "</g>\n<g class=\"metrics\" font-size=\"%.1f\">\n", fs);
    for (size_t i = 0; i < L->n && !e; i++) {
        lg_report_row row;
        lg_report_label(r, i, &row);
        double v[3] = {row.precision, row.recall, row.f1};
        double y = L->top + L->cell * (double)i;
        e = lg_buf_printf(b, "<g class=\"label-metrics\" data-label=\"");
        if (!e) e = lg_svg_text(b, r->labels[i], 0);
        if (!e)
            e = lg_buf_printf(b, "\" data-precision=\"%.4f\" data-recall=\"%.4f\" "
                                 "data-f1=\"%.4f\" data-support=\"%llu\">",
                              v[0], v[1], v[2], (unsigned long long)row.support);
        for (int k = 0; k < 3 && !e; k++) {
            double x = L->metrics + COL_W * k;
            e = lg_buf_printf(b,
                              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                              "fill=\"#eeeeee\"/><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"%.1f\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%.3f"
                              "</text>",
                              x, y + (L->cell - bar_h) / 2, BAR_W, bar_h, x,
                              y + (L->cell - bar_h) / 2, BAR_W * v[k], bar_h,
                              k == 2 ? "#2ca02c" : "#7f7f7f", x + BAR_W + 4,
                              y + L->cell / 2 + fs * 0.35, v[k]);
        }
        if (!e)
            e = lg_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%llu</text></g>\n",
                              L->metrics + COL_W * 3, y + L->cell / 2 + fs * 0.35,
                              (unsigned long long)row.support);
    }
    if (!e) e = lg_buf_printf(b, "</g>\n");
    return e;
}

lg_err lg_evalplot_svg(const lg_report *rep, const lg_confusion *cm, const char *title,
                       lg_buf *out, lg_errmsg *err) {
    layout L;
    plan(rep, &L);
    lg_err e = heading(out, rep, title, &L);
    if (!e) e = axis_labels(out, rep, &L);
    if (!e) {
        lg_errmsg why = {0};
        e = matrix(out, rep, cm, &L, &why);
        if (e && why.msg[0]) return lg_fail(err, e, "%s", why.msg);
    }
    if (!e) e = metrics(out, rep, &L);
    if (!e) e = lg_buf_printf(out, "</svg>\n");
    if (e) return lg_fail(err, e, "plot: the SVG does not fit in its buffer");
    return LG_OK;
}
