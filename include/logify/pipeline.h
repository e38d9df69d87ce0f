/* pipeline.h - the cascade: routes each record by its source to an ordered
 * list of stages and runs them over a batch, in input order.
 *
 * lg_resources holds what is loaded once (rule database, model, LLM
 * client); lg_pipeline builds one stage instance per route and stage from
 * them and is immutable afterwards, so any number of threads may run it,
 * each with its own lg_worker (per-thread scratch and counters). */
#ifndef LOGIFY_PIPELINE_H
#define LOGIFY_PIPELINE_H

#include "logify/common.h"
#include "logify/config.h"
#include "logify/llm.h"
#include "logify/model.h"
#include "logify/rules.h"
#include "logify/stage.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything loaded once. A NULL resource makes its stage "unavailable"
 * with the matching reason as each record's detail. */
typedef struct {
    lg_rules *rules;
    lg_model *model;
    lg_llm *llm;
    char rules_missing[LG_DETAIL_MAX];
    char model_missing[LG_DETAIL_MAX];
    char llm_missing[LG_DETAIL_MAX];
    double threshold; /* default model threshold */
    char *model_dir;  /* the bundle directory the model came from (owned);
                         NULL without a model */
} lg_resources;

/* Loads rules (cfg->rules_path, else the built-in default rules), the model
 * (cfg->model_dir, else the built-in default bundle when there is one) and
 * the LLM client. A missing model or LLM is not an error: the reason is kept
 * in res and printed once as a warning when a route uses that stage. A
 * rules file that does not compile, or a model bundle given explicitly that
 * does not load, is an error. */
lg_err lg_resources_load(const lg_config *cfg, lg_resources *res, lg_errmsg *err);
void lg_resources_free(lg_resources *res);

/* The built-in default rules (rules/default.yaml compiled into the
 * binary). */
const char *lg_default_rules_text(size_t *len);

typedef struct lg_pipeline lg_pipeline;
typedef struct lg_worker lg_worker;

/* Borrows res, which must outlive the pipeline; copies routes. */
lg_err lg_pipeline_new(const lg_route_table *routes, const lg_resources *res, lg_pipeline **out,
                       lg_errmsg *err);
void lg_pipeline_free(lg_pipeline *p);

lg_err lg_worker_new(const lg_pipeline *p, lg_worker **out, lg_errmsg *err);
void lg_worker_free(lg_worker *w);

/* Classifies recs[0..n-1] in place. Each record must come in with
 * label == NULL; each leaves with a label (LG_UNCLASSIFIED when no stage
 * decided it) and a stage, confidence and detail. */
lg_err lg_pipeline_run(const lg_pipeline *p, lg_worker *w, lg_record *recs, size_t n,
                       lg_errmsg *err);

/* Counters kept by a worker. */
typedef struct {
    uint64_t rows;
    uint64_t decided[LG_STAGE_KINDS]; /* [LG_STAGE_NONE] = Unclassified */
    double seconds[LG_STAGE_KINDS];   /* time spent in each stage */
} lg_worker_stats;

const lg_worker_stats *lg_worker_get_stats(const lg_worker *w);

/* Marks the start of a run on w (one job, one HTTP request): stages with a
 * per-run budget (the llm stage's deadline) start it again. */
void lg_worker_begin_run(lg_worker *w);

/* Resets a record's outcome fields before a run. */
void lg_record_reset(lg_record *rec);

#ifdef __cplusplus
}
#endif
#endif
