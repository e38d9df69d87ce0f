/* stage.c - record helpers, stage names and the "unavailable" stage. */
#include "logify/stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[LG_STAGE_KINDS] = {"none", "rules", "model", "llm"};

const char *lg_stage_kind_name(lg_stage_kind k) {
    return (unsigned)k < LG_STAGE_KINDS ? kind_names[k] : "?";
}

lg_err lg_stage_kind_parse(const char *name, lg_stage_kind *out) {
    for (int i = 1; i < LG_STAGE_KINDS; i++) {
        if (!strcmp(name, kind_names[i])) {
            *out = (lg_stage_kind)i;
            return LG_OK;
        }
    }
    return LG_EINVAL;
}

void lg_record_detail(lg_record *rec, const char *fmt, ...) {
    if (rec->no_detail) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->detail, sizeof rec->detail, fmt, ap);
    va_end(ap);
}

void lg_record_decide(lg_record *rec, lg_stage_kind stage, const char *label, double confidence) {
    rec->label = label;
    rec->stage = stage;
    rec->confidence = confidence;
}

void lg_stage_free(lg_stage *s) {
    if (s && s->ops && s->ops->ctx_free) s->ops->ctx_free(s->ctx);
    if (s) {
        s->ops = NULL;
        s->ctx = NULL;
    }
}

/* ---- The unavailable stage: one ops table per kind so that `name` and
 * `kind` stay truthful. ---- */

typedef struct {
    char reason[LG_DETAIL_MAX];
    char warning[768]; /* said once, when rows first reach the stage ("" = none) */
    lg_stage_kind kind;
} unavailable_ctx;

/* One warning per stage kind and process, however many routes and
 * pipelines use the stage. */
static int warned_kind[LG_STAGE_KINDS];

static lg_err unavailable_process(const void *ctx, void *scratch, lg_record **recs, size_t n,
                                  lg_errmsg *err) {
    (void)scratch;
    (void)err;
    const unavailable_ctx *u = ctx;
    if (n && u->warning[0]) {
        if (!__atomic_exchange_n(&warned_kind[u->kind], 1, __ATOMIC_ACQ_REL))
            lg_log(LG_LOG_WARN, "%s", u->warning);
    }
    for (size_t i = 0; i < n; i++) lg_record_detail(recs[i], "%s", u->reason);
    return LG_OK;
}

static void unavailable_free(void *ctx) { free(ctx); }

static const lg_stage_ops unavailable_ops[LG_STAGE_KINDS] = {
    {"none", LG_STAGE_NONE, NULL, NULL, unavailable_process, unavailable_free, NULL},
    {"rules", LG_STAGE_RULES, NULL, NULL, unavailable_process, unavailable_free, NULL},
    {"model", LG_STAGE_MODEL, NULL, NULL, unavailable_process, unavailable_free, NULL},
    {"llm", LG_STAGE_LLM, NULL, NULL, unavailable_process, unavailable_free, NULL},
};

lg_err lg_stage_unavailable_new(lg_stage_kind kind, const char *reason, lg_stage *out,
                                lg_errmsg *err) {
    if ((unsigned)kind >= LG_STAGE_KINDS) return lg_fail(err, LG_EINVAL, "unknown stage kind");
    unavailable_ctx *u = calloc(1, sizeof *u);
    if (!u) return lg_fail(err, LG_ENOMEM, "unavailable stage: out of memory");
    snprintf(u->reason, sizeof u->reason, "%s", reason);
    u->kind = kind;
    out->ops = &unavailable_ops[kind];
    out->ctx = u;
    return LG_OK;
}

void lg_stage_unavailable_warn(lg_stage *st, const char *warning) {
    if (!st->ops || st->ops != &unavailable_ops[st->ops->kind]) return;
    unavailable_ctx *u = st->ctx;
    snprintf(u->warning, sizeof u->warning, "%s", warning);
}
