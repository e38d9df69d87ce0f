/* kafka_metrics.c - the worker's counters and their Prometheus text
 * (format 0.0.4), served at GET /metrics by a small libmicrohttpd daemon
 * (`logify kafka --metrics-port N`).
 *
 * Counters are uint64_t updated with relaxed atomics by the worker's thread;
 * the label table and the lag table take a mutex (once per batch, once per
 * lag refresh). The HTTP thread only reads. */
#include "logify/dynlib_mhd.h"
#include "kafka/kafka_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "logify/csv.h"

/* batch latency buckets, upper bounds in seconds */
static const double buckets[KM_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                0.05,   0.1,   0.25,   0.5,   1,    2.5};

void km_init(kmetrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void km_destroy(kmetrics *m) {
    for (size_t j = 0; j < KM_LABEL_SLOTS; j++) free(m->labels[j]);
    pthread_mutex_destroy(&m->mu);
}

void km_latency(kmetrics *m, double seconds) {
    size_t b = 0;
    while (b < KM_HIST_BUCKETS && seconds > buckets[b]) b++;
    KM_ADD(&m->batch_hist[b], 1);
    KM_ADD(&m->batch_sum_us, (uint64_t)(seconds * 1e6));
    KM_ADD(&m->batches, 1);
}

void km_rows(kmetrics *m, const lg_record *recs, size_t n) {
    uint64_t stage[LG_STAGE_KINDS] = {0};
    pthread_mutex_lock(&m->mu);
    for (size_t r = 0; r < n; r++) {
        const char *label = recs[r].label ? recs[r].label : LG_UNCLASSIFIED;
        stage[recs[r].stage < LG_STAGE_KINDS ? recs[r].stage : 0]++;
        size_t j = 0;
        while (j < KM_LABEL_SLOTS && m->labels[j] && strcmp(m->labels[j], label)) j++;
        if (j < KM_LABEL_SLOTS && !m->labels[j]) /* a copy: a reloaded pipeline frees its labels */
            m->labels[j] = strdup(label);
        if (j == KM_LABEL_SLOTS || !m->labels[j]) {
            m->label_rows_other++;
            continue;
        }
        m->label_rows[j]++;
    }
    pthread_mutex_unlock(&m->mu);
    for (int k = 0; k < LG_STAGE_KINDS; k++)
        if (stage[k]) KM_ADD(&m->stage_rows[k], stage[k]);
}

void km_set_lag(kmetrics *m, const int32_t *parts, const int64_t *lag, size_t n) {
    if (n > KM_PARTS_MAX) n = KM_PARTS_MAX;
    pthread_mutex_lock(&m->mu);
    if (n) {
        memcpy(m->lag_part, parts, n * sizeof *parts);
        memcpy(m->lag, lag, n * sizeof *lag);
    }
    m->n_lag = n;
    pthread_mutex_unlock(&m->mu);
}

static lg_err counter(lg_buf *out, const char *name, const char *help, uint64_t v) {
    return lg_buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)v);
}

lg_err km_format(kmetrics *m, lg_buf *out) {
    static const struct {
        const char *name, *help;
        size_t off;
    } cs[] = {
        {"logify_kafka_consumed_total", "Input messages consumed.", offsetof(kmetrics, consumed)},
        {"logify_kafka_produced_total", "Output messages acknowledged by the brokers.",
         offsetof(kmetrics, produced)},
        {"logify_kafka_bad_messages_total",
         "Input messages that could not be read (invalid JSON or UTF-8, missing field, too big).",
         offsetof(kmetrics, bad)},
        {"logify_kafka_dead_lettered_total", "Bad messages sent to the dead-letter topic.",
         offsetof(kmetrics, dead_lettered)},
        {"logify_kafka_delivery_errors_total", "Outputs the brokers refused for good.",
         offsetof(kmetrics, delivery_errors)},
        {"logify_kafka_client_errors_total", "Errors reported by the Kafka clients (e.g. brokers down).",
         offsetof(kmetrics, client_errors)},
        {"logify_kafka_commits_total", "Offset commits (at-least-once).", offsetof(kmetrics, commits)},
        {"logify_kafka_commit_errors_total", "Offset commits that failed.",
         offsetof(kmetrics, commit_errors)},
        {"logify_kafka_transactions_committed_total", "Transactions committed (exactly-once).",
         offsetof(kmetrics, txn_commits)},
        {"logify_kafka_transactions_aborted_total", "Transactions aborted and rewound (exactly-once).",
         offsetof(kmetrics, txn_aborts)},
        {"logify_kafka_rebalances_total", "Partition assignments and revocations.",
         offsetof(kmetrics, rebalances)},
    };
    lg_err e = LG_OK;
    for (size_t i = 0; i < sizeof cs / sizeof *cs && !e; i++)
        e = counter(out, cs[i].name, cs[i].help, KM_LOAD((uint64_t *)((char *)m + cs[i].off)));
    if (!e)
        e = lg_buf_printf(out, "# HELP logify_kafka_rows_total Rows classified, by deciding stage.\n"
                               "# TYPE logify_kafka_rows_total counter\n");
    for (int k = 0; k < LG_STAGE_KINDS && !e; k++)
        e = lg_buf_printf(out, "logify_kafka_rows_total{stage=\"%s\"} %llu\n",
                          lg_stage_kind_name((lg_stage_kind)k),
                          (unsigned long long)KM_LOAD(&m->stage_rows[k]));
    if (!e)
        e = lg_buf_printf(out, "# HELP logify_kafka_label_rows_total Rows by label.\n"
                               "# TYPE logify_kafka_label_rows_total counter\n");
    pthread_mutex_lock(&m->mu);
    for (size_t j = 0; j < KM_LABEL_SLOTS && m->labels[j] && !e; j++) {
        e = lg_buf_append(out, "logify_kafka_label_rows_total{label=", 36);
        if (!e) e = lg_json_put_string(out, m->labels[j], strlen(m->labels[j]));
        if (!e) e = lg_buf_printf(out, "} %llu\n", (unsigned long long)m->label_rows[j]);
    }
    if (!e && m->label_rows_other)
        e = lg_buf_printf(out, "logify_kafka_label_rows_total{label=\"(other)\"} %llu\n",
                          (unsigned long long)m->label_rows_other);
    if (!e)
        e = lg_buf_printf(out, "# HELP logify_kafka_consumer_lag Messages behind the partition's end.\n"
                               "# TYPE logify_kafka_consumer_lag gauge\n");
    for (size_t i = 0; i < m->n_lag && !e; i++)
        e = lg_buf_printf(out, "logify_kafka_consumer_lag{partition=\"%d\"} %lld\n",
                          (int)m->lag_part[i], (long long)m->lag[i]);
    pthread_mutex_unlock(&m->mu);
    if (!e)
        e = lg_buf_printf(out, "# HELP logify_kafka_batch_seconds Time to classify and produce a batch.\n"
                               "# TYPE logify_kafka_batch_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t b = 0; b <= KM_HIST_BUCKETS && !e; b++) {
        cum += KM_LOAD(&m->batch_hist[b]);
        if (b < KM_HIST_BUCKETS)
            e = lg_buf_printf(out, "logify_kafka_batch_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
                              (unsigned long long)cum);
        else
            e = lg_buf_printf(out, "logify_kafka_batch_seconds_bucket{le=\"+Inf\"} %llu\n",
                              (unsigned long long)cum);
    }
    if (!e)
        e = lg_buf_printf(out, "logify_kafka_batch_seconds_sum %.6f\nlogify_kafka_batch_seconds_count %llu\n",
                          (double)KM_LOAD(&m->batch_sum_us) / 1e6,
                          (unsigned long long)KM_LOAD(&m->batches));
    if (!e && m->live) { /* live reload (SIGHUP) */
        lg_live_stats ls;
        lg_live_get_stats(m->live, &ls);
        e = counter(out, "logify_kafka_reloads_total", "Reloads accepted (SIGHUP).", ls.reloads);
        if (!e) e = counter(out, "logify_kafka_reload_failures_total", "Reloads refused: the old set stays.", ls.failed);
        if (!e)
            e = lg_buf_printf(out, "# HELP logify_kafka_generation The set of rules and model in use (1 at start, "
                                   "+1 per accepted reload).\n# TYPE logify_kafka_generation gauge\n"
                                   "logify_kafka_generation %llu\n", (unsigned long long)ls.generation);
    }
    return e;
}

/* ---- HTTP ---------------------------------------------------------------------- */

struct lg_kafka_metrics_server {
    struct MHD_Daemon *d;
    kmetrics *m; /* the worker's */
};

lg_err lg_kafka_metrics_format(lg_kafka_worker *w, lg_buf *out) { return km_format(&w->m, out); }

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_len, void **state) {
    struct lg_kafka_metrics_server *s = cls;
    if (!*state) { /* first call: headers only */
        *state = s;
        return MHD_YES;
    }
    unsigned status = 200;
    const char *type = "text/plain; version=0.0.4; charset=utf-8";
    lg_buf b;
    lg_buf_init(&b, 8u << 20);
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        status = 405;
        lg_buf_append(&b, "method not allowed\n", 19);
    } else if (strcmp(url, "/metrics")) {
        status = 404;
        lg_buf_append(&b, "not found: try /metrics\n", 24);
    } else if (km_format(s->m, &b)) {
        status = 500;
        lg_buf_reset(&b);
        lg_buf_append(&b, "metrics too large\n", 18);
    }
    struct MHD_Response *r =
        lg_mhd()->create_response_from_buffer(b.len, b.data ? b.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    lg_buf_free(&b);
    if (!r) return MHD_NO;
    lg_mhd()->add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = lg_mhd()->queue_response(c, status, r);
    lg_mhd()->destroy_response(r);
    return ret;
}

lg_err lg_kafka_metrics_serve(lg_kafka_worker *w, int port, int bind_all,
                              lg_kafka_metrics_server **out, int *bound_port, lg_errmsg *err) {
    *out = NULL;
    if (port < 0 || port > 65535) return lg_fail(err, LG_EINVAL, "metrics port %d is not 0..65535", port);
    lg_err el = lg_mhd_load(err); /* libmicrohttpd: loaded now, not at start-up */
    if (el) return el;
    struct lg_kafka_metrics_server *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "kafka metrics server: out of memory");
    s->m = &w->m;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(bind_all ? INADDR_ANY : INADDR_LOOPBACK);
    s->d = lg_mhd()->start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL,
                                  NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return lg_fail(err, LG_EIO, "metrics: cannot listen on port %d (in use, or not allowed)", port);
    }
    const union MHD_DaemonInfo *di = lg_mhd()->get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    if (bound_port) *bound_port = di ? di->port : port;
    *out = s;
    return LG_OK;
}

void lg_kafka_metrics_server_free(lg_kafka_metrics_server *s) {
    if (!s) return;
    lg_mhd()->stop_daemon(s->d);
    free(s);
}
