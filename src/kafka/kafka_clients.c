/* kafka_clients.c - the worker's two librdkafka clients: their settings
 * (what delivery needs, then the user's -X properties), the callbacks that
 * log client errors without flooding the log (brokers down says so once,
 * then every 30 s, then "reachable again"), the partitioner that keeps an
 * input partition's outputs in one output partition, and the waits with
 * backoff for brokers that do not answer yet. */
#include "kafka/kafka_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define LOG_REPEAT_S 30.0 /* the same client error is logged at most this often */
#define BACKOFF_MAX_S 10.0

void kw_fail(lg_kafka_worker *w, lg_err code, const char *fmt, ...) {
    if (w->fatal) return; /* the first cause is the one to tell */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->fatal_msg, sizeof w->fatal_msg, fmt, ap);
    va_end(ap);
    /* a detail left empty (a callee that said nothing, a bug): at least
     * the code's name */
    size_t len = n < 0 ? 0 : strnlen(w->fatal_msg, sizeof w->fatal_msg);
    if (len == 0 || (len >= 2 && !strcmp(w->fatal_msg + len - 2, ": ")))
        snprintf(w->fatal_msg + len, sizeof w->fatal_msg - len, "%s", lg_strerror(code));
    w->fatal = code;
}

int kw_stopping(lg_kafka_worker *w) { return __atomic_load_n(&w->stop, __ATOMIC_RELAXED) || w->fatal; }

/* ---- Logging --------------------------------------------------------------------- */

static int is_unreachable(int code) {
    return code == RD_KAFKA_RESP_ERR__TRANSPORT || code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
           code == RD_KAFKA_RESP_ERR__RESOLVE || code == RD_KAFKA_RESP_ERR__TIMED_OUT ||
           code == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE;
}

void kw_client_error(lg_kafka_worker *w, klog *l, int code, const char *reason) {
    KM_ADD(&w->m.client_errors, 1);
    double now = lg_now();
    int kind = is_unreachable(code) ? -1 : code; /* the ways of saying "down" are one */
    if (kind == l->err && now - l->last_t < LOG_REPEAT_S) {
        l->quiet++;
        return;
    }
    char more[64] = "";
    if (l->quiet) snprintf(more, sizeof more, " (%llu more like it not shown)", (unsigned long long)l->quiet);
    if (is_unreachable(code)) {
        lg_log(LG_LOG_WARN, "kafka %s: brokers unreachable (%s): retrying with backoff%s", l->who, reason,
               more);
        l->down = 1;
    } else {
        lg_log(LG_LOG_WARN, "kafka %s: %s%s", l->who, reason, more);
    }
    l->err = kind;
    l->last_t = now;
    l->quiet = 0;
}

void kw_client_ok(lg_kafka_worker *w, klog *l) {
    if (!l->down) return;
    l->down = 0;
    l->err = 0;
    l->quiet = 0;
    lg_log(LG_LOG_WARN, "kafka %s: brokers reachable again", l->who);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque) {
    lg_kafka_worker *w = opaque;
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = lg_kafka()->fatal_error(rk, why, sizeof why);
        kw_fail(w, LG_ENET, "kafka %s: fatal error: %s (%s)", rk == w->consumer ? "consumer" : "producer",
                why, lg_kafka()->err2name(orig));
        return;
    }
    kw_client_error(w, rk == w->consumer ? &w->clog : &w->plog, code, reason);
}

/* librdkafka's own lines come from its threads; only with a debug= property
 * (or when it has something critical to say). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    const lg_kafka_worker *w = lg_kafka()->opaque(rk);
    if (level <= LOG_CRIT || (w && w->debug)) lg_log(LG_LOG_WARN, "librdkafka: %s: %s", fac, buf);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t code, rd_kafka_topic_partition_list_t *offs,
                      void *opaque) {
    lg_kafka_worker *w = opaque;
    if (code == RD_KAFKA_RESP_ERR__NO_OFFSET) return; /* nothing to commit */
    for (int i = 0; !code && offs && i < offs->cnt; i++)
        if (offs->elems[i].err) code = offs->elems[i].err; /* one partition refused */
    if (code) {
        KM_ADD(&w->m.commit_errors, 1);
        w->commit_failed = 1; /* the loop commits what is done again */
        w->done_clean = 0;
        kw_client_error(w, &w->clog, code, lg_kafka()->err2str(code));
        return;
    }
    KM_ADD(&w->m.commits, 1);
    /* does it cover what is done? (an older commit's report does not) */
    int covers = w->done && offs;
    for (int i = 0; covers && i < w->done->cnt; i++) {
        const rd_kafka_topic_partition_t *d = &w->done->elems[i];
        const rd_kafka_topic_partition_t *c = lg_kafka()->topic_partition_list_find(offs, d->topic, d->partition);
        covers = c && c->offset >= d->offset;
    }
    if (covers) w->done_clean = 1;
    kw_client_ok(w, &w->clog);
}

/* An input partition's outputs all go to one output partition, so that
 * the idempotent producer keeps them in input order. */
static int32_t partition_by_input(const rd_kafka_topic_t *rkt, const void *key, size_t key_len,
                                  int32_t partition_cnt, void *rkt_opaque, void *msg_opaque) {
    const kslot *s = msg_opaque;
    if (!s || partition_cnt <= 0) return 0;
    return s->in_part % partition_cnt;
}

/* ---- Settings -------------------------------------------------------------------- */

static lg_err set(rd_kafka_conf_t *c, const char *who, const char *k, const char *v, lg_errmsg *err) {
    char why[512];
    if (lg_kafka()->conf_set(c, k, v, why, sizeof why) != RD_KAFKA_CONF_OK)
        return lg_fail(err, LG_EINVAL, "kafka %s property %s=%s: %s", who, k, v, why);
    return LG_OK;
}

/* The user's -X properties: "consumer.K=V" and "producer.K=V" for one
 * client, "K=V" for both. */
static lg_err set_user(const lg_kafka_worker *w, rd_kafka_conf_t *c, const char *who, lg_errmsg *err) {
    size_t wl = strlen(who);
    for (size_t i = 0; i < w->o.n_props; i++) {
        const char *p = w->o.props[i], *eq = strchr(p, '=');
        if (!eq || eq == p) return lg_fail(err, LG_EINVAL, "kafka property '%s' is not KEY=VALUE", p);
        const char *k = p;
        if (!strncmp(p, "consumer.", 9) || !strncmp(p, "producer.", 9)) {
            if (strncmp(p, who, wl) || p[wl] != '.') continue; /* the other client's */
            k = p + wl + 1;
        }
        char key[256];
        size_t kl = (size_t)(eq - k);
        if (kl >= sizeof key) return lg_fail(err, LG_EINVAL, "kafka property '%s': key too long", p);
        memcpy(key, k, kl);
        key[kl] = 0;
        lg_err e = set(c, who, key, eq + 1, err);
        if (e) return e;
    }
    return LG_OK;
}

static lg_err common(lg_kafka_worker *w, rd_kafka_conf_t *c, const char *who, lg_errmsg *err) {
    lg_kafka()->conf_set_opaque(c, w);
    lg_kafka()->conf_set_error_cb(c, on_error);
    lg_kafka()->conf_set_log_cb(c, on_log);
    lg_err e = set(c, who, "bootstrap.servers", w->o.brokers, err);
    if (!e) e = set(c, who, "client.id", "logify", err);
    if (!e) e = set(c, who, "reconnect.backoff.ms", "100", err);
    if (!e) e = set(c, who, "reconnect.backoff.max.ms", "10000", err);
    return e;
}

static lg_err consumer_new(lg_kafka_worker *w, kw_rebalance_fn on_rebalance, lg_errmsg *err) {
    rd_kafka_conf_t *c = lg_kafka()->conf_new();
    if (!c) return lg_fail(err, LG_ENOMEM, "kafka consumer config: out of memory");
    lg_kafka()->conf_set_rebalance_cb(c, on_rebalance);
    lg_kafka()->conf_set_offset_commit_cb(c, on_commit);
    lg_err e = common(w, c, "consumer", err);
    if (!e) e = set(c, "consumer", "group.id", w->o.group, err);
    if (!e) e = set(c, "consumer", "enable.auto.commit", "false", err);
    if (!e) e = set(c, "consumer", "enable.auto.offset.store", "false", err);
    if (!e) e = set(c, "consumer", "auto.offset.reset", "earliest", err);
    if (!e) e = set(c, "consumer", "isolation.level", "read_committed", err);
    if (!e) e = set(c, "consumer", "enable.partition.eof", "false", err);
    if (!e) e = set_user(w, c, "consumer", err);
    char v[128];
    size_t vl = sizeof v;
    if (!e && lg_kafka()->conf_get(c, "partition.assignment.strategy", v, &vl) == RD_KAFKA_CONF_OK &&
        strstr(v, "cooperative"))
        e = lg_fail(err, LG_EINVAL, "kafka consumer property partition.assignment.strategy=%s: the worker "
                                    "takes the eager strategies only (range, roundrobin)", v);
    vl = sizeof v;
    if (!e && lg_kafka()->conf_get(c, "debug", v, &vl) == RD_KAFKA_CONF_OK && *v) w->debug = 1;
    if (e) {
        lg_kafka()->conf_destroy(c);
        return e;
    }
    char why[512];
    w->consumer = lg_kafka()->new(RD_KAFKA_CONSUMER, c, why, sizeof why);
    if (!w->consumer) {
        lg_kafka()->conf_destroy(c);
        return lg_fail(err, LG_EINVAL, "kafka consumer: %s", why);
    }
    lg_kafka()->poll_set_consumer(w->consumer);
    return LG_OK;
}

static lg_err producer_new(lg_kafka_worker *w, kw_delivery_fn on_delivery, lg_errmsg *err) {
    rd_kafka_conf_t *c = lg_kafka()->conf_new();
    rd_kafka_topic_conf_t *tc = lg_kafka()->topic_conf_new();
    if (!c || !tc) {
        if (c) lg_kafka()->conf_destroy(c);
        if (tc) lg_kafka()->topic_conf_destroy(tc);
        return lg_fail(err, LG_ENOMEM, "kafka producer config: out of memory");
    }
    lg_kafka()->topic_conf_set_partitioner_cb(tc, partition_by_input);
    lg_kafka()->conf_set_default_topic_conf(c, tc);
    lg_kafka()->conf_set_dr_msg_cb(c, on_delivery);
    lg_err e = common(w, c, "producer", err);
    /* idempotence: no duplicates from retries, order kept per partition */
    if (!e) e = set(c, "producer", "enable.idempotence", "true", err);
    if (!e) e = set(c, "producer", "acks", "all", err);
    if (!e) e = set(c, "producer", "linger.ms", "5", err);
    if (!e) e = set(c, "producer", "queue.buffering.max.kbytes", "131072", err);
    if (!e && w->o.exactly_once) {
        char id[512];
        if (w->o.transactional_id) {
            snprintf(id, sizeof id, "%s", w->o.transactional_id);
        } else { /* KIP-447: the group's generation fences zombies, the id need not be stable */
            char host[128] = "host";
            gethostname(host, sizeof host - 1);
            host[sizeof host - 1] = 0;
            snprintf(id, sizeof id, "logify-%s-%s-%ld", w->o.group, host, (long)getpid());
        }
        e = set(c, "producer", "transactional.id", id, err);
    } else if (!e) { /* brokers away: outputs wait (no loss), the in-flight cap stops fetching */
        e = set(c, "producer", "message.timeout.ms", "0", err);
    }
    if (!e) e = set_user(w, c, "producer", err);
    if (e) {
        lg_kafka()->conf_destroy(c);
        return e;
    }
    char why[512];
    w->producer = lg_kafka()->new(RD_KAFKA_PRODUCER, c, why, sizeof why);
    if (!w->producer) {
        lg_kafka()->conf_destroy(c);
        return lg_fail(err, LG_EINVAL, "kafka producer: %s", why);
    }
    return LG_OK;
}

lg_err kw_clients_new(lg_kafka_worker *w, kw_delivery_fn on_delivery, kw_rebalance_fn on_rebalance,
                      lg_errmsg *err) {
    w->clog.who = "consumer";
    w->plog.who = "producer";
    lg_err e = consumer_new(w, on_rebalance, err);
    if (!e) e = producer_new(w, on_delivery, err);
    /* with the default topic settings: the partitioner that follows the input's */
    if (!e && !(w->out_rkt = lg_kafka()->topic_new(w->producer, w->o.output, NULL)))
        e = lg_fail(err, LG_EINVAL, "kafka producer: topic '%s': %s", w->o.output,
                    lg_kafka()->err2str(lg_kafka()->last_error()));
    if (!e && w->o.dead_letter && !(w->dlq_rkt = lg_kafka()->topic_new(w->producer, w->o.dead_letter, NULL)))
        e = lg_fail(err, LG_EINVAL, "kafka producer: topic '%s': %s", w->o.dead_letter,
                    lg_kafka()->err2str(lg_kafka()->last_error()));
    return e;
}

/* ---- Waiting for the brokers ------------------------------------------------------ */

void kw_backoff(lg_kafka_worker *w, double seconds) {
    double end = lg_now() + seconds;
    for (double now = lg_now(); now < end && !kw_stopping(w); now = lg_now()) {
        double left = end - now;
        lg_kafka()->poll(w->producer, left > 0.1 ? 100 : (int)(left * 1000) + 1);
    }
}

/* One topic: LG_OK when the brokers know it, LG_ENOTFOUND when they say it
 * does not exist, LG_ENET when they did not answer within wait_ms (why in
 * *why). */
static lg_err topic_state(lg_kafka_worker *w, const char *name, int wait_ms, char *why, size_t cap) {
    rd_kafka_topic_t *t = lg_kafka()->topic_new(w->producer, name, NULL);
    if (!t) {
        snprintf(why, cap, "%s", lg_kafka()->err2str(lg_kafka()->last_error()));
        return LG_ENET;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = lg_kafka()->metadata(w->producer, 0, t, &md, wait_ms);
    lg_kafka()->topic_destroy(t);
    if (e) {
        snprintf(why, cap, "%s", lg_kafka()->err2str(e));
        return LG_ENET;
    }
    lg_err r = LG_ENET;
    if (md->topic_cnt < 1) {
        snprintf(why, cap, "no metadata for topic '%s'", name);
    } else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        r = LG_ENOTFOUND;
    } else if (md->topics[0].err || md->topics[0].partition_cnt < 1) {
        snprintf(why, cap, "topic '%s': %s", name, lg_kafka()->err2str(md->topics[0].err));
    } else {
        r = LG_OK;
    }
    lg_kafka()->metadata_destroy(md);
    return r;
}

/* The brokers' answer is awaited 1 s at first, then up to 5 s a try: a
 * broker that does not answer is said so (and a stop heard) within about
 * a second of the start, not after a first wait of 5 s, while a slow one
 * gets longer at each try. */
#define TOPIC_WAIT_FIRST_MS 1000
#define TOPIC_WAIT_MAX_MS 5000
/* "Unknown topic" is believed only when the brokers keep saying it this
 * long: a cluster's brokers learn a new topic from the controller one after
 * the other, so a topic created just before the worker started can be
 * unknown to the broker asked first (e2e.kafka_replicas on 3 brokers at
 * load 4-9: the worker stopped on an 'out' that ktool had created and seen). */
#define TOPIC_ABSENT_CONFIRM_S 5.0
#define TOPIC_ABSENT_RETRY_S 0.25

lg_err kw_wait_topics(lg_kafka_worker *w, lg_errmsg *err) {
    const char *topics[2] = {w->o.output, w->o.dead_letter};
    double backoff = 0.5;
    int wait_ms = TOPIC_WAIT_FIRST_MS;
    double absent_since = -1; /* when the brokers first said topics[i] does not exist */
    for (size_t i = 0; i < 2 && topics[i]; ) {
        if (kw_stopping(w)) return LG_OK;
        char why[512] = "";
        lg_err r = topic_state(w, topics[i], wait_ms, why, sizeof why);
        if (r == LG_OK) {
            kw_client_ok(w, &w->plog);
            i++;
            absent_since = -1;
            continue;
        }
        if (r == LG_ENOTFOUND) {
            double now = lg_now();
            if (absent_since < 0) absent_since = now;
            if (now - absent_since < TOPIC_ABSENT_CONFIRM_S) {
                kw_backoff(w, TOPIC_ABSENT_RETRY_S);
                continue;
            }
            return lg_fail(err, LG_ENOTFOUND, "kafka: the %s topic '%s' does not exist on %s (the worker "
                                              "creates no topics: create it first)",
                           i ? "dead-letter" : "output", topics[i], w->o.brokers);
        }
        absent_since = -1;
        char line[1024];
        snprintf(line, sizeof line, "asking %s about topic '%s': %s; next try in %.1f s", w->o.brokers,
                 topics[i], why, backoff);
        kw_client_error(w, &w->plog, RD_KAFKA_RESP_ERR__TRANSPORT, line);
        kw_backoff(w, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
        wait_ms = wait_ms * 2 > TOPIC_WAIT_MAX_MS ? TOPIC_WAIT_MAX_MS : wait_ms * 2;
    }
    return LG_OK;
}

lg_err kw_init_transactions(lg_kafka_worker *w, lg_errmsg *err) {
    double backoff = 1;
    while (!kw_stopping(w)) {
        rd_kafka_error_t *e = lg_kafka()->init_transactions(w->producer, 30000);
        if (!e) return LG_OK;
        if (lg_kafka()->error_is_fatal(e)) {
            lg_err r = lg_fail(err, LG_ENET, "kafka exactly-once: cannot start transactions: %s",
                               lg_kafka()->error_string(e));
            lg_kafka()->error_destroy(e);
            return r;
        }
        char line[700];
        snprintf(line, sizeof line, "exactly-once: the transaction coordinator did not answer (%s); next try in %.0f s",
                 lg_kafka()->error_string(e), backoff);
        kw_client_error(w, &w->plog, RD_KAFKA_RESP_ERR__TRANSPORT, line);
        lg_kafka()->error_destroy(e);
        kw_backoff(w, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    return LG_OK;
}

/* ---- Consumer lag --------------------------------------------------------------------- */

void kw_refresh_lag(lg_kafka_worker *w) {
    rd_kafka_topic_partition_list_t *a = NULL;
    if (lg_kafka()->assignment(w->consumer, &a) || !a) return;
    lg_kafka()->position(w->consumer, a);
    int32_t parts[KM_PARTS_MAX];
    int64_t lag[KM_PARTS_MAX];
    size_t n = 0;
    for (int i = 0; i < a->cnt && n < KM_PARTS_MAX; i++) {
        int64_t lo, hi;
        const rd_kafka_topic_partition_t *p = &a->elems[i];
        if (lg_kafka()->get_watermark_offsets(w->consumer, p->topic, p->partition, &lo, &hi) || hi < 0) continue;
        int64_t pos = p->offset >= 0 ? p->offset : lo;
        parts[n] = p->partition;
        lag[n++] = hi > pos ? hi - pos : 0;
    }
    lg_kafka()->topic_partition_list_destroy(a);
    km_set_lag(&w->m, parts, lag, n);
}
