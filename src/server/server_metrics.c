/* server_metrics.c - the server's counters and their Prometheus text
 * exposition (GET /metrics, format 0.0.4): requests by route and status,
 * a latency histogram per route, rows by stage and by label, bytes in and
 * out, requests in flight, and the LLM client's counters.
 *
 * Counters are plain uint64_t updated with relaxed atomics; the label table
 * (copies of the labels: a reload frees the old set's strings; at most
 * SRV_LABEL_SLOTS of them) takes a mutex, once per request (srv_tally
 * batches a request's rows, holding the set's strings while the request
 * holds its set). */
#include "server/server_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/llm.h"

static const unsigned status_codes[] = {200, 400, 401, 403, 404, 405, 408, 411,
                                        413, 415, 422, 500, 503};
#define N_CODES (sizeof status_codes / sizeof *status_codes)
/* slots: the codes above, then "other", then "aborted" (status 0) */
_Static_assert(N_CODES + 2 == SRV_STATUS_SLOTS, "status slots");

/* Upper bounds in seconds. */
static const double buckets[SRV_HIST_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};

#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void srv_metrics_init(srv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->label_mu, NULL);
}

void srv_metrics_destroy(srv_metrics *m) {
    for (size_t i = 0; i < m->n_labels; i++) free(m->labels[i]);
    pthread_mutex_destroy(&m->label_mu);
}

void srv_metrics_request(srv_metrics *m, srv_route r, unsigned status, double seconds,
                         uint64_t bytes_in, uint64_t bytes_out) {
    if (r >= SRV_R_COUNT) r = SRV_R_OTHER;
    size_t slot = N_CODES + 1; /* aborted */
    if (status) {
        slot = N_CODES;
        for (size_t i = 0; i < N_CODES; i++)
            if (status_codes[i] == status) slot = i;
    }
    ADD(&m->requests[r][slot], 1);
    size_t b = 0;
    while (b < SRV_HIST_BUCKETS && seconds > buckets[b]) b++;
    ADD(&m->hist[r][b], 1);
    ADD(&m->sum_us[r], (uint64_t)(seconds * 1e6));
    ADD(&m->bytes_in, bytes_in);
    ADD(&m->bytes_out, bytes_out);
}

void srv_metrics_rows(srv_metrics *m, const uint64_t stage_rows[LG_STAGE_KINDS],
                      const char *const *labels, const uint64_t *counts, size_t n) {
    for (int k = 0; k < LG_STAGE_KINDS; k++)
        if (stage_rows[k]) ADD(&m->rows_stage[k], stage_rows[k]);
    if (!n) return;
    pthread_mutex_lock(&m->label_mu);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < m->n_labels && strcmp(m->labels[j], labels[i])) j++;
        if (j == m->n_labels) {
            char *copy = j < SRV_LABEL_SLOTS ? lg_strdup(labels[i]) : NULL;
            if (!copy) { /* the table is full (or no memory) */
                m->label_rows_other += counts[i];
                continue;
            }
            m->labels[m->n_labels++] = copy;
        }
        m->label_rows[j] += counts[i];
    }
    pthread_mutex_unlock(&m->label_mu);
}

void srv_tally_add(srv_tally *t, srv_metrics *m, const lg_record *rec) {
    t->stage[rec->stage < LG_STAGE_KINDS ? rec->stage : 0]++;
    for (size_t i = 0; i < t->n; i++)
        if (t->labels[i] == rec->label) {
            t->counts[i]++;
            return;
        }
    if (t->n < sizeof t->labels / sizeof *t->labels) {
        t->labels[t->n] = rec->label;
        t->counts[t->n++] = 1;
        return;
    }
    uint64_t one = 1, none[LG_STAGE_KINDS] = {0};
    srv_metrics_rows(m, none, &rec->label, &one, 1);
}

uint64_t srv_templates_add(lg_server *s, const char *msg, size_t len) {
    lg_tpl_result r;
    pthread_mutex_lock(&s->templates_mu);
    lg_err e = lg_tpl_add(s->templates, msg, len, &r, NULL); /* past max_templates: not counted */
    pthread_mutex_unlock(&s->templates_mu);
    if (e) return 0;
    if (r.is_new) ADD(&s->metrics.new_templates, 1);
    return r.id;
}

void srv_tally_flush(srv_tally *t, srv_metrics *m) {
    srv_metrics_rows(m, t->stage, t->labels, t->counts, t->n);
    memset(t, 0, sizeof *t);
}

/* ---- Exposition ------------------------------------------------------------------ */

/* A label value: backslash, quote and newline escaped. */
static lg_err put_label_value(lg_buf *b, const char *s) {
    lg_err e = LG_OK;
    for (; *s && !e; s++) {
        if (*s == '\\') e = lg_buf_append(b, "\\\\", 2);
        else if (*s == '"') e = lg_buf_append(b, "\\\"", 2);
        else if (*s == '\n') e = lg_buf_append(b, "\\n", 2);
        else e = lg_buf_putc(b, *s);
    }
    return e;
}

/* The current set's LLM client (a reload starts a new client, whose
 * counters start at 0: Prometheus reads that as a counter reset). */
static lg_err render_llm(const lg_llm *llm, lg_buf *b) {
    if (!llm) return LG_OK; /* not configured: no LLM series */
    lg_llm_counters c;
    lg_llm_get_counters(llm, &c);
    static const struct {
        const char *name, *help;
        size_t off;
    } f[] = {
        {"logify_llm_calls_total", "LLM HTTP requests sent (retries and probes included) = answered + failed",
         offsetof(lg_llm_counters, calls)},
        {"logify_llm_retries_total", "LLM calls that re-sent a request after a failure",
         offsetof(lg_llm_counters, retries)},
        {"logify_llm_answered_total", "LLM calls answered with a chat completion",
         offsetof(lg_llm_counters, answered)},
        {"logify_llm_failures_total", "LLM calls that got no chat completion (error, timeout, refusal)",
         offsetof(lg_llm_counters, failures)},
        {"logify_llm_form_refusals_total", "LLM calls refused for their constrain form (stepped down)",
         offsetof(lg_llm_counters, refusals)},
        {"logify_llm_form_probes_total", "LLM calls made to find the constrain form",
         offsetof(lg_llm_counters, form_probes)},
        {"logify_llm_rows_labelled_total", "rows given an allowed label by the LLM stage",
         offsetof(lg_llm_counters, rows_labelled)},
        {"logify_llm_rows_off_list_total", "rows whose LLM answer was no allowed label",
         offsetof(lg_llm_counters, rows_off_list)},
        {"logify_llm_rows_unavailable_total", "rows the LLM stage got no answer for",
         offsetof(lg_llm_counters, rows_unavailable)},
        {"logify_llm_cache_hits_total", "rows answered from the LLM template cache",
         offsetof(lg_llm_counters, cache_hits)},
        {"logify_llm_cache_evictions_total", "least recently used templates dropped from the full LLM cache",
         offsetof(lg_llm_counters, cache_evictions)},
        {"logify_llm_breaker_trips_total", "times the LLM circuit breaker opened",
         offsetof(lg_llm_counters, breaker_trips)},
        {"logify_llm_breaker_probes_total", "half-open probe calls of the LLM circuit breaker",
         offsetof(lg_llm_counters, breaker_probes)},
        {"logify_llm_breaker_closes_total", "times a probe closed the LLM circuit breaker",
         offsetof(lg_llm_counters, breaker_closes)},
        {"logify_llm_prompt_tokens_total", "prompt tokens reported by the LLM server",
         offsetof(lg_llm_counters, prompt_tokens)},
        {"logify_llm_completion_tokens_total", "completion tokens reported by the LLM server",
         offsetof(lg_llm_counters, completion_tokens)},
    };
    lg_err e = LG_OK;
    for (size_t i = 0; i < sizeof f / sizeof *f && !e; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&c + f[i].off, sizeof v);
        e = lg_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", f[i].name, f[i].help,
                          f[i].name, f[i].name, (unsigned long long)v);
    }
    return e;
}

lg_err srv_metrics_render(lg_server *s, lg_buf *b) {
    srv_metrics *m = &s->metrics;
    lg_err e = lg_buf_printf(b,
                             "# HELP logify_build_info Build of the running server.\n"
                             "# TYPE logify_build_info gauge\n"
                             "logify_build_info{version=\"%s\"} 1\n"
                             "# HELP logify_http_requests_in_flight Requests being served.\n"
                             "# TYPE logify_http_requests_in_flight gauge\n"
                             "logify_http_requests_in_flight %u\n"
                             "# HELP logify_http_head_timeouts_total Connections shut because "
                             "a request head was not complete in time (--head-timeout).\n"
                             "# TYPE logify_http_head_timeouts_total counter\n"
                             "logify_http_head_timeouts_total %llu\n"
                             "# HELP logify_stream_bad_lines_total NDJSON lines answered with "
                             "an error object instead of failing the request.\n"
                             "# TYPE logify_stream_bad_lines_total counter\n"
                             "logify_stream_bad_lines_total %llu\n"
                             "# HELP logify_http_requests_total HTTP requests by route and status "
                             "(status=\"aborted\": the client left or timed out first).\n"
                             "# TYPE logify_http_requests_total counter\n",
                             LOGIFY_VERSION, __atomic_load_n(&s->inflight, __ATOMIC_RELAXED),
                             (unsigned long long)__atomic_load_n(&s->guard.head_timeouts,
                                                                 __ATOMIC_RELAXED),
                             (unsigned long long)__atomic_load_n(&m->stream_bad_lines,
                                                                 __ATOMIC_RELAXED));
    for (int r = 0; r < SRV_R_COUNT && !e; r++)
        for (size_t k = 0; k < SRV_STATUS_SLOTS && !e; k++) {
            uint64_t v = LOAD(&m->requests[r][k]);
            if (!v) continue;
            char code[16];
            if (k < N_CODES) snprintf(code, sizeof code, "%u", status_codes[k]);
            else snprintf(code, sizeof code, "%s", k == N_CODES ? "other" : "aborted");
            e = lg_buf_printf(b, "logify_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                              srv_route_name((srv_route)r), code, (unsigned long long)v);
        }
    if (!e)
        e = lg_buf_printf(b, "# HELP logify_http_request_duration_seconds Time from the first "
                             "byte of a request to the end of its answer.\n"
                             "# TYPE logify_http_request_duration_seconds histogram\n");
    for (int r = 0; r < SRV_R_COUNT && !e; r++) {
        uint64_t cum = 0, counts[SRV_HIST_BUCKETS + 1];
        for (int k = 0; k <= SRV_HIST_BUCKETS; k++) counts[k] = LOAD(&m->hist[r][k]);
        for (int k = 0; k <= SRV_HIST_BUCKETS; k++) cum += counts[k];
        if (!cum) continue;
        const char *rn = srv_route_name((srv_route)r);
        cum = 0;
        for (int k = 0; k < SRV_HIST_BUCKETS && !e; k++) {
            cum += counts[k];
            e = lg_buf_printf(b, "logify_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                              rn, buckets[k], (unsigned long long)cum);
        }
        cum += counts[SRV_HIST_BUCKETS];
        if (!e)
            e = lg_buf_printf(b,
                              "logify_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                              "logify_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                              "logify_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                              rn, (unsigned long long)cum, rn, (double)LOAD(&m->sum_us[r]) / 1e6,
                              rn, (unsigned long long)cum);
    }
    if (!e)
        e = lg_buf_printf(b,
                          "# HELP logify_http_received_bytes_total Request body bytes received.\n"
                          "# TYPE logify_http_received_bytes_total counter\n"
                          "logify_http_received_bytes_total %llu\n"
                          "# HELP logify_http_sent_bytes_total Response body bytes queued.\n"
                          "# TYPE logify_http_sent_bytes_total counter\n"
                          "logify_http_sent_bytes_total %llu\n"
                          "# HELP logify_rows_total Rows classified, by the stage that decided "
                          "them (none = Unclassified).\n"
                          "# TYPE logify_rows_total counter\n",
                          (unsigned long long)LOAD(&m->bytes_in), (unsigned long long)LOAD(&m->bytes_out));
    for (int k = 0; k < LG_STAGE_KINDS && !e; k++)
        e = lg_buf_printf(b, "logify_rows_total{stage=\"%s\"} %llu\n",
                          lg_stage_kind_name((lg_stage_kind)k), (unsigned long long)LOAD(&m->rows_stage[k]));
    if (!e)
        e = lg_buf_printf(b, "# HELP logify_label_rows_total Rows classified, by label.\n"
                             "# TYPE logify_label_rows_total counter\n");
    pthread_mutex_lock(&m->label_mu);
    for (size_t i = 0; i < m->n_labels && !e; i++) {
        e = lg_buf_append(b, "logify_label_rows_total{label=\"", 31);
        if (!e) e = put_label_value(b, m->labels[i]);
        if (!e) e = lg_buf_printf(b, "\"} %llu\n", (unsigned long long)m->label_rows[i]);
    }
    if (!e && m->label_rows_other)
        e = lg_buf_printf(b, "logify_label_rows_total{label=\"(other)\"} %llu\n",
                          (unsigned long long)m->label_rows_other);
    pthread_mutex_unlock(&m->label_mu);
    if (!e)
        e = lg_buf_printf(b,
                          "# HELP logify_new_templates_total Lines that matched no known template "
                          "(a new kind of line; docs/templates.md).\n"
                          "# TYPE logify_new_templates_total counter\n"
                          "logify_new_templates_total %llu\n",
                          (unsigned long long)LOAD(&m->new_templates));
    lg_live_stats ls;
    lg_live_get_stats(s->live, &ls);
    if (!e)
        e = lg_buf_printf(b,
                          "# HELP logify_reloads_total Reloads of the pipeline set that were "
                          "swapped in (SIGHUP, POST /admin/reload).\n"
                          "# TYPE logify_reloads_total counter\n"
                          "logify_reloads_total %llu\n"
                          "# HELP logify_reloads_failed_total Reloads refused (the new set did not "
                          "load; the old one stayed).\n"
                          "# TYPE logify_reloads_failed_total counter\n"
                          "logify_reloads_failed_total %llu\n"
                          "# HELP logify_pipeline_generation Generation of the pipeline set in use "
                          "(1 at start, +1 per reload).\n"
                          "# TYPE logify_pipeline_generation gauge\n"
                          "logify_pipeline_generation %llu\n"
                          "# HELP logify_pipeline_loaded_timestamp_seconds When the pipeline set in "
                          "use was loaded (Unix time).\n"
                          "# TYPE logify_pipeline_loaded_timestamp_seconds gauge\n"
                          "logify_pipeline_loaded_timestamp_seconds %.3f\n",
                          (unsigned long long)ls.reloads, (unsigned long long)ls.failed,
                          (unsigned long long)ls.generation, ls.loaded_at);
    lg_pset *set = lg_live_acquire(s->live);
    if (!e) e = render_llm(lg_pset_resources(set)->llm, b);
    lg_pset_release(set);
    return e;
}
