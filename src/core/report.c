/* report.c - per-label precision/recall/F1, accuracy and averages; text and
 * JSON output. See include/logify/report.h. */
#include "logify/report.h"

#include <stdlib.h>
#include <string.h>

void lg_report_init(lg_report *r) {
    memset(r, 0, sizeof *r);
}

void lg_report_clear(lg_report *r) {
    for (size_t i = 0; i < r->n_labels; i++)
        free(r->labels[i]);
    free(r->labels);
    free(r->tp);
    free(r->fp);
    free(r->fn);
    memset(r, 0, sizeof *r);
}

/* Room for one more label (arrays grow by doubling). */
static lg_err grow(lg_report *r, lg_errmsg *err) {
    if (r->n_labels < r->cap) return LG_OK;
    size_t nc = r->cap ? 2 * r->cap : 16;
    char **l = realloc(r->labels, nc * sizeof *l);
    if (l) r->labels = l;
    uint64_t *a = l ? realloc(r->tp, nc * sizeof *a) : NULL;
    if (a) r->tp = a;
    uint64_t *b = a ? realloc(r->fp, nc * sizeof *b) : NULL;
    if (b) r->fp = b;
    uint64_t *c = b ? realloc(r->fn, nc * sizeof *c) : NULL;
    if (c) r->fn = c;
    if (!c) return lg_fail(err, LG_ENOMEM, "out of memory (report labels)");
    r->cap = nc;
    return LG_OK;
}

/* Index of label, inserting it in sorted position; -1 on failure. */
static long label_index(lg_report *r, const char *label, lg_errmsg *err) {
    size_t lo = 0, hi = r->n_labels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->labels[mid], label);
        if (c == 0) return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (grow(r, err)) return -1;
    char *copy = lg_strdup(label);
    if (!copy) {
        lg_fail(err, LG_ENOMEM, "report labels: out of memory");
        return -1;
    }
    size_t tail = r->n_labels - lo;
    memmove(&r->labels[lo + 1], &r->labels[lo], tail * sizeof *r->labels);
    memmove(&r->tp[lo + 1], &r->tp[lo], tail * sizeof *r->tp);
    memmove(&r->fp[lo + 1], &r->fp[lo], tail * sizeof *r->fp);
    memmove(&r->fn[lo + 1], &r->fn[lo], tail * sizeof *r->fn);
    r->labels[lo] = copy;
    r->tp[lo] = r->fp[lo] = r->fn[lo] = 0;
    r->n_labels++;
    return (long)lo;
}

lg_err lg_report_add(lg_report *r, const char *truth, const char *pred, lg_errmsg *err) {
    long t = label_index(r, truth, err);
    if (t < 0) return LG_ENOMEM;
    long p = label_index(r, pred, err);
    if (p < 0) return LG_ENOMEM;
    t = label_index(r, truth, err); /* the insert of pred may have moved it */
    r->rows++;
    if (t == p) {
        r->tp[t]++;
        r->correct++;
    } else {
        r->fn[t]++;
        r->fp[p]++;
    }
    return LG_OK;
}

void lg_report_label(const lg_report *r, size_t i, lg_report_row *out) {
    uint64_t tp = r->tp[i], fp = r->fp[i], fn = r->fn[i];
    out->precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    out->recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    out->f1 = out->precision + out->recall > 0
                  ? 2 * out->precision * out->recall / (out->precision + out->recall)
                  : 0.0;
    out->support = tp + fn;
}

double lg_report_accuracy(const lg_report *r) {
    return r->rows ? (double)r->correct / (double)r->rows : 0.0;
}

static void average(const lg_report *r, int weighted, lg_report_row *out) {
    memset(out, 0, sizeof *out);
    double wsum = 0;
    for (size_t i = 0; i < r->n_labels; i++) {
        lg_report_row x;
        lg_report_label(r, i, &x);
        double w = weighted ? (double)x.support : 1.0;
        out->precision += w * x.precision;
        out->recall += w * x.recall;
        out->f1 += w * x.f1;
        out->support += x.support;
        wsum += w;
    }
    /* weighted: labels of support 0 weigh 0; macro: every label counts */
    if (wsum > 0) {
        out->precision /= wsum;
        out->recall /= wsum;
        out->f1 /= wsum;
    }
}

void lg_report_macro(const lg_report *r, lg_report_row *out) {
    average(r, 0, out);
}
void lg_report_weighted(const lg_report *r, lg_report_row *out) {
    average(r, 1, out);
}

void lg_report_print(const lg_report *r, FILE *f, const char *indent) {
    int w = 12;
    for (size_t i = 0; i < r->n_labels; i++)
        if ((int)strlen(r->labels[i]) > w) w = (int)strlen(r->labels[i]);
    fprintf(f, "%s%*s  precision  recall  f1-score  support\n", indent, w, "");
    for (size_t i = 0; i < r->n_labels; i++) {
        lg_report_row x;
        lg_report_label(r, i, &x);
        fprintf(f, "%s%*s  %9.4f  %6.4f  %8.4f  %7llu\n", indent, w, r->labels[i], x.precision,
                x.recall, x.f1, (unsigned long long)x.support);
    }
    lg_report_row m, wt;
    lg_report_macro(r, &m);
    lg_report_weighted(r, &wt);
    fprintf(f, "%s%*s  %9s  %6s  %8.4f  %7llu\n", indent, w, "accuracy", "", "",
            lg_report_accuracy(r), (unsigned long long)r->rows);
    fprintf(f, "%s%*s  %9.4f  %6.4f  %8.4f  %7llu\n", indent, w, "macro avg", m.precision, m.recall,
            m.f1, (unsigned long long)m.support);
    fprintf(f, "%s%*s  %9.4f  %6.4f  %8.4f  %7llu\n", indent, w, "weighted avg", wt.precision,
            wt.recall, wt.f1, (unsigned long long)wt.support);
}

static json_t *row_json(const lg_report_row *x) {
    return json_pack("{s:f, s:f, s:f, s:I}", "precision", x->precision, "recall", x->recall, "f1",
                     x->f1, "support", (json_int_t)x->support);
}

json_t *lg_report_json(const lg_report *r) {
    lg_report_row m, wt;
    lg_report_macro(r, &m);
    lg_report_weighted(r, &wt);
    json_t *per = json_object();
    if (!per) return NULL;
    for (size_t i = 0; i < r->n_labels; i++) {
        lg_report_row x;
        lg_report_label(r, i, &x);
        if (json_object_set_new(per, r->labels[i], row_json(&x))) { /* out of memory */
            json_decref(per);
            return NULL;
        }
    }
    return json_pack("{s:I, s:f, s:f, s:f, s:o, s:o, s:I, s:s, s:o}", "rows", (json_int_t)r->rows,
                     "accuracy", lg_report_accuracy(r), "macro_f1", m.f1, "weighted_f1", wt.f1,
                     "macro_avg", row_json(&m), "weighted_avg", row_json(&wt), "labels_in_macro",
                     (json_int_t)r->n_labels, "definitions", LG_REPORT_DEFINITION, "per_label",
                     per);
}
