/* eval.c - one evaluation of the cascade over labelled rows (logify/eval.h):
 * what `logify eval` prints and the console's evaluation view shows, from
 * one function, so that the two agree. Rows go through the pipeline in
 * batches of EVAL_BATCH on the caller's worker (one run); each is counted
 * in the report, the confusion matrix, its deciding stage, and when it
 * stayed Unclassified, its reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/eval.h"
#include "logify/jsonguard.h"

#define EVAL_BATCH 1024

/* ---- Tallies ------------------------------------------------------------------------ */

static void tally_add(lg_eval_tally *t, const char *key) {
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->key[i], key)) {
            t->rows[i]++;
            return;
        }
    }
    if (t->n == LG_EVAL_MAX_KEYS || !(t->key[t->n] = lg_strdup(key))) {
        t->other++;
        return;
    }
    t->rows[t->n++] = 1;
}

static void tally_clear(lg_eval_tally *t) {
    for (size_t i = 0; i < t->n; i++) free(t->key[i]);
    memset(t, 0, sizeof *t);
}

static json_t *tally_json(const lg_eval_tally *t, const char *other) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < t->n; i++)
        json_object_set_new(o, t->key[i], json_integer((json_int_t)t->rows[i]));
    if (o && t->other) json_object_set_new(o, other, json_integer((json_int_t)t->other));
    return o;
}

/* Groups a detail by its text before the first ':' (so "model below
 * threshold: Error p=0.41 < 0.50" counts as "model below threshold"). */
static void count_reason(lg_eval *ev, const char *detail) {
    char key[96];
    size_t n = strcspn(detail, ":");
    if (n >= sizeof key) n = sizeof key - 1;
    memcpy(key, detail, n);
    key[n] = '\0';
    if (!key[0]) snprintf(key, sizeof key, "(no reason given)");
    tally_add(&ev->reasons, key);
}

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0.0; }

/* ---- The evaluation ------------------------------------------------------------------- */

void lg_eval_init(lg_eval *ev) {
    memset(ev, 0, sizeof *ev);
    lg_report_init(&ev->rep);
    lg_confusion_init(&ev->cm);
}

void lg_eval_clear(lg_eval *ev) {
    lg_report_clear(&ev->rep);
    lg_confusion_clear(&ev->cm);
    tally_clear(&ev->reasons);
    tally_clear(&ev->unknown);
    lg_eval_init(ev);
}

lg_err lg_eval_rows(lg_eval *ev, const lg_pipeline *pl, lg_worker *w, const lg_model *model,
                    const lg_labeled_row *rows, size_t n, lg_progress *prog, lg_errmsg *err) {
    lg_record *recs = calloc(EVAL_BATCH, sizeof *recs);
    if (!recs) return lg_fail(err, LG_ENOMEM, "eval batch: out of memory");
    lg_err e = LG_OK;
    lg_worker_begin_run(w);
    for (size_t start = 0; start < n && !e; start += EVAL_BATCH) {
        lg_progress_set(prog, start, 0);
        size_t k = n - start < EVAL_BATCH ? n - start : EVAL_BATCH;
        for (size_t i = 0; i < k; i++) {
            const lg_labeled_row *r = &rows[start + i];
            lg_record *rec = &recs[i];
            rec->source = r->source;
            rec->source_len = strlen(r->source);
            rec->message = r->message;
            rec->message_len = r->message_len;
            lg_record_reset(rec);
        }
        if ((e = lg_pipeline_run(pl, w, recs, k, err))) break;
        for (size_t i = 0; i < k && !e; i++) {
            const lg_record *rec = &recs[i];
            const char *truth = rows[start + i].label;
            int ok = !strcmp(rec->label, truth);
            ev->rows[rec->stage]++;
            ev->correct[rec->stage] += ok && rec->stage != LG_STAGE_NONE;
            if (rec->stage == LG_STAGE_NONE) count_reason(ev, rec->detail);
            size_t idx;
            int saw_model = rec->stage == LG_STAGE_MODEL ||
                            (rec->stage == LG_STAGE_NONE && !strncmp(rec->detail, "model", 5));
            if (model && saw_model && lg_model_label_index(model, truth, &idx, NULL))
                tally_add(&ev->unknown, truth);
            e = lg_report_add(&ev->rep, truth, rec->label, err);
            if (!e) e = lg_confusion_add(&ev->cm, truth, rec->label, err);
        }
    }
    if (!e) lg_progress_set(prog, n, 0);
    free(recs);
    return e;
}

json_t *lg_eval_json(const lg_eval *ev, const char *model_desc) {
    unsigned long mark = lg_json_alloc_mark(); /* a failed json_* call: a field missing */
    json_t *j = lg_report_json(&ev->rep), *conf = lg_confusion_json(&ev->cm);
    json_t *per = json_object(), *reasons = tally_json(&ev->reasons, "(other reasons)");
    json_t *unknown = tally_json(&ev->unknown, "(other labels)");
    if (!j || !conf || !per || !reasons || !unknown) {
        json_decref(j), json_decref(conf), json_decref(per), json_decref(reasons),
            json_decref(unknown);
        return NULL;
    }
    json_object_set_new(j, "confusion", conf);
    for (int s = 0; s < LG_STAGE_KINDS; s++)
        json_object_set_new(per, lg_stage_kind_name((lg_stage_kind)s),
                            json_pack("{s:I, s:I, s:f}", "rows", (json_int_t)ev->rows[s], "correct",
                                      (json_int_t)ev->correct[s], "accuracy",
                                      ratio(ev->correct[s], ev->rows[s])));
    json_object_set_new(j, "per_stage", per);
    json_object_set_new(j, "unclassified",
                        json_pack("{s:I, s:o}", "rows", (json_int_t)ev->rows[0], "reasons", reasons));
    json_object_set_new(j, "unknown_to_model", unknown);
    json_object_set_new(j, "model", json_string(model_desc));
    if (lg_json_alloc_failed_since(mark)) {
        json_decref(j);
        return NULL;
    }
    return j;
}
