/* kafka_team.c - the worker's classifying threads. A batch is cut into
 * contiguous slices, one per thread (the worker's own thread takes the
 * first); each thread parses its messages, runs the pipeline over them with
 * its own lg_worker (per-thread scratch, as `classify` does) and formats
 * their outputs into its own buffer. The worker's thread then produces the
 * outputs in input order (kafka_worker.c), so order and delivery do not
 * depend on the threads. With template ids (--explain) there is one slice:
 * the miner is not shared between threads. */
#include "kafka/kafka_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses, classifies and formats messages [s->a, s->b) of the batch. */
static void run_slice(lg_kafka_worker *w, kslice *s) {
    s->err = LG_OK;
    lg_buf_reset(&s->out);
    size_t nrec = 0;
    lg_record *recs = w->recs + s->a;
    for (size_t i = s->a; i < s->b; i++) {
        const rd_kafka_message_t *m = w->pend[i];
        w->rec_of[i] = SIZE_MAX;
        if ((s->err = kmsg_parse(&w->mo, m->payload, m->len, &w->msgs[i]))) {
            for (size_t k = i; k < s->b; k++) memset(&w->msgs[k], 0, sizeof w->msgs[k]);
            lg_fail(&s->msg, s->err, "out of memory");
            return;
        }
        if (w->msgs[i].reason[0]) {
            KM_ADD(&w->m.bad, 1);
            continue;
        }
        lg_record *r = &recs[nrec];
        memset(r, 0, sizeof *r);
        r->source = w->msgs[i].source;
        r->source_len = w->msgs[i].source_len;
        r->message = w->msgs[i].message;
        r->message_len = w->msgs[i].message_len;
        w->rec_of[i] = s->a + nrec++;
    }
    lg_worker_begin_run(s->pw);
    if (nrec && (s->err = lg_pipeline_run(w->o.pipeline, s->pw, recs, nrec, &s->msg))) return;
    km_rows(&w->m, recs, nrec);
    for (size_t i = s->a; i < s->b; i++) {
        kmsg *km = &w->msgs[i];
        w->out_len[i] = SIZE_MAX; /* none here: dead letter, or over the size cap */
        if (km->reason[0] && w->o.dead_letter) continue;
        const lg_record *rec = w->rec_of[i] != SIZE_MAX ? &w->recs[w->rec_of[i]] : NULL;
        char tid[17], *tidp = NULL;
        if (rec && w->o.explain && w->o.templates) { /* one slice only: see above */
            lg_tpl_result tr;
            if ((s->err = lg_tpl_add(w->o.templates, km->message, km->message_len, &tr, &s->msg))) return;
            lg_tpl_format_id(tr.id, tid);
            tidp = tid;
        }
        size_t mark = s->out.len;
        lg_err e = kmsg_format(&w->mo, km, w->pend[i]->payload, w->pend[i]->len, rec, w->o.explain,
                               tidp, &s->out);
        if (e == LG_ELIMIT || s->out.len - mark > w->out_cap) { /* the worker's thread says why */
            s->out.len = mark;
            continue;
        }
        if (e) {
            s->err = lg_fail(&s->msg, e, "formatting an output: %s", lg_strerror(e));
            return;
        }
        w->out_slice[i] = (uint16_t)(s - w->slices);
        w->out_off[i] = mark;
        w->out_len[i] = s->out.len - mark;
    }
}

static void *slice_thread(void *arg) {
    kslice *s = arg;
    lg_kafka_worker *w = s->w;
    uint64_t seen = 0;
    pthread_mutex_lock(&w->team_mu);
    for (;;) {
        while (!w->team_quit && w->team_gen == seen) pthread_cond_wait(&w->team_go, &w->team_mu);
        if (w->team_quit) break;
        seen = w->team_gen;
        int busy = s->b > s->a;
        pthread_mutex_unlock(&w->team_mu);
        if (busy) run_slice(w, s);
        pthread_mutex_lock(&w->team_mu);
        if (--w->team_pending == 0) pthread_cond_signal(&w->team_done);
    }
    pthread_mutex_unlock(&w->team_mu);
    return NULL;
}

lg_err kw_team_classify(lg_kafka_worker *w, size_t n, lg_errmsg *err) {
    size_t k = w->n_slices;
    if (n < 64 * k) k = n / 64 ? n / 64 : 1; /* small batches: not worth waking threads */
    for (size_t t = 0; t < w->n_slices; t++) {
        kslice *s = &w->slices[t];
        s->a = t < k ? n * t / k : n;
        s->b = t < k ? n * (t + 1) / k : n;
    }
    if (w->n_slices > 1) {
        pthread_mutex_lock(&w->team_mu);
        w->team_pending = w->n_slices - 1;
        w->team_gen++;
        pthread_cond_broadcast(&w->team_go);
        pthread_mutex_unlock(&w->team_mu);
    }
    run_slice(w, &w->slices[0]);
    if (w->n_slices > 1) {
        pthread_mutex_lock(&w->team_mu);
        while (w->team_pending) pthread_cond_wait(&w->team_done, &w->team_mu);
        pthread_mutex_unlock(&w->team_mu);
    }
    for (size_t t = 0; t < w->n_slices; t++)
        if (w->slices[t].err) return lg_fail(err, w->slices[t].err, "%s", w->slices[t].msg.msg);
    return LG_OK;
}

lg_err kw_team_new(lg_kafka_worker *w, size_t threads, lg_errmsg *err) {
    if (w->o.templates || threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    w->slices = calloc(threads, sizeof *w->slices);
    if (!w->slices) return lg_fail(err, LG_ENOMEM, "out of memory");
    pthread_mutex_init(&w->team_mu, NULL);
    pthread_cond_init(&w->team_go, NULL);
    pthread_cond_init(&w->team_done, NULL);
    w->team_init = 1;
    for (size_t t = 0; t < threads; t++) {
        kslice *s = &w->slices[t];
        s->w = w;
        lg_buf_init(&s->out, SIZE_MAX / 4);
        lg_err e = lg_worker_new(w->o.pipeline, &s->pw, err);
        if (e) return e;
        w->n_slices = t + 1;
        if (t && pthread_create(&s->tid, NULL, slice_thread, s)) {
            lg_worker_free(s->pw);
            lg_buf_free(&s->out);
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
        lg_buf_free(&w->slices[t].out);
    }
    free(w->slices);
    pthread_mutex_destroy(&w->team_mu);
    pthread_cond_destroy(&w->team_go);
    pthread_cond_destroy(&w->team_done);
}
