/* live.h - live reload for long-running programs (`logify serve`, `logify
 * kafka`): a swappable, reference-counted "pipeline set" (docs/reload.md).
 *
 * An lg_pset is one loaded generation of everything `classify` builds from
 * its options: the configuration (file + flags), the resources (rules,
 * model, LLM client), the pipeline over them, a pool of workers (per-thread
 * scratch) made for that pipeline, and a summary (lg_pset_info). It is
 * immutable once built and counted: whoever acquired it may use it until
 * it releases it, from any thread.
 *
 * An lg_live holds the current set and the recipe (lg_pset_source) it was
 * built from. lg_live_reload builds a new set from the same recipe aside
 * (re-reading the config file, the rules file, the model bundle and the
 * LLM settings; a persisted LLM cache is saved first, so that the new
 * client reads what the old one learned) and checks it (it compiles,
 * loads, and a worker can be made for it); only then is it swapped in, in
 * one step. Requests and
 * batches in flight keep the set they acquired; the old set is freed by
 * its last release. A new set that fails is refused: one ERROR log line
 * names the problem, the error is returned, and the current set stays.
 *
 * One request or batch:
 *   lg_pset *set = lg_live_acquire(live);
 *   lg_worker *w = lg_pset_worker_get(set, &err);       // its scratch
 *   lg_pipeline_run(lg_pset_pipeline(set), w, recs, n, &err);
 *   lg_pset_worker_put(set, w);
 *   lg_pset_release(set);
 * A thread that keeps its worker across batches (a consumer loop) holds an
 * lg_live_handle and calls lg_live_handle_refresh between batches: it moves
 * to the current set when there is a newer one (a cheap atomic check when
 * there is not).
 *
 * Reload from a signal: the handler only sets a flag (or writes to a
 * self-pipe); a normal thread then calls lg_live_reload. (Not sigwait:
 * OpenBLAS's threads, made before main, block no signal; see cmd_serve.c.) Every function
 * here is thread-safe except lg_live_free (no other user may remain);
 * none may be called from a signal handler. */
#ifndef LOGIFY_LIVE_H
#define LOGIFY_LIVE_H

#include "logify/common.h"
#include "logify/config.h"
#include "logify/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The recipe ------------------------------------------------------------ */

/* What a set is built from: the config file and the command-line flags
 * applied over it (the same for the first load and every reload). */
typedef struct {
    const char *config_path;   /* --config FILE; NULL: none */
    const char *rules_path;    /* --rules, over the file's; NULL: the file's,
                                  else the built-in rules */
    const char *model_dir;     /* --model, over the file's */
    const char *const *routes; /* --route flags, applied over the file's routes */
    size_t n_routes;
    double threshold;          /* --threshold; < 0: the file's */
} lg_pset_source;

/* Builds the configuration src describes: defaults, the file (if any),
 * then the flags. On failure cfg holds nothing to free. Free with
 * lg_config_free. */
lg_err lg_pset_source_config(const lg_pset_source *src, lg_config *cfg, lg_errmsg *err);

/* ---- A set ------------------------------------------------------------------- */

typedef struct lg_pset lg_pset;

/* What a set holds, for logs, answers and metrics. Strings and labels live
 * as long as the set. */
typedef struct {
    uint64_t generation;     /* 1 for the first set, +1 per accepted reload */
    double loaded_at;        /* Unix time its loading finished */
    const char *config_path; /* the config file, or NULL */
    const char *rules_name;  /* the rules file, or "built-in" */
    size_t n_rules;
    const char *model_dir;   /* the model bundle loaded, or NULL (none) */
    char model_checksum[17]; /* FNV-1a 64 of its meta.json (which holds the
                                weights' checksums), hex; "" without a model */
    const char *llm_model;   /* the LLM's model name, or NULL (not configured) */
    const char *const *labels; /* sorted, unique: what the rules, the model
                                  and the routes' explicit LLM labels can
                                  answer, plus Unclassified */
    size_t n_labels;
} lg_pset_info;

/* Loads and checks a set from src, aside from any lg_live (generation 0
 * until a live takes it). One reference, the caller's; release with
 * lg_pset_release. */
lg_err lg_pset_load(const lg_pset_source *src, lg_pset **out, lg_errmsg *err);

/* Adds / drops one reference; the last release frees the set (its workers,
 * pipeline, resources and config). NULL is fine for release. */
void lg_pset_retain(lg_pset *s);
void lg_pset_release(lg_pset *s);
/* The number of references at the moment of the call (tests, diagnostics). */
unsigned lg_pset_refs(const lg_pset *s);

const lg_pipeline *lg_pset_pipeline(const lg_pset *s);
const lg_resources *lg_pset_resources(const lg_pset *s);
const lg_config *lg_pset_config(const lg_pset *s);
const lg_pset_info *lg_pset_get_info(const lg_pset *s);

/* A worker (per-thread scratch) for this set's pipeline, from the set's
 * pool (made when the pool is empty), with lg_worker_begin_run done; NULL
 * on failure. Give it back to the same set with lg_pset_worker_put (it is
 * freed with the set); NULL is fine. */
lg_worker *lg_pset_worker_get(lg_pset *s, lg_errmsg *err);
void lg_pset_worker_put(lg_pset *s, lg_worker *w);

/* Appends the set as a JSON object: {"generation":N,"loaded_at":T,
 * "config":..,"rules":{"file":..,"count":N},"model":{"dir":..,
 * "checksum":..} or null,"llm":{"model":..} or null,"labels":[..]}. */
lg_err lg_pset_describe_json(const lg_pset *s, lg_buf *out);

/* ---- The live slot ----------------------------------------------------------- */

typedef struct lg_live lg_live;

/* Copies src (its strings too) and loads the first set (generation 1).
 * Free with lg_live_free. */
lg_err lg_live_new(const lg_pset_source *src, lg_live **out, lg_errmsg *err);
/* Drops the live's reference to the current set: sets still held by users
 * stay until they are released. */
void lg_live_free(lg_live *l);

/* The current set, with one reference for the caller (never NULL). */
lg_pset *lg_live_acquire(lg_live *l);
/* The current set's generation (an atomic read). */
uint64_t lg_live_generation(const lg_live *l);

/* Loads a new set from the recipe, checks it, and swaps it in. Reloads are
 * serialised (a second caller waits, then reloads again). On success,
 * logs one INFO line and, if loaded is non-NULL, gives the caller one
 * reference to the new set. On failure, logs one ERROR line naming the
 * problem ("reload refused: ...; keeping generation N"), keeps the current
 * set and returns the error (err names it). A new set without a model while
 * the current one has one (the default bundle, optional at start, now
 * broken or half copied) is refused too (LG_EMODEL). */
lg_err lg_live_reload(lg_live *l, lg_pset **loaded, lg_errmsg *err);

typedef struct {
    uint64_t reloads;      /* accepted */
    uint64_t failed;       /* refused */
    uint64_t generation;   /* current set's */
    double loaded_at;      /* current set's (Unix time) */
    double last_failure_at; /* Unix time of the last refused reload, 0 if none */
} lg_live_stats;

void lg_live_get_stats(const lg_live *l, lg_live_stats *out);

/* ---- A thread that keeps its worker across batches ----------------------------- */

typedef struct {
    lg_pset *set;      /* the set this thread uses (one reference) */
    lg_worker *worker; /* a worker of that set */
} lg_live_handle;

/* Between batches: the first call fills h; later calls move h to the
 * current set when it is newer (the old worker goes back to the old set,
 * the old set is released). When the new set's worker cannot be made, h
 * keeps the set it had and the error is returned. Then run with
 * lg_pipeline_run(lg_pset_pipeline(h->set), h->worker, ...). */
lg_err lg_live_handle_refresh(lg_live *l, lg_live_handle *h, lg_errmsg *err);
/* Gives back the worker and the set; h is emptied. */
void lg_live_handle_release(lg_live_handle *h);

#ifdef __cplusplus
}
#endif
#endif
