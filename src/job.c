/* job.c - CSV bytes in, classified CSV/JSONL out, in batches, in order. */
#include "logify/job.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_DEFAULT_BATCH 1024
#define JOB_BATCH_BYTES (8u << 20)   /* dispatch a batch early past this */
#define JOB_ARENA_MAX (256u << 20)   /* hard cap on one batch's bytes */
#define JOB_OUT_FLUSH (256u << 10)
#define JOB_OUT_MAX (512u << 20)

/* Output columns: an input column index, or one of these. */
enum { COL_LABEL = -1, COL_STAGE = -2, COL_CONF = -3, COL_DETAIL = -4 };

typedef struct {
    lg_record *recs; /* (cap) */
    size_t n, cap;
    lg_buf arena;    /* every field of every row, NUL-terminated */
    size_t *offs;    /* (cap * ncols) */
    size_t *lens;    /* (cap * ncols) */
    int end_of_burst; /* sent by lg_job_flush: the input went quiet after it */
} batch;

struct lg_job {
    lg_job_opts o;
    lg_csv_reader *reader;
    lg_worker *worker;

    int have_header;
    int header_written;
    size_t ncols;
    long src_col, msg_col;
    int *plan;          /* output columns */
    char **plan_names;  /* their header names */
    size_t nplan;

    batch b[2];
    int cur;            /* batch being filled */
    lg_buf out;         /* formatted output (classifying thread) */

    /* second thread */
    int threaded;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch *handed;      /* batch given to the thread, NULL when idle */
    int quit;
    lg_err werr;        /* first error on the thread */
    lg_errmsg wmsg;

    uint64_t accepted;  /* rows taken (parsing thread) */
    double dispatch_seconds;
    double feed_seconds;
    lg_job_stats stats;
};

/* ---- Output --------------------------------------------------------------- */

static lg_err flush_out(lg_job *j, lg_errmsg *err) {
    if (!j->out.len) return LG_OK;
    lg_err e = j->o.sink(j->o.sink_user, j->out.data, j->out.len, err);
    lg_buf_reset(&j->out);
    return e;
}

static lg_err write_header(lg_job *j) {
    lg_err e = LG_OK;
    j->header_written = 1;
    if (j->o.format != LG_OUT_CSV) return LG_OK;
    for (size_t i = 0; i < j->nplan && !e; i++) {
        if (i) e = lg_buf_putc(&j->out, ',');
        if (!e) e = lg_csv_put_field(&j->out, j->plan_names[i], strlen(j->plan_names[i]));
    }
    if (!e) e = lg_buf_putc(&j->out, '\n');
    return e;
}

static lg_err put_conf(lg_buf *out, double c, int json) {
    if (c < 0) return json ? lg_buf_append(out, "null", 4) : LG_OK;
    return lg_buf_printf(out, "%.4f", c);
}

static lg_err write_row(lg_job *j, const batch *b, size_t r) {
    const lg_record *rec = &b->recs[r];
    const size_t *offs = b->offs + r * j->ncols, *lens = b->lens + r * j->ncols;
    lg_buf *out = &j->out;
    int json = j->o.format == LG_OUT_JSONL;
    lg_err e = json ? lg_buf_putc(out, '{') : LG_OK;
    for (size_t i = 0; i < j->nplan && !e; i++) {
        if (i) e = lg_buf_putc(out, ',');
        if (!e && json) {
            e = lg_json_put_string(out, j->plan_names[i], strlen(j->plan_names[i]));
            if (!e) e = lg_buf_putc(out, ':');
        }
        if (e) break;
        int c = j->plan[i];
        const char *s = NULL;
        size_t n = 0;
        if (c >= 0) {
            s = b->arena.data + offs[c];
            n = lens[c];
        } else if (c == COL_LABEL) {
            s = rec->label;
            n = strlen(s);
        } else if (c == COL_STAGE) {
            s = lg_stage_kind_name(rec->stage);
            n = strlen(s);
        } else if (c == COL_DETAIL) {
            s = rec->detail;
            n = strlen(s);
        } else {
            e = put_conf(out, rec->confidence, json);
            continue;
        }
        e = json ? lg_json_put_string(out, s, n) : lg_csv_put_field(out, s, n);
    }
    if (!e && json) e = lg_buf_putc(out, '}');
    if (!e) e = lg_buf_putc(out, '\n');
    return e;
}

static void count_label(lg_job_stats *st, const char *label) {
    for (size_t i = 0; i < st->n_labels; i++) {
        if (st->labels[i] == label || !strcmp(st->labels[i], label)) {
            st->label_rows[i]++;
            return;
        }
    }
    if (st->n_labels < LG_JOB_MAX_LABELS) {
        st->labels[st->n_labels] = label;
        st->label_rows[st->n_labels++] = 1;
    }
}

/* Classifies and writes one batch (on the classifying thread). */
static lg_err process(lg_job *j, batch *b, lg_errmsg *err) {
    for (size_t r = 0; r < b->n; r++) {
        lg_record *rec = &b->recs[r];
        const size_t *offs = b->offs + r * j->ncols, *lens = b->lens + r * j->ncols;
        rec->source = b->arena.data + offs[j->src_col];
        rec->source_len = lens[j->src_col];
        rec->message = b->arena.data + offs[j->msg_col];
        rec->message_len = lens[j->msg_col];
        lg_record_reset(rec);
    }
    lg_err e = b->n ? lg_pipeline_run(j->o.pipeline, j->worker, b->recs, b->n, err) : LG_OK;
    if (e) return e;
    if (b->end_of_burst) { /* a live stream: each burst of input is a run of its own, so that
                              per-run budgets (the llm deadline) do not run out over hours */
        lg_worker_begin_run(j->worker);
        b->end_of_burst = 0;
    }
    double t0 = lg_now();
    if (!j->header_written && (e = write_header(j)))
        return lg_fail(err, e, "output: %s", lg_strerror(e));
    for (size_t r = 0; r < b->n && !e; r++) {
        if ((e = write_row(j, b, r))) return lg_fail(err, e, "output: %s", lg_strerror(e));
        count_label(&j->stats, b->recs[r].label);
        if (j->out.len >= JOB_OUT_FLUSH) e = flush_out(j, err);
    }
    if (!e) e = flush_out(j, err);
    j->stats.rows += b->n;
    j->stats.write_seconds += lg_now() - t0;
    b->n = 0;
    lg_buf_reset(&b->arena);
    return e;
}

static void *thread_main(void *arg) {
    lg_job *j = arg;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->handed && !j->quit) pthread_cond_wait(&j->cv, &j->mu);
        if (!j->handed) break;
        batch *b = j->handed;
        pthread_mutex_unlock(&j->mu);
        lg_errmsg m;
        lg_err e = j->werr ? LG_OK : process(j, b, &m);
        if (j->werr) {
            b->n = 0;
            lg_buf_reset(&b->arena);
        }
        pthread_mutex_lock(&j->mu);
        if (e && !j->werr) {
            j->werr = e;
            j->wmsg = m;
        }
        j->handed = NULL;
        pthread_cond_broadcast(&j->cv);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Waits until the thread is idle; returns its first error, if any. */
static lg_err wait_idle(lg_job *j, lg_errmsg *err) {
    pthread_mutex_lock(&j->mu);
    while (j->handed) pthread_cond_wait(&j->cv, &j->mu);
    lg_err e = j->werr;
    if (e && err) *err = j->wmsg;
    pthread_mutex_unlock(&j->mu);
    return e;
}

static lg_err dispatch(lg_job *j, lg_errmsg *err) {
    batch *b = &j->b[j->cur];
    double t0 = lg_now();
    lg_err e;
    if (!j->threaded) {
        e = process(j, b, err);
    } else {
        e = wait_idle(j, err);
        if (!e) {
            pthread_mutex_lock(&j->mu);
            j->handed = b;
            pthread_cond_broadcast(&j->cv);
            pthread_mutex_unlock(&j->mu);
            j->cur ^= 1;
        }
    }
    j->dispatch_seconds += lg_now() - t0;
    return e;
}

/* ---- Input ------------------------------------------------------------------ */

static lg_err batch_grow(batch *b, size_t ncols, size_t cap) {
    lg_record *r = realloc(b->recs, cap * sizeof *r);
    if (!r) return LG_ENOMEM;
    b->recs = r;
    size_t *o = realloc(b->offs, cap * ncols * sizeof *o);
    if (!o) return LG_ENOMEM;
    b->offs = o;
    size_t *l = realloc(b->lens, cap * ncols * sizeof *l);
    if (!l) return LG_ENOMEM;
    b->lens = l;
    b->cap = cap;
    return LG_OK;
}

static lg_err plan_add(lg_job *j, int col, const char *name) {
    j->plan[j->nplan] = col;
    if (!(j->plan_names[j->nplan] = lg_strdup(name))) return LG_ENOMEM;
    j->nplan++;
    return LG_OK;
}

static lg_err take_header(lg_job *j, const lg_csv_row *row, lg_errmsg *err) {
    static const char *const extra_names[] = {"target_label", "stage", "confidence", "detail"};
    static const int extra_cols[] = {COL_LABEL, COL_STAGE, COL_CONF, COL_DETAIL};
    size_t n_extra = j->o.explain ? 4 : 1;
    j->ncols = row->nfields;
    j->src_col = j->msg_col = -1;
    for (size_t i = 0; i < row->nfields; i++) {
        if (!strcmp(row->fields[i], "source") && j->src_col < 0) j->src_col = (long)i;
        if (!strcmp(row->fields[i], "log_message") && j->msg_col < 0) j->msg_col = (long)i;
    }
    if (j->src_col < 0 || j->msg_col < 0) {
        char have[256] = "";
        size_t used = 0;
        for (size_t i = 0; i < row->nfields && used < sizeof have - 1; i++)
            used += (size_t)snprintf(have + used, sizeof have - used, "%s'%s'", i ? ", " : "",
                                     row->fields[i]);
        return lg_fail(err, LG_ENOTFOUND,
                       "line %llu: missing required column '%s' (the header has: %s)",
                       (unsigned long long)row->line, j->src_col < 0 ? "source" : "log_message",
                       have);
    }
    j->plan = calloc(row->nfields + 4, sizeof *j->plan);
    j->plan_names = calloc(row->nfields + 4, sizeof *j->plan_names);
    if (!j->plan || !j->plan_names) return lg_fail(err, LG_ENOMEM, "out of memory");
    int used_extra[4] = {0};
    for (size_t i = 0; i < row->nfields; i++) {
        int col = (int)i;
        for (size_t k = 0; k < n_extra; k++)
            if (!used_extra[k] && !strcmp(row->fields[i], extra_names[k])) {
                col = extra_cols[k]; /* overwritten in place */
                used_extra[k] = 1;
            }
        if (plan_add(j, col, row->fields[i])) return lg_fail(err, LG_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n_extra; k++)
        if (!used_extra[k] && plan_add(j, extra_cols[k], extra_names[k]))
            return lg_fail(err, LG_ENOMEM, "out of memory");
    size_t cap = j->o.batch_rows;
    for (int k = 0; k < 2; k++)
        if (batch_grow(&j->b[k], j->ncols, cap)) return lg_fail(err, LG_ENOMEM, "out of memory");
    j->have_header = 1;
    return LG_OK;
}

static lg_err bad_row(lg_job *j, uint64_t line, const char *msg, lg_errmsg *err) {
    if (!j->o.skip_bad)
        return lg_fail(err, LG_EPARSE, "line %llu: %s", (unsigned long long)line, msg);
    j->stats.skipped++;
    if (j->o.on_skip) j->o.on_skip(j->o.skip_user, line, msg);
    return LG_OK;
}

static lg_err on_bad(void *user, uint64_t line, const char *msg, lg_errmsg *err) {
    return bad_row(user, line, msg, err);
}

static lg_err on_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    lg_job *j = user;
    if (!j->have_header) return take_header(j, row, err);
    if (row->nfields != j->ncols) {
        char m[128];
        snprintf(m, sizeof m, "expected %zu fields as in the header, found %zu", j->ncols,
                 row->nfields);
        return bad_row(j, row->line, m, err);
    }
    if (j->o.max_rows && j->accepted >= j->o.max_rows)
        return lg_fail(err, LG_ELIMIT, "line %llu: more than %llu rows",
                       (unsigned long long)row->line, (unsigned long long)j->o.max_rows);
    batch *b = &j->b[j->cur];
    size_t r = b->n;
    for (size_t i = 0; i < row->nfields; i++) {
        b->offs[r * j->ncols + i] = b->arena.len;
        b->lens[r * j->ncols + i] = row->lens[i];
        lg_err e = lg_buf_append(&b->arena, row->fields[i], row->lens[i] + 1);
        if (e) return lg_fail(err, e, "line %llu: batch too large", (unsigned long long)row->line);
    }
    b->n++;
    j->accepted++;
    if (b->n == b->cap || b->arena.len >= JOB_BATCH_BYTES) return dispatch(j, err);
    return LG_OK;
}

/* ---- Public --------------------------------------------------------------------- */

lg_err lg_job_new(const lg_job_opts *opts, lg_job **out, lg_errmsg *err) {
    *out = NULL;
    if (!opts->pipeline || !opts->sink) return lg_fail(err, LG_EINVAL, "job needs a pipeline and a sink");
    lg_job *j = calloc(1, sizeof *j);
    if (!j) return lg_fail(err, LG_ENOMEM, "out of memory");
    j->o = *opts;
    if (!j->o.batch_rows) j->o.batch_rows = JOB_DEFAULT_BATCH;
    lg_buf_init(&j->out, JOB_OUT_MAX);
    for (int k = 0; k < 2; k++) lg_buf_init(&j->b[k].arena, JOB_ARENA_MAX);
    lg_err e = lg_csv_reader_new(&j->o.limits, on_row, on_bad, j, &j->reader, err);
    if (!e) e = lg_worker_new(j->o.pipeline, &j->worker, err);
    if (!e) lg_worker_begin_run(j->worker); /* one job, one run */
    if (!e && j->o.threads >= 2) {
        pthread_mutex_init(&j->mu, NULL);
        pthread_cond_init(&j->cv, NULL);
        if (pthread_create(&j->th, NULL, thread_main, j) != 0) {
            pthread_mutex_destroy(&j->mu);
            pthread_cond_destroy(&j->cv);
            e = lg_fail(err, LG_ENOMEM, "cannot start the classifying thread");
        } else {
            j->threaded = 1;
        }
    }
    if (e) {
        lg_job_free(j);
        return e;
    }
    *out = j;
    return LG_OK;
}

lg_err lg_job_feed(lg_job *j, const void *data, size_t len, lg_errmsg *err) {
    double t0 = lg_now();
    lg_err e = lg_csv_feed(j->reader, data, len, err);
    j->feed_seconds += lg_now() - t0;
    return e;
}

lg_err lg_job_flush(lg_job *j, lg_errmsg *err) {
    if (!j->b[j->cur].n) return LG_OK;
    j->b[j->cur].end_of_burst = 1;
    return dispatch(j, err);
}

static void stop_thread(lg_job *j) {
    if (!j->threaded) return;
    pthread_mutex_lock(&j->mu);
    while (j->handed) pthread_cond_wait(&j->cv, &j->mu);
    j->quit = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    pthread_join(j->th, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    j->threaded = 0;
}

lg_err lg_job_finish(lg_job *j, lg_errmsg *err) {
    double t0 = lg_now();
    lg_err e = lg_csv_finish(j->reader, err);
    j->feed_seconds += lg_now() - t0;
    if (!e && !j->have_header) e = lg_fail(err, LG_EPARSE, "empty input: no header row");
    if (j->threaded) {
        lg_errmsg m;
        lg_err te = wait_idle(j, &m);
        stop_thread(j);
        if (!e && te) {
            e = te;
            if (err) *err = m;
        }
    }
    if (!e) e = process(j, &j->b[j->cur], err); /* the last batch, and the header */
    return e;
}

void lg_job_get_stats(const lg_job *j, lg_job_stats *out) {
    *out = j->stats;
    const lg_worker_stats *ws = lg_worker_get_stats(j->worker);
    for (int k = 0; k < LG_STAGE_KINDS; k++) {
        out->decided[k] = ws->decided[k];
        out->stage_seconds[k] = ws->seconds[k];
    }
    out->parse_seconds = j->feed_seconds - j->dispatch_seconds;
}

void lg_job_free(lg_job *j) {
    if (!j) return;
    stop_thread(j);
    lg_csv_reader_free(j->reader);
    lg_worker_free(j->worker);
    for (int k = 0; k < 2; k++) {
        free(j->b[k].recs);
        free(j->b[k].offs);
        free(j->b[k].lens);
        lg_buf_free(&j->b[k].arena);
    }
    for (size_t i = 0; i < j->nplan; i++) free(j->plan_names[i]);
    free(j->plan);
    free(j->plan_names);
    lg_buf_free(&j->out);
    free(j);
}
