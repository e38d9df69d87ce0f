/* stage.h - records and the one interface every classification stage
 * (rules, model, LLM) implements.
 *
 * A stage is a struct of function pointers plus an immutable per-instance
 * context (Fluent Bit's plugin shape). The context is built once per route
 * from shared, read-only resources (rule database, model, LLM client) and
 * is safe to use from several threads at once; anything a call needs to
 * mutate lives in the per-thread scratch that scratch_new() makes.
 */
#ifndef LOGIFY_STAGE_H
#define LOGIFY_STAGE_H

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LG_STAGE_NONE = 0, /* nothing decided the record */
    LG_STAGE_RULES = 1,
    LG_STAGE_MODEL = 2,
    LG_STAGE_LLM = 3
} lg_stage_kind;

#define LG_STAGE_KINDS 4

/* "none", "rules", "model", "llm". */
const char *lg_stage_kind_name(lg_stage_kind k);
/* Parses a stage name; returns LG_EINVAL for an unknown one. */
lg_err lg_stage_kind_parse(const char *name, lg_stage_kind *out);

/* The label written for records no stage could decide. */
#define LG_UNCLASSIFIED "Unclassified"

#define LG_DETAIL_MAX 256

/* One log line travelling through the cascade. Input fields are borrowed
 * from the batch that owns the row; outcome fields are written by stages. */
typedef struct {
    const char *source;  /* NUL-terminated; "" when the column is empty */
    size_t source_len;
    const char *message; /* NUL-terminated; may hold invalid UTF-8 bytes */
    size_t message_len;

    const char *label;   /* NULL while undecided; else a string that lives
                            as long as the pipeline (stage-owned) */
    lg_stage_kind stage; /* stage that decided it (NONE if none did) */
    double confidence;   /* 1.0 for rules, probability for the model,
                            -1 when not known */
    char detail[LG_DETAIL_MAX]; /* rule id, best guess, or the reason the
                                   record was passed on / left unclassified */
    int no_detail;       /* set by the caller when nothing will read detail
                            (classify and kafka without --explain):
                            lg_record_detail then formats nothing */
} lg_record;

/* Writes a formatted detail into rec (truncated to fit). */
void lg_record_detail(lg_record *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Marks rec as decided. label must outlive the pipeline. */
void lg_record_decide(lg_record *rec, lg_stage_kind stage, const char *label, double confidence);

/* Per-route settings of one stage, from the route table. */
typedef struct {
    lg_stage_kind kind;
    double threshold;  /* model: answer only when p >= threshold; < 0 means
                          the default (0.5) */
    char **labels;     /* llm: allowed labels; NULL means the default set */
    size_t n_labels;
} lg_stage_spec;

typedef struct {
    const char *name; /* same as lg_stage_kind_name(kind) */
    lg_stage_kind kind;
    /* Makes per-thread scratch; may set *out = NULL when none is needed. */
    lg_err (*scratch_new)(const void *ctx, void **out, lg_errmsg *err);
    void (*scratch_free)(void *scratch);
    /* Decides what it can among recs[0..n-1] (all undecided, all routed to
     * this stage, in input order). A decided record gets
     * lg_record_decide(); a record passed on keeps label == NULL and may get
     * a detail saying why. Per-record trouble becomes that record's detail;
     * an error return stops the whole run and is for failures of the stage
     * itself. */
    lg_err (*process)(const void *ctx, void *scratch, lg_record **recs, size_t n,
                      lg_errmsg *err);
    void (*ctx_free)(void *ctx);
    /* Optional (NULL: nothing to do). A new run begins on this scratch: one
     * `logify classify` / `eval`, one HTTP request. Per-run budgets (the
     * llm stage's deadline) start again. */
    void (*scratch_begin_run)(void *scratch);
} lg_stage_ops;

/* A stage instance: ops plus its immutable context. */
typedef struct {
    const lg_stage_ops *ops;
    void *ctx;
} lg_stage;

/* Frees the context; a zeroed stage is fine. */
void lg_stage_free(lg_stage *s);

/* A stage that decides nothing and writes `reason` as each record's detail
 * (for example "stage model not available"): a missing stage is reported,
 * never faked. */
lg_err lg_stage_unavailable_new(lg_stage_kind kind, const char *reason, lg_stage *out,
                                lg_errmsg *err);
/* Gives an unavailable stage a warning to log (lg_log, WARN) when rows first
 * reach it: once per stage kind and process, and never when no row is
 * routed there. No effect on other stages. */
void lg_stage_unavailable_warn(lg_stage *st, const char *warning);

#ifdef __cplusplus
}
#endif
#endif
