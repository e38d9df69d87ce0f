/* kafka_worker.c - `logify kafka`'s loop: poll a batch of input messages,
 * classify it with the pipeline, produce one output per input (or a
 * dead-letter message for a bad one), then commit.
 *
 * At-least-once: each batch waits in a FIFO until the producer has reported
 * every one of its outputs acknowledged; then the offsets of the leading
 * finished batches are committed. Up to KW_MAX_INFLIGHT batches are in
 * flight, so polling and classifying go on while the brokers acknowledge.
 * Exactly-once: each batch is one transaction, the consumer's offsets sent
 * in it; a transaction the brokers abort is rewound (the consumer seeks back
 * to the batch's first offsets) and done again.
 *
 * Everything here runs on the thread that calls lg_kafka_worker_run: the
 * delivery reports (rd_kafka_poll on the producer) and the rebalances
 * (rd_kafka_consumer_poll) included. The eager assignment protocol revokes
 * every partition at a rebalance: the messages polled and not yet
 * classified are dropped (their offsets are not committed, so the next
 * owner gets them), the outputs in flight get the grace period to be
 * acknowledged and committed. */
#include "kafka/kafka_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Batches ---------------------------------------------------------------------- */

static void batch_free(kbatch *b) {
    if (!b) return;
    free(b->parts);
    free(b->first);
    free(b->upto);
    free(b->slots);
    free(b);
}

/* An empty batch with room for n outputs: a spare one, or a new one. */
static kbatch *batch_new(lg_kafka_worker *w, size_t n) {
    kbatch *b = w->spare;
    if (b) {
        w->spare = b->next;
        w->n_spare--;
    } else if (!(b = calloc(1, sizeof *b))) {
        return NULL;
    }
    if (b->cap_slots < n) {
        kslot *s = realloc(b->slots, n * sizeof *s);
        if (!s) {
            batch_free(b);
            return NULL;
        }
        b->slots = s;
        b->cap_slots = n;
    }
    b->next = NULL;
    b->n_parts = b->n_slots = b->outstanding = 0;
    b->sealed = b->failed = 0;
    b->t_first = 0;
    return b;
}

/* A batch done with: kept for reuse (as many as can be in flight), or freed. */
static void batch_done(lg_kafka_worker *w, kbatch *b) {
    if (w->n_spare >= KW_MAX_INFLIGHT) {
        batch_free(b);
        return;
    }
    b->next = w->spare;
    w->spare = b;
    w->n_spare++;
}

/* Notes m's offset: its partition's first offset in b and the next one.
 * A poll's messages come in runs of one partition: the last one is tried
 * first. LG_ENOMEM when the partition table cannot grow. */
static lg_err batch_note(kbatch *b, const rd_kafka_message_t *m) {
    size_t i = b->n_parts;
    if (i && b->parts[i - 1] == m->partition) {
        i--;
    } else {
        for (i = 0; i < b->n_parts && b->parts[i] != m->partition; i++) {}
    }
    if (i == b->n_parts) {
        if (i == b->cap_parts) {
            size_t cap = b->cap_parts ? 2 * b->cap_parts : 8;
            int32_t *p = realloc(b->parts, cap * sizeof *p);
            if (p) b->parts = p;
            int64_t *f = p ? realloc(b->first, cap * sizeof *f) : NULL;
            if (f) b->first = f;
            int64_t *u = f ? realloc(b->upto, cap * sizeof *u) : NULL;
            if (!u) return LG_ENOMEM;
            b->upto = u;
            b->cap_parts = cap;
        }
        b->parts[i] = m->partition;
        b->first[i] = m->offset;
        b->n_parts++;
    }
    b->upto[i] = m->offset + 1;
    return LG_OK;
}

/* b's offsets as a librdkafka list (first: the first offsets, else the
 * ones to commit), added to into (the later batch's offset wins), or to a
 * new list when into is NULL. NULL when out of memory. */
static rd_kafka_topic_partition_list_t *batch_offsets(const lg_kafka_worker *w, const kbatch *b, int first,
                                                      rd_kafka_topic_partition_list_t *into) {
    rd_kafka_topic_partition_list_t *l = into ? into : lg_kafka()->topic_partition_list_new((int)b->n_parts);
    if (!l) return NULL;
    for (size_t i = 0; i < b->n_parts; i++) {
        rd_kafka_topic_partition_t *p = lg_kafka()->topic_partition_list_find(l, w->o.input, b->parts[i]);
        if (!p) p = lg_kafka()->topic_partition_list_add(l, w->o.input, b->parts[i]);
        p->offset = first ? b->first[i] : b->upto[i];
    }
    return l;
}

/* A batch no one will commit: freed now, or once the producer has reported
 * its last output (the reports point into it). */
static void bury(lg_kafka_worker *w, kbatch *b) {
    if (!b->outstanding) {
        batch_done(w, b);
        return;
    }
    b->next = w->grave;
    w->grave = b;
}

static void sweep(lg_kafka_worker *w) {
    for (kbatch **pp = &w->grave; *pp;) {
        kbatch *b = *pp;
        if (b->outstanding) {
            pp = &b->next;
            continue;
        }
        *pp = b->next;
        batch_done(w, b);
    }
}

static kbatch *pop_head(lg_kafka_worker *w) {
    kbatch *b = w->head;
    w->head = b->next;
    if (!w->head) w->tail = NULL;
    b->next = NULL;
    w->n_inflight--;
    return b;
}

/* Drops a batch's messages (and the hold on its set of rules and model). */
static void drop_set(kset *s) {
    for (size_t i = 0; i < s->n; i++) lg_kafka()->message_destroy(s->pend[i]);
    s->n = 0;
    lg_pset_release(s->pset);
    s->pset = NULL;
}

/* Drops the messages polled and not produced: their offsets are not
 * committed, their partitions' next owner gets them again. */
static void drop_pending(lg_kafka_worker *w) {
    drop_set(&w->sets[0]);
    drop_set(&w->sets[1]);
    w->ready = NULL;
}

/* ---- Callbacks ---------------------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
    lg_kafka_worker *w = opaque;
    kslot *s = msg->_private;
    if (!s) return;
    kbatch *b = s->b;
    b->outstanding--;
    if (!msg->err) {
        KM_ADD(&w->m.produced, 1);
        kw_client_ok(w, &w->plog);
        return;
    }
    b->failed = 1;
    KM_ADD(&w->m.delivery_errors, 1);
    if (msg->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || msg->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return; /* given up at shutdown or by an aborted transaction: not committed, redelivered */
    if (w->o.exactly_once) { /* the transaction fails to commit, is aborted and done again */
        kw_client_error(w, &w->plog, msg->err, lg_kafka()->err2str(msg->err));
        return;
    }
    /* no timeout is set: only a refusal for good gets here */
    kw_fail(w, LG_ENET, "kafka producer: the brokers refused an output to '%s' [%d]: %s (its input "
                        "and every later one stay uncommitted: the next worker gets them again)",
            lg_kafka()->topic_name(msg->rkt), (int)msg->partition, lg_kafka()->err2str(msg->err));
}

static double grace_left(lg_kafka_worker *w) {
    if (!w->stop_t) return w->o.grace_seconds;
    double left = w->o.grace_seconds - (lg_now() - w->stop_t);
    return left > 0.1 ? left : 0.1;
}

static rd_kafka_resp_err_t commit_ready(lg_kafka_worker *w, int sync);

/* At-least-once, before giving partitions up (rebalance, stop): waits up to
 * the grace period for the outputs in flight, commits what they cover, and
 * gives up on the rest (redelivered to the next owner). */
static void settle(lg_kafka_worker *w) {
    if (w->head) lg_kafka()->flush(w->producer, (int)(grace_left(w) * 1000));
    rd_kafka_resp_err_t e = commit_ready(w, 1);
    size_t lost = 0;
    while (w->head) {
        kbatch *b = pop_head(w);
        lost += b->n_slots;
        bury(w, b);
    }
    if (lost)
        lg_log(LG_LOG_WARN, "kafka: %zu outputs not acknowledged in time: their inputs stay uncommitted "
                            "and will be processed again", lost);
    /* the partitions go: what they are done up to is carried to the next
     * assignment when the commit was refused (the group was rejoining: a
     * coordinator that moved), and committed then if they come back */
    if (w->carry) lg_kafka()->topic_partition_list_destroy(w->carry);
    w->carry = e && e != RD_KAFKA_RESP_ERR__NO_OFFSET ? w->done : NULL;
    if (!w->carry && w->done) lg_kafka()->topic_partition_list_destroy(w->done);
    w->done = NULL;
    w->commit_failed = 0;
    w->done_clean = 0;
}

/* A new assignment: the partitions carried from a refused commit start
 * where they were done, and that offset is committed now. */
static void take_carry(lg_kafka_worker *w, rd_kafka_topic_partition_list_t *parts) {
    if (!w->carry) return;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        const rd_kafka_topic_partition_t *c = lg_kafka()->topic_partition_list_find(w->carry, p->topic, p->partition);
        if (!c || c->offset < 0) continue;
        p->offset = c->offset;
        if (!w->done) w->done = lg_kafka()->topic_partition_list_new(parts->cnt);
        if (w->done) lg_kafka()->topic_partition_list_add(w->done, p->topic, p->partition)->offset = c->offset;
        w->commit_failed = 1; /* commit_ready commits them at once */
        w->done_clean = 0;
    }
    if (w->done && w->done->cnt)
        lg_log(LG_LOG_INFO, "kafka: %d partition%s back after a refused commit: starting where they were done",
               w->done->cnt, w->done->cnt == 1 ? "" : "s");
    lg_kafka()->topic_partition_list_destroy(w->carry);
    w->carry = NULL;
}

static void log_partitions(const char *what, const rd_kafka_topic_partition_list_t *parts) {
    char list[512];
    size_t n = 0;
    list[0] = 0;
    for (int i = 0; i < parts->cnt && n + 16 < sizeof list; i++)
        n += (size_t)snprintf(list + n, sizeof list - n, "%s%d", i ? "," : "", (int)parts->elems[i].partition);
    lg_log(LG_LOG_INFO, "kafka: %s %d partition%s of '%s': %s", what, parts->cnt, parts->cnt == 1 ? "" : "s",
           parts->cnt ? parts->elems[0].topic : "-", parts->cnt ? list : "none");
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t code, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    lg_kafka_worker *w = opaque;
    KM_ADD(&w->m.rebalances, 1);
    if (code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_partitions("assigned", parts);
        if (!w->o.exactly_once) take_carry(w, parts);
        lg_kafka()->assign(rk, parts);
        kw_client_ok(w, &w->clog);
        return;
    }
    /* revoked (all of them: eager protocol), or lost */
    log_partitions(code == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "giving up" : "lost", parts);
    drop_pending(w);
    if (!w->o.exactly_once) settle(w); /* exactly-once: no transaction is open during a poll */
    lg_kafka()->assign(rk, NULL);
    km_set_lag(&w->m, NULL, NULL, 0);
}

/* ---- At-least-once commits ------------------------------------------------------------ */

/* Adds the offsets of the leading batches whose outputs are all
 * acknowledged (a failed one stops there: nothing after it is committed) to
 * w->done, and commits w->done: asynchronously in the loop (when it grew,
 * or every half second while the last commit failed: a failed commit is
 * made again, not left to the next batch, which may never come), or
 * synchronously before giving the partitions up (sync; retried while the
 * coordinator moves or does not answer, within the grace period). Returns
 * the synchronous commit's error. */
static rd_kafka_resp_err_t commit_ready(lg_kafka_worker *w, int sync) {
    double now = lg_now();
    int grew = 0;
    while (w->head && w->head->sealed && !w->head->outstanding && !w->head->failed) {
        kbatch *b = pop_head(w);
        /* later batches come later: their offsets are higher */
        rd_kafka_topic_partition_list_t *d = batch_offsets(w, b, 0, w->done);
        if (d) w->done = d;
        km_latency(&w->m, now - b->t_first);
        batch_done(w, b);
        grew = 1;
        w->done_clean = 0;
    }
    if (!w->done || !w->done->cnt) return RD_KAFKA_RESP_ERR__NO_OFFSET;
    if (!sync && !grew && !(w->commit_failed && now - w->recommit_t >= 0.5)) return RD_KAFKA_RESP_ERR_NO_ERROR;
    /* already committed (the brokers said so): nothing to wait for, even
     * with the coordinator away (a stop with the brokers down) */
    if (sync && w->done_clean) return RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!grew && !sync) lg_log(LG_LOG_INFO, "kafka: committing offsets again after a failed commit");
    w->commit_failed = 0;
    w->recommit_t = now;
    rd_kafka_resp_err_t e = lg_kafka()->commit(w->consumer, w->done, !sync);
    for (double end = lg_now() + grace_left(w);
         sync && lg_now() < end &&
         (e == RD_KAFKA_RESP_ERR_NOT_COORDINATOR || e == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
          e == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS || e == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
          e == RD_KAFKA_RESP_ERR__TIMED_OUT || e == RD_KAFKA_RESP_ERR__TRANSPORT);) {
        usleep(300000); /* not kw_backoff: it returns at once when stopping */
        lg_kafka()->poll(w->producer, 0);
        e = lg_kafka()->commit(w->consumer, w->done, 0);
    }
    if (sync && !e) w->done_clean = 1;
    if (e && sync && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        lg_log(LG_LOG_WARN, "kafka: committing offsets failed: %s (made again if the partitions come back; "
                            "else those inputs will be processed again)", lg_kafka()->err2str(e));
    return sync ? e : RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ---- Exactly-once --------------------------------------------------------------------- */

static void rewind_batch(lg_kafka_worker *w, kbatch *b) {
    w->rewound = 1; /* the batch being classified comes again too: step() drops it */
    rd_kafka_topic_partition_list_t *l = batch_offsets(w, b, 1, NULL);
    rd_kafka_error_t *e = l ? lg_kafka()->seek_partitions(w->consumer, l, 10000) : NULL;
    if (l) lg_kafka()->topic_partition_list_destroy(l);
    if (!l) lg_log(LG_LOG_WARN, "kafka: rewinding after an aborted transaction: out of memory");
    if (e) { /* a partition no longer ours: its next owner starts from the committed offset */
        lg_log(LG_LOG_WARN, "kafka: rewinding after an aborted transaction: %s", lg_kafka()->error_string(e));
        lg_kafka()->error_destroy(e);
    }
}

/* Aborts the open transaction (why: the reason logged; n: the batch's
 * inputs) and rewinds its batch b, to be done again. Only a failed abort
 * is returned. */
static lg_err txn_abort(lg_kafka_worker *w, kbatch *b, const char *why, size_t n, lg_errmsg *err) {
    lg_log(LG_LOG_WARN, "kafka exactly-once: transaction aborted (%s): its %zu inputs will be done again", why, n);
    rd_kafka_error_t *a;
    while ((a = lg_kafka()->abort_transaction(w->producer, 30000)) && lg_kafka()->error_is_retriable(a) &&
           !lg_kafka()->error_is_fatal(a)) {
        lg_kafka()->error_destroy(a);
        kw_backoff(w, 1);
    }
    if (a) {
        lg_err r = lg_fail(err, LG_ENET, "kafka exactly-once: aborting the transaction failed: %s",
                           lg_kafka()->error_string(a));
        lg_kafka()->error_destroy(a);
        return r;
    }
    KM_ADD(&w->m.txn_aborts, 1);
    rewind_batch(w, b);
    return LG_OK;
}

/* Sends the batch's offsets in the open transaction and commits it; a
 * transaction that must be aborted is aborted and its batch rewound. Only a
 * fatal error (fenced by a newer instance) is returned. */
static lg_err txn_finish(lg_kafka_worker *w, kbatch *b, lg_errmsg *err) {
    rd_kafka_consumer_group_metadata_t *g = lg_kafka()->consumer_group_metadata(w->consumer);
    rd_kafka_topic_partition_list_t *offs = g ? batch_offsets(w, b, 0, NULL) : NULL;
    if (!offs) {
        if (g) lg_kafka()->consumer_group_metadata_destroy(g);
        return lg_fail(err, LG_ENOMEM, "kafka transaction: out of memory");
    }
    int step = 0; /* 0: offsets, 1: commit, 2: done */
    double backoff = 0.5;
    lg_err r = LG_OK;
    while (step < 2) {
        rd_kafka_error_t *e = step == 0 ? lg_kafka()->send_offsets_to_transaction(w->producer, offs, g, 30000)
                                        : lg_kafka()->commit_transaction(w->producer, 30000);
        if (!e) {
            step++;
            continue;
        }
        int retry = lg_kafka()->error_is_retriable(e) && !lg_kafka()->error_txn_requires_abort(e) &&
                    !(w->stop_t && grace_left(w) <= 0.1);
        if (lg_kafka()->error_is_fatal(e)) {
            r = lg_fail(err, LG_ENET, "kafka exactly-once: %s (another worker with this transactional id, "
                                      "or the group moved on: this one stops)", lg_kafka()->error_string(e));
            lg_kafka()->error_destroy(e);
            break;
        }
        if (retry) {
            kw_client_error(w, &w->plog, lg_kafka()->error_code(e), lg_kafka()->error_string(e));
            lg_kafka()->error_destroy(e);
            kw_backoff(w, backoff);
            backoff = backoff * 2 > 5 ? 5 : backoff * 2;
            continue;
        }
        r = txn_abort(w, b, lg_kafka()->error_string(e), b->n_slots, err);
        lg_kafka()->error_destroy(e);
        break;
    }
    if (step == 2) {
        KM_ADD(&w->m.txn_commits, 1);
        km_latency(&w->m, lg_now() - b->t_first);
    }
    lg_kafka()->consumer_group_metadata_destroy(g);
    lg_kafka()->topic_partition_list_destroy(offs);
    return r;
}

/* ---- One batch ------------------------------------------------------------------------- */

/* Produces one output of b for input m, with m's headers (taken from m:
 * no copy). reason non-NULL: a dead-letter message (m's headers copied,
 * plus the reason and where it came from). LG_ELIMIT: the value is over
 * the producer's size limit (nothing produced, m keeps its headers). */
static lg_err produce_one(lg_kafka_worker *w, kbatch *b, rd_kafka_message_t *m, rd_kafka_topic_t *topic,
                          const char *val, size_t len, const char *reason, lg_errmsg *err) {
    kslot *s = &b->slots[b->n_slots];
    s->b = b;
    s->in_part = m->partition;
    rd_kafka_headers_t *h = NULL, *ih = NULL;
    if (reason) {
        if (lg_kafka()->message_headers(m, &ih) == RD_KAFKA_RESP_ERR_NO_ERROR && ih) h = lg_kafka()->headers_copy(ih);
        char src[300];
        snprintf(src, sizeof src, "%s/%d/%lld", lg_kafka()->topic_name(m->rkt), (int)m->partition,
                 (long long)m->offset);
        if (!h) h = lg_kafka()->headers_new(2);
        if (!h) return lg_fail(err, LG_ENOMEM, "kafka: the headers of an output to '%s': out of memory",
                               lg_kafka()->topic_name(topic));
        lg_kafka()->header_add(h, "logify-error", -1, reason, -1);
        lg_kafka()->header_add(h, "logify-input", -1, src, -1);
    } else if (lg_kafka()->message_detach_headers(m, &h) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        h = NULL;
    }
    for (;;) {
        rd_kafka_resp_err_t e = lg_kafka()->producev(
            w->producer, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)val, len),
            RD_KAFKA_V_KEY(m->key, m->key_len), RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(s), RD_KAFKA_V_END);
        if (!e) { /* the producer owns h now */
            b->n_slots++;
            b->outstanding++;
            return LG_OK;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !(w->stop_t && grace_left(w) <= 0.1) && !w->fatal) {
            lg_kafka()->poll(w->producer, 100); /* the brokers are slow or away: wait for room */
            continue;
        }
        if (h && !reason) lg_kafka()->message_set_headers(m, h); /* back to m, for another try */
        else if (h) lg_kafka()->headers_destroy(h);
        if (e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
            return lg_fail(err, LG_ELIMIT, "kafka: an output of %zu bytes is over the producer's size limit", len);
        if (w->o.exactly_once && e != RD_KAFKA_RESP_ERR__FATAL && !w->fatal) {
            /* refused at once (the transaction is abortable: an earlier
             * output of it was refused): aborted and done again, as when
             * the refusal comes in a delivery report */
            kw_client_error(w, &w->plog, e, lg_kafka()->err2str(e));
            b->failed = 1;
            snprintf(w->abort_why, sizeof w->abort_why, "producing to '%s': %s", lg_kafka()->topic_name(topic),
                     lg_kafka()->err2str(e));
            return lg_fail(err, LG_ECANCELED, "kafka: transaction aborted: %s", w->abort_why);
        }
        kw_fail(w, LG_ENET, "kafka producer: cannot produce to '%s': %s", lg_kafka()->topic_name(topic),
                lg_kafka()->err2str(e));
        return lg_fail(err, LG_ENET, "%s", w->fatal_msg);
    }
}

/* Input i's output: labelled (or Unclassified with its reason), or to the
 * dead-letter topic when it is bad and one is set. */
static lg_err emit(lg_kafka_worker *w, kset *set, kbatch *b, size_t i, lg_errmsg *err) {
    rd_kafka_message_t *m = set->pend[i];
    kmsg *km = &set->msgs[i];
    const char *val = m->payload;
    size_t len = m->len;
    if (km->reason[0] && w->o.dead_letter) {
        lg_err e = produce_one(w, b, m, w->dlq_rkt, val, len, km->reason, err);
        if (e == LG_ELIMIT) { /* too big for the producer: its first bytes, the size said */
            char why[LG_DETAIL_MAX + 64];
            snprintf(why, sizeof why, "%s; value cut to its first %d of %zu bytes", km->reason, KMSG_RAW_MAX, len);
            e = produce_one(w, b, m, w->dlq_rkt, val, len < KMSG_RAW_MAX ? len : KMSG_RAW_MAX, why, err);
        }
        if (!e) KM_ADD(&w->m.dead_lettered, 1);
        return e; /* produce_one said why */
    }
    lg_err e = LG_ELIMIT;
    if (set->out_len[i] != SIZE_MAX) {
        const char *out = set->outs[set->out_slice[i]].data + set->out_off[i];
        size_t out_len = set->out_len[i];
        if (kw_needs_tid(w, set, i)) { /* in input order, on this thread: the same ids every run */
            lg_tpl_result tr;
            char tid[17];
            lg_buf_reset(&w->out);
            e = lg_tpl_add(w->o.templates, km->message, km->message_len, &tr, err);
            if (e) return e;
            lg_tpl_format_id(tr.id, tid);
            e = lg_buf_append(&w->out, out, out_len);
            if (!e) e = lg_buf_append(&w->out, ",\"template_id\":\"", 16);
            if (!e) e = lg_buf_append(&w->out, tid, strlen(tid));
            if (!e) e = lg_buf_append(&w->out, "\"}", 2);
            if (e == LG_ENOMEM) return lg_fail(err, e, "kafka: an output with its template id: out of memory");
            out = w->out.data;
            out_len = w->out.len;
        }
        if (!e || e == LG_ELIMIT) e = produce_one(w, b, m, w->out_rkt, out, out_len, NULL, err);
    }
    if (e == LG_ELIMIT) { /* the output outgrew a limit: Unclassified, saying so */
        kmsg big;
        memset(&big, 0, sizeof big);
        snprintf(big.reason, sizeof big.reason, "the output is over the size limit (%zu bytes of value)", len);
        lg_buf_reset(&w->out);
        e = kmsg_format(&w->mo, &big, val, len, NULL, w->o.explain, NULL, &w->out);
        if (e) return lg_fail(err, e, "kafka: the output saying a value is over the size limit: %s", lg_strerror(e));
        e = produce_one(w, b, m, w->out_rkt, w->out.data, w->out.len, NULL, err);
        if (!e) KM_ADD(&w->m.bad, 1);
    }
    if (e) return w->fatal ? lg_fail(err, e, "%s", w->fatal_msg) : e; /* produce_one said why */
    return LG_OK;
}

/* Produces a classified batch's outputs; at-least-once queues the batch
 * for its commit, exactly-once commits its transaction. The messages are
 * dropped after. */
static lg_err process_batch(lg_kafka_worker *w, kset *set, lg_errmsg *err) {
    size_t n = set->n;
    lg_err e = LG_OK;
    kbatch *b = batch_new(w, n);
    for (size_t i = 0; b && i < n; i++)
        if (batch_note(b, set->pend[i])) {
            batch_done(w, b);
            b = NULL;
        }
    if (!b) {
        e = lg_fail(err, LG_ENOMEM, "kafka batch: out of memory");
        kw_fail(w, e, "%s", "kafka batch: out of memory");
        drop_set(set);
        return e;
    }
    b->t_first = set->t_first;
    KM_ADD(&w->m.consumed, n);
    if (w->o.exactly_once) {
        rd_kafka_error_t *te = lg_kafka()->begin_transaction(w->producer);
        if (te) {
            e = lg_fail(err, LG_ENET, "kafka exactly-once: cannot begin a transaction: %s", lg_kafka()->error_string(te));
            kw_fail(w, e, "%s", err ? err->msg : "cannot begin a transaction");
            lg_kafka()->error_destroy(te);
        }
    }
    for (size_t i = 0; i < n && !e; i++) e = emit(w, set, b, i, err);
    drop_set(set);
    b->sealed = 1;
    if (e == LG_ECANCELED && w->o.exactly_once) { /* an output refused at once */
        e = txn_abort(w, b, w->abort_why, n, err);
        if (e) kw_fail(w, e, "%s", err ? err->msg : lg_strerror(e));
        bury(w, b);
        return e;
    }
    if (e) { /* nothing of it is committed: its inputs go to the next owner */
        if (!w->fatal) kw_fail(w, e, "%s", err ? err->msg : lg_strerror(e));
        bury(w, b);
        return e;
    }
    if (w->o.exactly_once) {
        e = txn_finish(w, b, err);
        if (e) kw_fail(w, e, "%s", err ? err->msg : lg_strerror(e));
        bury(w, b);
        return e;
    }
    if (w->tail) w->tail->next = b;
    else w->head = b;
    w->tail = b;
    w->n_inflight++;
    return LG_OK;
}

/* ---- Polling ----------------------------------------------------------------------------- */

/* Polls into s up to batch_max messages: the first waits up to
 * timeout_ms, the rest only take what has arrived. */
static void collect(lg_kafka_worker *w, kset *s, int timeout_ms) {
    while (s->n < w->o.batch_max && !kw_stopping(w)) {
        rd_kafka_message_t *m = lg_kafka()->consumer_poll(w->consumer, s->n ? 0 : timeout_ms);
        if (!m) return;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                kw_client_error(w, &w->clog, m->err, lg_kafka()->message_errstr(m));
            lg_kafka()->message_destroy(m);
            return;
        }
        if (!s->n) s->t_first = lg_now();
        s->pend[s->n++] = m;
        kw_client_ok(w, &w->clog);
    }
}

/* One step: the batch polled into `in` is classified by the team while
 * this thread produces the outputs of the one classified before (ready);
 * then `in` is the one ready. A rebalance (in collect) drops both. */
static void step(lg_kafka_worker *w, kset *in, lg_errmsg *err) {
    int go = in->n > 0;
    if (go) {
        lg_err e = kw_team_start(w, in, err);
        if (e) {
            kw_fail(w, e, "classifying: %s", err ? err->msg : lg_strerror(e));
            drop_set(in);
            go = 0;
        }
    }
    if (w->ready) {
        kset *r = w->ready;
        w->ready = NULL;
        if (!w->fatal) process_batch(w, r, err);
        else drop_set(r);
    }
    if (!go) {
        w->rewound = 0; /* nothing polled before the rewind is waiting */
        return;
    }
    lg_err e = kw_team_finish(w, in, err);
    if (e) kw_fail(w, e, "classifying: %s", err ? err->msg : lg_strerror(e));
    if (e || w->rewound) { /* rewound: these messages come again */
        drop_set(in);
        w->rewound = 0;
        return;
    }
    w->ready = in;
}

lg_err lg_kafka_worker_run(lg_kafka_worker *w, lg_errmsg *err) {
    lg_err e = kw_wait_topics(w, err);
    if (!e && w->o.exactly_once) e = kw_init_transactions(w, err);
    if (e) return e;
    if (kw_stopping(w)) { /* stopped before the brokers answered: nothing was polled */
        lg_log(LG_LOG_INFO, "kafka: asked to stop before the brokers answered");
        return w->fatal ? lg_fail(err, w->fatal, "%s", w->fatal_msg) : LG_OK;
    }
    rd_kafka_topic_partition_list_t *topics = lg_kafka()->topic_partition_list_new(1);
    if (!topics) return lg_fail(err, LG_ENOMEM, "kafka topic list: out of memory");
    lg_kafka()->topic_partition_list_add(topics, w->o.input, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = lg_kafka()->subscribe(w->consumer, topics);
    lg_kafka()->topic_partition_list_destroy(topics);
    if (se) return lg_fail(err, LG_ENET, "kafka: cannot subscribe to '%s': %s", w->o.input, lg_kafka()->err2str(se));
    lg_log(LG_LOG_INFO, "kafka: group '%s': '%s' -> '%s'%s%s (%s)", w->o.group, w->o.input, w->o.output,
           w->o.dead_letter ? ", bad messages -> " : "", w->o.dead_letter ? w->o.dead_letter : "",
           w->o.exactly_once ? "exactly-once" : "at-least-once");
    while (!kw_stopping(w)) {
        int full = 0;
        kset *in = w->ready == &w->sets[0] ? &w->sets[1] : &w->sets[0];
        if (!w->o.exactly_once) {
            lg_kafka()->poll(w->producer, 0); /* delivery reports */
            commit_ready(w, 0);
            full = w->n_inflight >= KW_MAX_INFLIGHT;
        }
        sweep(w); /* exactly-once too: an aborted batch waits there for its purged outputs' reports */
        if (full) { /* wait for acknowledgements; keep the group's poll going while there is room */
            collect(w, in, 0);
            lg_kafka()->poll(w->producer, 100);
        } else {
            /* a batch waiting to be produced: take what has come, do not wait */
            collect(w, in, w->ready ? 0 : 100);
            if (!kw_stopping(w)) step(w, in, err);
        }
        double now = lg_now();
        if (now - w->lag_t >= 1.0) {
            kw_refresh_lag(w);
            w->lag_t = now;
        }
    }
    /* stopping: finish what is polled, commit, leave the group */
    if (!w->fatal) {
        kset *in = w->ready == &w->sets[0] ? &w->sets[1] : &w->sets[0];
        w->stop_t = lg_now();
        lg_log(LG_LOG_INFO, "kafka: stopping: finishing %zu polled messages and %zu batch(es) in flight (grace %.0f s)",
               in->n + (w->ready ? w->ready->n : 0), w->n_inflight, w->o.grace_seconds);
        step(w, in, err); /* classifies in while producing ready: in is ready then */
        if (w->ready && !w->fatal) { /* produces it (the other set is empty) */
            in = w->ready == &w->sets[0] ? &w->sets[1] : &w->sets[0];
            step(w, in, err);
        }
    }
    drop_pending(w);
    if (!w->o.exactly_once) settle(w);
    rd_kafka_resp_err_t ce = lg_kafka()->consumer_close(w->consumer);
    if (ce && !w->fatal) lg_log(LG_LOG_WARN, "kafka: leaving the group: %s", lg_kafka()->err2str(ce));
    lg_kafka()->flush(w->producer, (int)(grace_left(w) * 1000));
    if (w->fatal) return lg_fail(err, w->fatal, "%s", w->fatal_msg);
    return LG_OK;
}

void lg_kafka_worker_stop(lg_kafka_worker *w) { __atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED); }

/* ---- Life cycle ------------------------------------------------------------------------ */

lg_err lg_kafka_worker_new(const lg_kafka_opts *opts, lg_kafka_worker **out, lg_errmsg *err) {
    *out = NULL;
    const char *need[4] = {opts->brokers, opts->group, opts->input, opts->output};
    static const char *names[4] = {"brokers", "group", "input topic", "output topic"};
    for (int i = 0; i < 4; i++)
        if (!need[i] || !*need[i]) return lg_fail(err, LG_EINVAL, "kafka: the %s is missing", names[i]);
    if (!opts->pipeline == !opts->live) return lg_fail(err, LG_EINVAL, "kafka: a pipeline or a live set, one of them");
    lg_err el = lg_kafka_load(err); /* librdkafka: loaded now, not at start-up */
    if (el) return el;
    if (opts->n_props > LG_KAFKA_MAX_PROPS)
        return lg_fail(err, LG_EINVAL, "kafka: more than %d properties", LG_KAFKA_MAX_PROPS);
    if (opts->dead_letter && !strcmp(opts->dead_letter, opts->input))
        return lg_fail(err, LG_EINVAL, "kafka: the dead-letter topic is the input topic");
    if (!strcmp(opts->output, opts->input))
        return lg_fail(err, LG_EINVAL, "kafka: the output topic is the input topic");
    if (opts->batch_max > 100000) return lg_fail(err, LG_EINVAL, "kafka: batch size over 100000");
    lg_kafka_worker *w = calloc(1, sizeof *w);
    if (!w) return lg_fail(err, LG_ENOMEM, "kafka worker: out of memory");
    w->o = *opts;
    if (!w->o.batch_max) w->o.batch_max = 1024;
    if (!w->o.max_value) w->o.max_value = 512u << 10;
    if (w->o.grace_seconds <= 0) w->o.grace_seconds = 30;
    w->mo.source_field = w->o.source_field ? w->o.source_field : "source";
    w->mo.message_field = w->o.message_field ? w->o.message_field : "log_message";
    w->mo.plain_source = w->o.source;
    w->mo.max_value = w->o.max_value;
    km_init(&w->m);
    w->m.live = w->o.live;
    /* an output is the value plus a few fields; JSON escapes can make plain text 6 times longer */
    lg_buf_init(&w->out, 65536); /* the Unclassified replacement of an output too large */
    w->out_cap = 6 * w->o.max_value + 65536;
    lg_err e = LG_OK;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t threads = w->o.threads > 0 ? (size_t)w->o.threads : cores < 1 ? 1 : cores > 16 ? 16 : (size_t)cores;
    if (!e) e = kw_team_new(w, threads, err);
    for (int i = 0; i < 2 && !e; i++)
        if (kw_set_init(w, &w->sets[i])) e = lg_fail(err, LG_ENOMEM, "kafka worker: out of memory");
    if (!e) e = kw_clients_new(w, on_delivery, on_rebalance, err);
    if (e) {
        lg_kafka_worker_free(w);
        return e;
    }
    *out = w;
    return LG_OK;
}

void lg_kafka_worker_free(lg_kafka_worker *w) {
    if (!w) return;
    drop_pending(w);
    if (w->producer) { /* outputs still queued are given up (their inputs were not committed) */
        lg_kafka()->purge(w->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        lg_kafka()->poll(w->producer, 0);
        if (w->out_rkt) lg_kafka()->topic_destroy(w->out_rkt);
        if (w->dlq_rkt) lg_kafka()->topic_destroy(w->dlq_rkt);
        lg_kafka()->destroy(w->producer);
    }
    if (w->consumer) lg_kafka()->destroy(w->consumer);
    while (w->head) batch_free(pop_head(w));
    while (w->grave) {
        kbatch *b = w->grave;
        w->grave = b->next;
        batch_free(b);
    }
    if (w->done) lg_kafka()->topic_partition_list_destroy(w->done);
    if (w->carry) lg_kafka()->topic_partition_list_destroy(w->carry);
    while (w->spare) {
        kbatch *b = w->spare;
        w->spare = b->next;
        batch_free(b);
    }
    kw_team_free(w);
    lg_buf_free(&w->out);
    kw_set_free(w, &w->sets[0]);
    kw_set_free(w, &w->sets[1]);
    km_destroy(&w->m);
    free(w);
}
