/* job.h - one classification run over a CSV byte stream: parse (header by
 * name, rows in batches), classify through a pipeline, write CSV or JSON
 * lines to a sink, in input order, in constant memory.
 *
 * Used by `logify classify` (file or stdin) and by the HTTP server (an
 * upload as it arrives). With threads = N >= 2 the caller's thread parses
 * while N - 1 workers classify and format batches in parallel; the output
 * keeps the input's order. */
#ifndef LOGIFY_JOB_H
#define LOGIFY_JOB_H

#include "logify/common.h"
#include "logify/csv.h"
#include "logify/pipeline.h"

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LG_OUT_CSV = 0, LG_OUT_JSONL = 1 } lg_out_format;

/* Receives output bytes, in order. Return non-zero lg_err (and fill err) to
 * stop the job. Called from a classifying thread (one call at a time). */
typedef lg_err (*lg_sink_fn)(void *user, const char *data, size_t len, lg_errmsg *err);

/* Told about each malformed row skipped under skip_bad. */
typedef void (*lg_skip_fn)(void *user, uint64_t line, const char *msg);

typedef struct {
    const lg_pipeline *pipeline;
    lg_out_format format;
    int explain;          /* add stage, confidence, detail */
    int skip_bad;         /* skip malformed rows (reported) instead of failing */
    size_t batch_rows;    /* records per batch; 0 = 1024 */
    int threads;          /* 1 = all on the caller's thread; N = parse || N-1
                             classifying workers (at most 64) */
    lg_csv_limits limits; /* zeros = defaults */
    uint64_t max_rows;    /* 0 = no cap; beyond it LG_ELIMIT */
    lg_sink_fn sink;
    void *sink_user;
    lg_skip_fn on_skip;
    void *skip_user;
    /* When set: each row's message is mined for its template (the miner of
     * docs/templates.md) on the parsing thread, in input order; with
     * template_column a `template_id` column (16 hex digits) is written.
     * Caller-owned; templates_lock (may be NULL) is held around each use
     * when several jobs share one miner. */
    struct lg_tpl_miner *templates;
    pthread_mutex_t *templates_lock;
    int template_column;
    /* Optional, with templates: a second miner (caller-owned, e.g. a
     * server's, shared; novelty_lock as templates_lock) each row is mined
     * into as well; stats.new_templates then counts ITS new templates. So a
     * job can write the ids of a fresh miner (`logify classify`'s) while
     * novelty is counted against everything a server has seen. */
    struct lg_tpl_miner *novelty;
    pthread_mutex_t *novelty_lock;
} lg_job_opts;

#define LG_JOB_MAX_LABELS 256

typedef struct {
    uint64_t rows_read;    /* rows the reader found after the header (good +
                              malformed); = rows + skipped after a whole run */
    uint64_t rows;         /* rows written */
    uint64_t skipped;      /* malformed rows skipped */
    uint64_t new_templates; /* rows that started a new template (with templates) */
    uint64_t decided[LG_STAGE_KINDS];
    double stage_seconds[LG_STAGE_KINDS];
    double parse_seconds;  /* reading + CSV parsing + batching (caller thread) */
    double write_seconds;  /* formatting + sink */
    size_t n_labels;
    const char *labels[LG_JOB_MAX_LABELS]; /* owned by the pipeline */
    uint64_t label_rows[LG_JOB_MAX_LABELS];
} lg_job_stats;

typedef struct lg_job lg_job;

lg_err lg_job_new(const lg_job_opts *opts, lg_job **out, lg_errmsg *err);
/* Feeds input bytes; errors name the input line where they can. */
lg_err lg_job_feed(lg_job *j, const void *data, size_t len, lg_errmsg *err);
/* Classifies and writes the rows taken so far without waiting for a full
 * batch: for a live stream that has gone quiet (`tail -f ... | logify
 * classify -`). A row not yet ended by its newline stays pending. With
 * threads = 2 the writing happens on the second thread; this call does not
 * wait for it. */
lg_err lg_job_flush(lg_job *j, lg_errmsg *err);
/* Ends the input, classifies and writes what is left. An input without a
 * header row is an error. */
lg_err lg_job_finish(lg_job *j, lg_errmsg *err);
/* After lg_job_feed or lg_job_finish failed: lets the workers write the
 * batches already handed to them (in order) and stops them, so that the
 * output holds every row before the failing batch and nothing reaches the
 * sink once this returns (a server answers the failure after those rows).
 * Harmless after a successful finish. */
void lg_job_stop(lg_job *j);
/* Valid after lg_job_finish (or an error). */
void lg_job_get_stats(const lg_job *j, lg_job_stats *out);
void lg_job_free(lg_job *j);

#ifdef __cplusplus
}
#endif
#endif
