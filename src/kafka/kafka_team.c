/* kafka_team.c - the worker's classifying threads. A batch (kset) is cut
 * into pieces of contiguous messages; the helper threads, and the worker's
 * own thread once it has produced the previous batch's outputs, take
 * pieces until none is left. Each piece's messages are parsed, run through
 * the pipeline with the taking thread's scratch (per-thread, as `classify`
 * does) and formatted into that thread's buffer for this batch. The
 * worker's thread then produces the outputs in input order
 * (kafka_worker.c), so order and delivery do not depend on the threads.
 *
 * Live reload: a batch is classified by the set current when it starts
 * (it holds a reference until its outputs are produced); each thread takes
 * a worker of that set from the set's pool for the batch and gives it
 * back. Template ids (--explain) are added by the worker's thread, in input
 * order, when it produces (the miner is not shared between threads). */
#include "kafka/kafka_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- A batch's arrays ------------------------------------------------------------ */

lg_err kw_set_init(lg_kafka_worker *w, kset *s) {
    size_t n = w->o.batch_max;
    memset(s, 0, sizeof *s);
    s->pend = calloc(n, sizeof *s->pend);
    s->msgs = calloc(n, sizeof *s->msgs);
    s->recs = calloc(n, sizeof *s->recs);
    s->rec_of = calloc(n, sizeof *s->rec_of);
    s->room_off = calloc(n, sizeof *s->room_off);
    s->out_slice = calloc(n, sizeof *s->out_slice);
    s->out_off = calloc(n, sizeof *s->out_off);
    s->out_len = calloc(n, sizeof *s->out_len);
    s->outs = calloc(w->n_slices ? w->n_slices : 1, sizeof *s->outs);
    lg_buf_init(&s->room, SIZE_MAX / 4);
    for (size_t t = 0; s->outs && t < w->n_slices; t++) lg_buf_init(&s->outs[t], SIZE_MAX / 4);
    if (!s->pend || !s->msgs || !s->recs || !s->rec_of || !s->room_off || !s->out_slice || !s->out_off ||
        !s->out_len || !s->outs)
        return LG_ENOMEM;
    return LG_OK;
}

void kw_set_free(lg_kafka_worker *w, kset *s) {
    for (size_t t = 0; s->outs && t < w->n_slices; t++) lg_buf_free(&s->outs[t]);
    lg_buf_free(&s->room);
    free(s->pend);
    free(s->msgs);
    free(s->recs);
    free(s->rec_of);
    free(s->room_off);
    free(s->out_slice);
    free(s->out_off);
    free(s->out_len);
    free(s->outs);
    lg_pset_release(s->pset);
    memset(s, 0, sizeof *s);
}

int kw_needs_tid(const lg_kafka_worker *w, const kset *s, size_t i) {
    return w->o.explain && w->o.templates && s->rec_of[i] != SIZE_MAX && s->out_len[i] != SIZE_MAX;
}

/* ---- One piece ---------------------------------------------------------------------- */

/* Parses, classifies and formats messages [a, b) of s with thread t's
 * scratch pw into s->outs[t]. */
static void run_piece(lg_kafka_worker *w, kset *s, size_t t, lg_worker *pw, size_t a, size_t b) {
    kslice *sl = &w->slices[t];
    lg_buf *out = &s->outs[t];
    size_t nrec = 0;
    lg_record *recs = s->recs + a;
    for (size_t i = a; i < b; i++) {
        const rd_kafka_message_t *m = s->pend[i];
        s->rec_of[i] = SIZE_MAX;
        /* room was reserved for every message: kmsg_parse cannot fail */
        kmsg_parse(&w->mo, m->payload, m->len, &s->msgs[i], s->room.data + s->room_off[i]);
        if (s->msgs[i].reason[0]) {
            KM_ADD(&w->m.bad, 1);
            continue;
        }
        lg_record *r = &recs[nrec];
        memset(r, 0, sizeof *r);
        r->source = s->msgs[i].source;
        r->source_len = s->msgs[i].source_len;
        r->message = s->msgs[i].message;
        r->message_len = s->msgs[i].message_len;
        r->no_detail = !w->o.explain; /* only --explain writes it out */
        s->rec_of[i] = a + nrec++;
    }
    if (nrec && (sl->err = lg_pipeline_run(s->pl, pw, recs, nrec, &sl->msg))) {
        for (size_t i = a; i < b; i++) s->out_len[i] = SIZE_MAX;
        return;
    }
    km_rows(&w->m, recs, nrec);
    for (size_t i = a; i < b; i++) {
        kmsg *km = &s->msgs[i];
        s->out_len[i] = SIZE_MAX; /* none here: dead letter, or over the size cap */
        if (km->reason[0] && w->o.dead_letter) continue;
        const lg_record *rec = s->rec_of[i] != SIZE_MAX ? &s->recs[s->rec_of[i]] : NULL;
        size_t mark = out->len;
        lg_err e = kmsg_format(&w->mo, km, s->pend[i]->payload, s->pend[i]->len, rec, w->o.explain, NULL, out);
        if (e == LG_ELIMIT || out->len - mark > w->out_cap) { /* the worker's thread says why */
            out->len = mark;
            continue;
        }
        if (e) {
            sl->err = lg_fail(&sl->msg, e, "formatting an output: %s", lg_strerror(e));
            return;
        }
        s->out_slice[i] = (uint16_t)t;
        s->out_off[i] = mark;
        s->out_len[i] = out->len - mark;
        if (kw_needs_tid(w, s, i)) s->out_len[i]--; /* the '}': after the template id */
    }
}

/* Thread t takes pieces of s until none is left. */
static void take_pieces(lg_kafka_worker *w, kset *s, size_t t) {
    kslice *sl = &w->slices[t];
    lg_worker *pw = NULL;
    for (;;) {
        size_t c = __atomic_fetch_add(&s->next_chunk, 1, __ATOMIC_RELAXED);
        if (c >= s->n_chunks || sl->err) break;
        if (!pw) {
            if (s->pset) {
                if (!(pw = lg_pset_worker_get(s->pset, &sl->msg))) {
                    sl->err = LG_ENOMEM;
                    break;
                }
            } else {
                pw = sl->pw;
                lg_worker_begin_run(pw);
            }
        }
        size_t a = c * s->chunk, b = a + s->chunk < s->n ? a + s->chunk : s->n;
        run_piece(w, s, t, pw, a, b);
    }
    if (pw && s->pset) lg_pset_worker_put(s->pset, pw);
}

static void *slice_thread(void *arg) {
    kslice *sl = arg;
    lg_kafka_worker *w = sl->w;
    size_t t = (size_t)(sl - w->slices);
    uint64_t seen = 0;
    pthread_mutex_lock(&w->team_mu);
    for (;;) {
        while (!w->team_quit && w->team_gen == seen) pthread_cond_wait(&w->team_go, &w->team_mu);
        if (w->team_quit) break;
        seen = w->team_gen;
        kset *s = w->team_set;
        pthread_mutex_unlock(&w->team_mu);
        take_pieces(w, s, t);
        pthread_mutex_lock(&w->team_mu);
        if (--w->team_pending == 0) pthread_cond_signal(&w->team_done);
    }
    pthread_mutex_unlock(&w->team_mu);
    return NULL;
}

/* ---- A batch ---------------------------------------------------------------------- */

lg_err kw_team_start(lg_kafka_worker *w, kset *s, lg_errmsg *err) {
    size_t n = s->n, need = 0;
    /* one allocation for the batch's strings (kept from batch to batch),
     * not one per message */
    for (size_t i = 0; i < n; i++) {
        s->room_off[i] = need;
        need += KMSG_ROOM(s->pend[i]->len <= w->mo.max_value ? s->pend[i]->len : 0);
    }
    lg_buf_reset(&s->room);
    if (lg_buf_reserve(&s->room, need)) return lg_fail(err, LG_ENOMEM, "kafka team: out of memory");
    for (size_t t = 0; t < w->n_slices; t++) {
        lg_buf_reset(&s->outs[t]);
        w->slices[t].err = LG_OK;
    }
    for (size_t i = 0; i < n; i++) memset(&s->msgs[i], 0, sizeof s->msgs[i]);
    lg_pset_release(s->pset);
    s->pset = NULL;
    if (w->o.live) {
        s->pset = lg_live_acquire(w->o.live);
        s->pl = lg_pset_pipeline(s->pset);
    } else {
        s->pl = w->o.pipeline;
    }
    /* pieces: a few per thread, so that a slow thread holds no one up, and
     * not so small that the pipeline's per-call costs show */
    size_t k = w->n_slices * 4, chunk = (n + k - 1) / k;
    s->chunk = chunk < 64 ? 64 : chunk;
    s->n_chunks = (n + s->chunk - 1) / s->chunk;
    s->next_chunk = 0;
    if (w->n_slices > 1 && s->n_chunks > 1) {
        pthread_mutex_lock(&w->team_mu);
        w->team_set = s;
        w->team_pending = w->n_slices - 1;
        w->team_gen++;
        pthread_cond_broadcast(&w->team_go);
        pthread_mutex_unlock(&w->team_mu);
    }
    return LG_OK;
}

lg_err kw_team_finish(lg_kafka_worker *w, kset *s, lg_errmsg *err) {
    take_pieces(w, s, 0);
    if (w->n_slices > 1 && s->n_chunks > 1) {
        pthread_mutex_lock(&w->team_mu);
        while (w->team_pending) pthread_cond_wait(&w->team_done, &w->team_mu);
        pthread_mutex_unlock(&w->team_mu);
    }
    for (size_t t = 0; t < w->n_slices; t++)
        if (w->slices[t].err) return lg_fail(err, w->slices[t].err, "%s", w->slices[t].msg.msg);
    return LG_OK;
}

lg_err kw_team_classify(lg_kafka_worker *w, kset *s, lg_errmsg *err) {
    lg_err e = kw_team_start(w, s, err);
    return e ? e : kw_team_finish(w, s, err);
}

/* ---- Life cycle ------------------------------------------------------------------- */

lg_err kw_team_new(lg_kafka_worker *w, size_t threads, lg_errmsg *err) {
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    w->slices = calloc(threads, sizeof *w->slices);
    if (!w->slices) return lg_fail(err, LG_ENOMEM, "kafka team: out of memory");
    pthread_mutex_init(&w->team_mu, NULL);
    pthread_cond_init(&w->team_go, NULL);
    pthread_cond_init(&w->team_done, NULL);
    w->team_init = 1;
    for (size_t t = 0; t < threads; t++) {
        kslice *sl = &w->slices[t];
        sl->w = w;
        if (!w->o.live) {
            lg_err e = lg_worker_new(w->o.pipeline, &sl->pw, err);
            if (e) return e;
        }
        w->n_slices = t + 1;
        if (t && pthread_create(&sl->tid, NULL, slice_thread, sl)) {
            lg_worker_free(sl->pw);
            w->n_slices = t;
            return lg_fail(err, LG_ENOMEM, "cannot start a classifying thread");
        }
    }
    return LG_OK;
}

void kw_team_free(lg_kafka_worker *w) {
    if (!w->team_init) return;
    pthread_mutex_lock(&w->team_mu);
    w->team_quit = 1;
    pthread_cond_broadcast(&w->team_go);
    pthread_mutex_unlock(&w->team_mu);
    for (size_t t = 0; t < w->n_slices; t++) {
        if (t) pthread_join(w->slices[t].tid, NULL);
        lg_worker_free(w->slices[t].pw);
    }
    free(w->slices);
    pthread_mutex_destroy(&w->team_mu);
    pthread_cond_destroy(&w->team_go);
    pthread_cond_destroy(&w->team_done);
}
