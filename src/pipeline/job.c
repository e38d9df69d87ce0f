/* job.c - CSV bytes in, classified CSV/JSONL out, in batches, in order.
 *
 * The caller's thread parses and fills batches; with threads = N >= 2,
 * N - 1 workers (each with its own lg_worker) classify batches and format
 * their rows in parallel, and whichever worker finishes the next batch in
 * input order hands it to the sink (one writer at a time), so the output
 * keeps the input's order. A ring of N + 1 batches bounds memory. */
#include "logify/job.h"
#include "logify/templates.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_DEFAULT_BATCH 1024
#define JOB_BATCH_BYTES (8u << 20)   /* dispatch a batch early past this */
#define JOB_ARENA_MAX (256u << 20)   /* hard cap on one batch's bytes */
#define JOB_OUT_MAX (512u << 20)
#define JOB_MAX_THREADS 64

/* Output columns: an input column index, or one of these. */
enum { COL_LABEL = -1, COL_STAGE = -2, COL_CONF = -3, COL_DETAIL = -4, COL_TEMPLATE = -5 };

typedef enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE } slot_state;

typedef struct {
    lg_record *recs; /* (cap) */
    size_t n, cap;
    lg_buf arena;    /* every field of every row, NUL-terminated */
    size_t *offs;    /* (cap * ncols) */
    size_t *lens;    /* (cap * ncols) */
    uint64_t *tids;  /* (cap) template ids, with opts.templates */
    lg_buf out;      /* its rows, formatted (by the worker that classified it) */
    double fmt_seconds;
    uint64_t seq;    /* position in the input */
    unsigned burst;  /* lg_job_flush count when it was sent: a new one starts a run */
    slot_state state;
} batch;

typedef struct {
    struct lg_job *job;
    lg_worker *w;
    unsigned burst;  /* the burst of the last batch it classified */
    pthread_t th;
} worker;

struct lg_job {
    lg_job_opts o;
    lg_csv_reader *reader;

    int have_header;
    int header_written;
    size_t ncols;
    long src_col, msg_col;
    int *plan;          /* output columns */
    char **plan_names;  /* their header names */
    size_t nplan;

    batch *b;           /* (n_batches) the ring */
    size_t n_batches;
    size_t cur;         /* batch being filled */
    unsigned burst;     /* lg_job_flush calls so far */

    worker *wk;         /* (n_workers); with no threads, wk[0] runs on the caller's */
    size_t n_workers;
    size_t n_started;   /* worker threads running */
    int threaded;       /* the workers run on threads of their own */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_seq;   /* given to the next batch sent */
    uint64_t next_write; /* the batch the sink waits for */
    int writing;        /* a worker is handing a batch to the sink */
    int quit;
    lg_err werr;        /* first error of a worker (later batches are dropped) */
    lg_errmsg wmsg;

    uint64_t accepted;  /* rows taken (parsing thread) */
    double dispatch_seconds; /* dispatch time spent inside feed_seconds */
    int in_feed;             /* lg_csv_feed or _finish is running */
    double feed_seconds;
    lg_job_stats stats; /* rows, labels, write time: kept by the writer */
};

/* ---- Output --------------------------------------------------------------- */

static lg_err put_header(const lg_job *j, lg_buf *out) {
    lg_err e = LG_OK;
    if (j->o.format != LG_OUT_CSV) return LG_OK;
    for (size_t i = 0; i < j->nplan && !e; i++) {
        if (i) e = lg_buf_putc(out, ',');
        if (!e) e = lg_csv_put_field(out, j->plan_names[i], strlen(j->plan_names[i]));
    }
    if (!e) e = lg_buf_putc(out, '\n');
    return e;
}

static lg_err put_conf(lg_buf *out, double c, int json) {
    if (c < 0) return json ? lg_buf_append(out, "null", 4) : LG_OK;
    return lg_buf_printf(out, "%.4f", c);
}

static lg_err put_row(const lg_job *j, const batch *b, size_t r, lg_buf *out) {
    const lg_record *rec = &b->recs[r];
    const size_t *offs = b->offs + r * j->ncols, *lens = b->lens + r * j->ncols;
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
        } else if (c == COL_TEMPLATE) {
            char id[17];
            lg_tpl_format_id(b->tids[r], id);
            e = json ? lg_json_put_string(out, id, 16) : lg_buf_append(out, id, 16);
            continue;
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

static void batch_reset(batch *b) {
    b->n = 0;
    lg_buf_reset(&b->arena);
    lg_buf_reset(&b->out);
}

/* Classifies a batch on worker w and formats its rows into b->out (any
 * worker, in parallel with the others). */
static lg_err classify_batch(lg_job *j, worker *w, batch *b, lg_errmsg *err) {
    for (size_t r = 0; r < b->n; r++) {
        lg_record *rec = &b->recs[r];
        const size_t *offs = b->offs + r * j->ncols, *lens = b->lens + r * j->ncols;
        rec->source = b->arena.data + offs[j->src_col];
        rec->source_len = lens[j->src_col];
        rec->message = b->arena.data + offs[j->msg_col];
        rec->message_len = lens[j->msg_col];
        rec->no_detail = !j->o.explain; /* the detail column is --explain's */
        lg_record_reset(rec);
    }
    if (b->burst != w->burst) { /* a live stream: each burst of input is a run of its own, so
                                   that per-run budgets (the llm deadline) do not run out */
        lg_worker_begin_run(w->w);
        w->burst = b->burst;
    }
    lg_err e = b->n ? lg_pipeline_run(j->o.pipeline, w->w, b->recs, b->n, err) : LG_OK;
    if (e) return e;
    double t0 = lg_now();
    for (size_t r = 0; r < b->n && !e; r++) e = put_row(j, b, r, &b->out);
    b->fmt_seconds = lg_now() - t0;
    if (e) return lg_fail(err, e, "output: %s", lg_strerror(e));
    return LG_OK;
}

/* Hands a classified batch to the sink (one writer at a time, in input
 * order), the header first; counts its rows and labels. */
static lg_err emit_batch(lg_job *j, batch *b, lg_errmsg *err) {
    double t0 = lg_now();
    lg_err e = LG_OK;
    if (!j->header_written) {
        j->header_written = 1;
        lg_buf h;
        lg_buf_init(&h, JOB_OUT_MAX);
        e = put_header(j, &h);
        if (e) e = lg_fail(err, e, "output: %s", lg_strerror(e));
        else if (h.len) e = j->o.sink(j->o.sink_user, h.data, h.len, err);
        lg_buf_free(&h);
    }
    if (!e && b && b->out.len) e = j->o.sink(j->o.sink_user, b->out.data, b->out.len, err);
    if (!e && b) {
        for (size_t r = 0; r < b->n; r++) count_label(&j->stats, b->recs[r].label);
        j->stats.rows += b->n;
        j->stats.write_seconds += b->fmt_seconds;
    }
    j->stats.write_seconds += lg_now() - t0;
    return e;
}

/* ---- Workers ------------------------------------------------------------------- */

static batch *next_queued(lg_job *j) { /* the oldest: keeps the writer fed */
    batch *best = NULL;
    for (size_t i = 0; i < j->n_batches; i++)
        if (j->b[i].state == SLOT_QUEUED && (!best || j->b[i].seq < best->seq)) best = &j->b[i];
    return best;
}

static batch *done_in_turn(lg_job *j) {
    for (size_t i = 0; i < j->n_batches; i++)
        if (j->b[i].state == SLOT_DONE && j->b[i].seq == j->next_write) return &j->b[i];
    return NULL;
}

static void note_error(lg_job *j, lg_err e, const lg_errmsg *m) {
    if (e && !j->werr) {
        j->werr = e;
        j->wmsg = *m;
    }
}

/* Called with j->mu held: while the next batch in input order is ready and
 * nobody is writing, write it (the lock is dropped around the sink). */
static void write_in_turn(lg_job *j) {
    batch *b;
    while (!j->writing && (b = done_in_turn(j))) {
        j->writing = 1;
        int failed = j->werr != LG_OK;
        pthread_mutex_unlock(&j->mu);
        lg_errmsg m;
        lg_err e = failed ? LG_OK : emit_batch(j, b, &m);
        batch_reset(b);
        pthread_mutex_lock(&j->mu);
        note_error(j, e, &m);
        b->state = SLOT_FREE;
        j->next_write++;
        j->writing = 0;
        pthread_cond_broadcast(&j->cv);
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    lg_job *j = w->job;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        batch *b;
        while (!(b = next_queued(j)) && !j->quit) pthread_cond_wait(&j->cv, &j->mu);
        if (!b) break;
        b->state = SLOT_BUSY;
        int failed = j->werr != LG_OK; /* after an error the rest is dropped */
        pthread_mutex_unlock(&j->mu);
        lg_errmsg m;
        lg_err e = failed ? LG_OK : classify_batch(j, w, b, &m);
        pthread_mutex_lock(&j->mu);
        note_error(j, e, &m);
        b->state = SLOT_DONE;
        write_in_turn(j);
    }
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Sends the batch being filled on its way and takes a free one for the
 * next rows (waiting while all are in use). */
static lg_err dispatch(lg_job *j, lg_errmsg *err) {
    batch *b = &j->b[j->cur];
    double t0 = lg_now();
    lg_err e = LG_OK;
    b->burst = j->burst;
    if (!j->threaded) {
        e = classify_batch(j, &j->wk[0], b, err);
        if (!e) e = emit_batch(j, b, err);
        batch_reset(b);
    } else {
        pthread_mutex_lock(&j->mu);
        b->seq = j->next_seq++;
        b->state = SLOT_QUEUED;
        pthread_cond_broadcast(&j->cv);
        size_t next = j->n_batches;
        while (!j->werr) {
            for (next = 0; next < j->n_batches && j->b[next].state != SLOT_FREE; next++) {}
            if (next < j->n_batches) break;
            pthread_cond_wait(&j->cv, &j->mu);
        }
        if ((e = j->werr)) {
            if (err) *err = j->wmsg;
        } else {
            j->cur = next;
            j->b[next].state = SLOT_FILLING;
        }
        pthread_mutex_unlock(&j->mu);
    }
    if (j->in_feed) j->dispatch_seconds += lg_now() - t0; /* parse time excludes it */
    return e;
}

/* Waits until every batch sent has been written (or dropped after an
 * error); returns the first error. */
static lg_err drain(lg_job *j, lg_errmsg *err) {
    if (!j->threaded) return LG_OK;
    pthread_mutex_lock(&j->mu);
    while (j->next_write < j->next_seq) pthread_cond_wait(&j->cv, &j->mu);
    lg_err e = j->werr;
    if (e && err) *err = j->wmsg;
    pthread_mutex_unlock(&j->mu);
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
    uint64_t *t = realloc(b->tids, cap * sizeof *t);
    if (!t) return LG_ENOMEM;
    b->tids = t;
    b->cap = cap;
    return LG_OK;
}

static lg_err plan_add(lg_job *j, int col, const char *name) {
    j->plan[j->nplan] = col;
    if (!(j->plan_names[j->nplan] = lg_strdup(name))) return LG_ENOMEM;
    j->nplan++;
    return LG_OK;
}

/* A column we read (source, log_message) or write (target_label, and with
 * --explain stage, confidence, detail) named twice is an error: which one
 * would be read, which one would keep a stale value? Other names may repeat. */
static lg_err check_duplicates(const lg_csv_row *row, const char *const *written, size_t n_written,
                               lg_errmsg *err) {
    for (size_t i = 0; i < row->nfields; i++) {
        const char *name = row->fields[i];
        int ours = !strcmp(name, "source") || !strcmp(name, "log_message");
        for (size_t k = 0; k < n_written && !ours; k++) ours = !strcmp(name, written[k]);
        if (!ours) continue;
        for (size_t k = i + 1; k < row->nfields; k++)
            if (!strcmp(name, row->fields[k]))
                return lg_fail(err, LG_EINVAL,
                               "line %llu: column '%s' appears twice in the header (columns %zu "
                               "and %zu); rename or drop one",
                               (unsigned long long)row->line, name, i + 1, k + 1);
    }
    return LG_OK;
}

static lg_err take_header(lg_job *j, const lg_csv_row *row, lg_errmsg *err) {
    static const char *const names_all[] = {"target_label", "stage", "confidence", "detail", "template_id"};
    static const int cols_all[] = {COL_LABEL, COL_STAGE, COL_CONF, COL_DETAIL, COL_TEMPLATE};
    /* target_label [stage confidence detail] [template_id] */
    const char *extra_names[5];
    int extra_cols[5];
    size_t n_extra = 0;
    for (size_t k = 0; k < 5; k++)
        if (k == 0 || (k < 4 && j->o.explain) || (k == 4 && j->o.templates && j->o.template_column)) {
            extra_names[n_extra] = names_all[k];
            extra_cols[n_extra++] = cols_all[k];
        }
    j->ncols = row->nfields;
    j->src_col = j->msg_col = -1;
    lg_err de = check_duplicates(row, extra_names, n_extra, err);
    if (de) return de;
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
    j->plan = calloc(row->nfields + 5, sizeof *j->plan);
    j->plan_names = calloc(row->nfields + 5, sizeof *j->plan_names);
    if (!j->plan || !j->plan_names) return lg_fail(err, LG_ENOMEM, "job columns: out of memory");
    int used_extra[5] = {0};
    for (size_t i = 0; i < row->nfields; i++) {
        int col = (int)i;
        for (size_t k = 0; k < n_extra; k++)
            if (!used_extra[k] && !strcmp(row->fields[i], extra_names[k])) {
                col = extra_cols[k]; /* overwritten in place */
                used_extra[k] = 1;
            }
        if (plan_add(j, col, row->fields[i])) return lg_fail(err, LG_ENOMEM, "job columns: out of memory");
    }
    for (size_t k = 0; k < n_extra; k++)
        if (!used_extra[k] && plan_add(j, extra_cols[k], extra_names[k]))
            return lg_fail(err, LG_ENOMEM, "job columns: out of memory");
    size_t cap = j->o.batch_rows;
    for (size_t k = 0; k < j->n_batches; k++)
        if (batch_grow(&j->b[k], j->ncols, cap)) return lg_fail(err, LG_ENOMEM, "job batches: out of memory");
    j->have_header = 1;
    lg_csv_expect_fields(j->reader, j->ncols);
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
        if (e)
            return lg_fail(err, e, "line %llu: %s", (unsigned long long)row->line,
                           e == LG_ENOMEM ? "out of memory" : "batch too large");
    }
    if (j->o.templates) { /* here, in input order: the same ids on every run */
        lg_tpl_result tr;
        if (j->o.templates_lock) pthread_mutex_lock(j->o.templates_lock);
        lg_err e = lg_tpl_add(j->o.templates, row->fields[j->msg_col], row->lens[j->msg_col], &tr, err);
        if (j->o.templates_lock) pthread_mutex_unlock(j->o.templates_lock);
        if (e) return e;
        b->tids[r] = tr.id;
        if (j->o.novelty) {
            if (j->o.novelty_lock) pthread_mutex_lock(j->o.novelty_lock);
            e = lg_tpl_add(j->o.novelty, row->fields[j->msg_col], row->lens[j->msg_col], &tr, err);
            if (j->o.novelty_lock) pthread_mutex_unlock(j->o.novelty_lock);
            if (e) return e;
        }
        j->stats.new_templates += (uint64_t)tr.is_new;
    }
    b->n++;
    j->accepted++;
    if (b->n == b->cap || b->arena.len >= JOB_BATCH_BYTES) return dispatch(j, err);
    return LG_OK;
}

/* ---- Public --------------------------------------------------------------------- */

static void stop_workers(lg_job *j) {
    if (!j->threaded) return;
    pthread_mutex_lock(&j->mu);
    if (!j->werr) { /* leaving early (lg_job_free without finish): drop what is queued */
        j->werr = LG_EINVAL;
        snprintf(j->wmsg.msg, sizeof j->wmsg.msg, "job stopped");
    }
    j->quit = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < j->n_started; i++) pthread_join(j->wk[i].th, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    j->threaded = 0;
}

lg_err lg_job_new(const lg_job_opts *opts, lg_job **out, lg_errmsg *err) {
    *out = NULL;
    if (!opts->pipeline || !opts->sink) return lg_fail(err, LG_EINVAL, "job needs a pipeline and a sink");
    if (opts->threads > JOB_MAX_THREADS)
        return lg_fail(err, LG_EINVAL, "threads must be 1..%d", JOB_MAX_THREADS);
    lg_job *j = calloc(1, sizeof *j);
    if (!j) return lg_fail(err, LG_ENOMEM, "job: out of memory");
    j->o = *opts;
    if (!j->o.batch_rows) j->o.batch_rows = JOB_DEFAULT_BATCH;
    size_t threads = j->o.threads > 1 ? (size_t)j->o.threads : 1;
    j->n_workers = threads > 1 ? threads - 1 : 1;
    j->n_batches = threads > 1 ? j->n_workers + 2 : 1; /* one filling, one per worker, one written */
    j->b = calloc(j->n_batches, sizeof *j->b);
    j->wk = calloc(j->n_workers, sizeof *j->wk);
    lg_err e = j->b && j->wk ? LG_OK : lg_fail(err, LG_ENOMEM, "job batches: out of memory");
    for (size_t k = 0; !e && k < j->n_batches; k++) {
        lg_buf_init(&j->b[k].arena, JOB_ARENA_MAX);
        lg_buf_init(&j->b[k].out, JOB_OUT_MAX);
    }
    if (j->b) j->b[0].state = SLOT_FILLING;
    if (!e) e = lg_csv_reader_new(&j->o.limits, on_row, on_bad, j, &j->reader, err);
    for (size_t i = 0; !e && i < j->n_workers; i++) {
        j->wk[i].job = j;
        e = lg_worker_new(j->o.pipeline, &j->wk[i].w, err);
        if (!e) lg_worker_begin_run(j->wk[i].w); /* one job, one run (per burst when live) */
    }
    if (!e && threads > 1) {
        pthread_mutex_init(&j->mu, NULL);
        pthread_cond_init(&j->cv, NULL);
        j->threaded = 1;
        for (size_t i = 0; i < j->n_workers; i++) {
            int rc = pthread_create(&j->wk[i].th, NULL, worker_main, &j->wk[i]);
            if (rc != 0) { /* EAGAIN: no memory for its stack or TLS, or the thread limit */
                e = lg_fail(err, LG_ENOMEM, "cannot start a classifying thread: out of memory or "
                            "the thread limit (%s)", strerror(rc));
                break;
            }
            j->n_started++; /* stopped by lg_job_free */
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
    j->in_feed = 1;
    lg_err e = lg_csv_feed(j->reader, data, len, err);
    j->in_feed = 0;
    j->feed_seconds += lg_now() - t0;
    return e;
}

lg_err lg_job_flush(lg_job *j, lg_errmsg *err) {
    if (!j->b[j->cur].n) return LG_OK;
    lg_err e = dispatch(j, err);
    j->burst++; /* rows after this are a new burst */
    return e;
}

lg_err lg_job_finish(lg_job *j, lg_errmsg *err) {
    double t0 = lg_now();
    j->in_feed = 1;
    lg_err e = lg_csv_finish(j->reader, err);
    j->in_feed = 0;
    j->feed_seconds += lg_now() - t0;
    if (!e && !j->have_header) e = lg_fail(err, LG_EPARSE, "empty input: no header row");
    if (!e && j->b[j->cur].n) e = dispatch(j, err); /* the last batch */
    if (!e) e = drain(j, err);
    if (!e && !j->header_written) e = emit_batch(j, NULL, err); /* a header and no rows */
    if (!e) stop_workers(j);
    return e;
}

uint64_t lg_job_rows_read(const lg_job *j) {
    uint64_t seen = j->reader ? lg_csv_rows_seen(j->reader) : 0;
    return seen > 0 ? seen - 1 : 0; /* the header is not a row */
}

void lg_job_stop(lg_job *j) {
    if (!j || !j->threaded) return;
    pthread_mutex_lock(&j->mu);
    while (j->next_write < j->next_seq && !j->werr) pthread_cond_wait(&j->cv, &j->mu);
    pthread_mutex_unlock(&j->mu);
    stop_workers(j);
}

void lg_job_get_stats(const lg_job *j, lg_job_stats *out) {
    *out = j->stats;
    for (size_t i = 0; i < j->n_workers; i++) {
        if (!j->wk[i].w) continue;
        const lg_worker_stats *ws = lg_worker_get_stats(j->wk[i].w);
        for (int k = 0; k < LG_STAGE_KINDS; k++) {
            out->decided[k] += ws->decided[k];
            out->stage_seconds[k] += ws->seconds[k];
        }
    }
    out->parse_seconds = j->feed_seconds - j->dispatch_seconds;
    if (out->parse_seconds < 0) out->parse_seconds = 0; /* clock granularity */
    uint64_t seen = j->reader ? lg_csv_rows_seen(j->reader) : 0;
    out->rows_read = seen > 0 ? seen - 1 : 0; /* the header is not a row */
}

void lg_job_free(lg_job *j) {
    if (!j) return;
    stop_workers(j);
    lg_csv_reader_free(j->reader);
    for (size_t i = 0; j->wk && i < j->n_workers; i++) lg_worker_free(j->wk[i].w);
    free(j->wk);
    for (size_t k = 0; j->b && k < j->n_batches; k++) {
        free(j->b[k].recs);
        free(j->b[k].offs);
        free(j->b[k].lens);
        free(j->b[k].tids);
        lg_buf_free(&j->b[k].arena);
        lg_buf_free(&j->b[k].out);
    }
    free(j->b);
    for (size_t i = 0; i < j->nplan; i++) free(j->plan_names[i]);
    free(j->plan);
    free(j->plan_names);
    free(j);
}
