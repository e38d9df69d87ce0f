/* server.c - the HTTP service on libmicrohttpd: daemon lifecycle, routing,
 * the limits applied before any handler runs (method, auth, draining,
 * concurrency cap, upload size) and the access log. Responses and the
 * worker pool are in server_respond.c, the per-request spool in
 * server_spool.c; the endpoints themselves are in server_classify.c,
 * server_metrics.c and server_docs.c. */
#include "server/server_internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRV_DEFAULT_MAX_UPLOAD (100u << 20)
#define SRV_DEFAULT_MAX_ROWS 1000000u
#define SRV_DEFAULT_TIMEOUT 30u
#define SRV_DEFAULT_INFLIGHT 64u
#define SRV_DEFAULT_CONNS 1024u
#define SRV_DEFAULT_HEAD_TIMEOUT 10u
#define SRV_DEFAULT_PER_IP 64u



/* ---- Small endpoints --------------------------------------------------------------- */

static enum MHD_Result answer_readyz(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    lg_pset *set = lg_live_acquire(s->live);
    const lg_resources *res = lg_pset_resources(set);
    int draining = __atomic_load_n(&s->draining, __ATOMIC_ACQUIRE);
    lg_buf b;
    lg_buf_init(&b, 8192);
    lg_err e = lg_buf_printf(&b, "{\"status\":\"%s\",\"stages\":{\"rules\":",
                             draining ? "draining" : "ready");
    const char *why[3] = {res->rules ? NULL : (res->rules_missing[0] ? res->rules_missing : "not loaded"),
                          res->model ? NULL : (res->model_missing[0] ? res->model_missing : "not loaded"),
                          res->llm ? NULL : (res->llm_missing[0] ? res->llm_missing : "not configured")};
    const char *names[3] = {"rules", "model", "llm"};
    for (int i = 0; i < 3 && !e; i++) {
        if (i) e = lg_buf_printf(&b, ",\"%s\":", names[i]);
        if (e) break;
        if (!why[i]) e = lg_buf_append(&b, "{\"loaded\":true}", 15);
        else {
            e = lg_buf_append(&b, "{\"loaded\":false,\"reason\":", 25);
            if (!e) e = lg_json_put_string(&b, why[i], strlen(why[i]));
            if (!e) e = lg_buf_putc(&b, '}');
        }
    }
    if (!e) e = lg_buf_printf(&b, "},\"generation\":%llu}",
                              (unsigned long long)lg_pset_get_info(set)->generation);
    lg_pset_release(set);
    enum MHD_Result ret = e ? MHD_NO
                            : srv_respond(s, c, rq, draining ? 503 : 200, "application/json",
                                          b.data, b.len);
    lg_buf_free(&b);
    return ret;
}

static enum MHD_Result answer_metrics(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    lg_buf b;
    lg_buf_init(&b, 4u << 20);
    enum MHD_Result ret;
    if (srv_metrics_render(s, &b) == LG_OK)
        ret = srv_respond(s, c, rq, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    else
        ret = srv_respond_detail(s, c, rq, 500, "Internal Server Error");
    lg_buf_free(&b);
    return ret;
}

static enum MHD_Result answer_docs(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                   const char *url) {
    if (!strcmp(url, "/docs") || !strcmp(url, "/docs/")) {
        size_t len;
        const char *html = srv_docs_html(s, &len);
        return srv_respond(s, c, rq, 200, "text/html; charset=utf-8", html, len);
    }
    const srv_asset *a = srv_docs_asset(s, url + strlen("/docs/"));
    if (!a) return srv_respond_detail(s, c, rq, 404, "Not Found");
    rq->bytes_out = a->len;
    struct MHD_Response *r =
        lg_mhd()->create_response_from_buffer(a->len, a->data, MHD_RESPMEM_PERSISTENT);
    if (r) lg_mhd()->add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=3600");
    return srv_queue(s, c, rq, 200, a->ctype, r);
}

/* ---- Dispatch ----------------------------------------------------------------------- */

static srv_route route_of(const char *url) {
    if (!strcmp(url, "/classify/") || !strcmp(url, "/classify")) return SRV_R_CLASSIFY;
    if (!strcmp(url, "/v1/classify")) return SRV_R_V1;
    if (!strcmp(url, "/v1/classify/stream")) return SRV_R_STREAM;
    if (!strcmp(url, "/healthz")) return SRV_R_HEALTHZ;
    if (!strcmp(url, "/readyz")) return SRV_R_READYZ;
    if (!strcmp(url, "/metrics")) return SRV_R_METRICS;
    if (!strcmp(url, "/openapi.json")) return SRV_R_OPENAPI;
    if (!strcmp(url, "/docs") || !strncmp(url, "/docs/", 6)) return SRV_R_DOCS;
    if (!strncmp(url, "/v1/jobs/", 9)) return SRV_R_JOBS;
    if (!strcmp(url, "/") || !strncmp(url, "/console/", 9)) return SRV_R_CONSOLE;
    if (!strcmp(url, "/admin/reload")) return SRV_R_ADMIN_RELOAD;
    if (!strcmp(url, "/v1/eval")) return SRV_R_EVAL;
    return SRV_R_OTHER;
}

/* Constant-time comparison of the bearer token with the key. */
static int auth_ok(const lg_server *s, struct MHD_Connection *c) {
    if (!s->api_key) return 1;
    const char *h = lg_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t hl = strlen(h), kl = strlen(s->api_key);
    unsigned char diff = (unsigned char)(hl != kl);
    for (size_t i = 0; i < kl; i++) diff |= (unsigned char)(s->api_key[i] ^ (i < hl ? h[i] : 0));
    return diff == 0;
}

static void make_id(lg_server *s, struct MHD_Connection *c, srv_req *rq) {
    const char *given = lg_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    if (given) {
        size_t n = strlen(given), ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++) {
            char ch = given[i];
            ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 ch == '-' || ch == '_' || ch == '.';
        }
        if (ok) {
            memcpy(rq->id, given, n + 1);
            return;
        }
    }
    uint64_t n = __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED);
    snprintf(rq->id, sizeof rq->id, "%08x-%08llx", s->nonce, (unsigned long long)n);
}

static int is_method(const char *m, const char *want) { return !strcmp(m, want); }

/* A request holds a slot of --max-inflight from its first byte until its
 * answer is queued (before the client can see it, so that a client that
 * got its answer may send the next request at once). */
static void release_slot(lg_server *s, srv_req *rq) {
    if (!rq->slot) return;
    rq->slot = 0;
    __atomic_sub_fetch(&s->active, 1, __ATOMIC_ACQ_REL);
}

/* First call for a request: everything decided before the body is read. */
static enum MHD_Result on_first_call(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                     const char *url, const char *method) {
    srv_route r = rq->route;
    int post_route = r <= SRV_R_STREAM || r == SRV_R_EVAL || (r == SRV_R_JOBS && is_method(method, "POST"));
    int get = is_method(method, "GET") || is_method(method, "HEAD") ||
              (r == SRV_R_JOBS && is_method(method, "DELETE")); /* a job: cancel or remove */
    /* /healthz and the /docs page (it asks for the key itself) are open;
     * everything else, unknown paths included, needs the key first, so that
     * a client without it learns nothing about which routes exist */
    if (r != SRV_R_HEALTHZ && r != SRV_R_DOCS && r != SRV_R_CONSOLE && !auth_ok(s, c))
        return srv_respond_detail(s, c, rq, 401, "Not authenticated");
    if (r == SRV_R_OTHER) return srv_respond_detail(s, c, rq, 404, "Not Found");
    if (r == SRV_R_ADMIN_RELOAD) return srv_admin_reload(s, c, rq, method);
    if (post_route ? !is_method(method, "POST") : !get)
        return srv_respond_detail(s, c, rq, 405, "Method Not Allowed");
    if (r == SRV_R_HEALTHZ) return srv_respond(s, c, rq, 200, "application/json", "{\"status\":\"ok\"}", 15);
    if (post_route && __atomic_load_n(&s->draining, __ATOMIC_ACQUIRE))
        return srv_respond_detail(s, c, rq, 503, "server is shutting down");
    if (post_route) {
        __atomic_add_fetch(&s->inflight, 1, __ATOMIC_ACQ_REL);
        rq->counted = 1;
        unsigned now = __atomic_add_fetch(&s->active, 1, __ATOMIC_ACQ_REL);
        rq->slot = 1;
        if (now > s->o.max_inflight) {
            enum MHD_Result ret = srv_respond_detail(s, c, rq, 503, "too many requests in flight; retry later");
            release_slot(s, rq);
            return ret;
        }
        const char *cl = lg_mhd()->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long v = strtoull(cl, &end, 10);
            if (*end == '\0' && v > s->o.max_upload) {
                char d[128];
                snprintf(d, sizeof d, "request body larger than %zu bytes", s->o.max_upload);
                return srv_respond_detail(s, c, rq, 413, d);
            }
        }
    }
    switch (r) {
    case SRV_R_CLASSIFY: rq->handler = SRV_H_UPLOAD; return srv_upload_begin(s, c, rq);
    case SRV_R_V1: rq->handler = SRV_H_JSON; return srv_json_begin(s, c, rq);
    case SRV_R_STREAM: rq->handler = SRV_H_STREAM; return srv_stream_begin(s, c, rq);
    case SRV_R_READYZ: return answer_readyz(s, c, rq);
    case SRV_R_METRICS: return answer_metrics(s, c, rq);
    case SRV_R_OPENAPI: {
        size_t len;
        const char *doc = srv_openapi_json(&len);
        return srv_respond(s, c, rq, 200, "application/json", doc, len);
    }
    case SRV_R_DOCS: return answer_docs(s, c, rq, url);
    case SRV_R_JOBS: return srv_jobs_begin(s, c, rq, url, method);
    case SRV_R_EVAL: return srv_eval_begin(s, c, rq);
    case SRV_R_CONSOLE: return srv_console_answer(s, c, rq, url);
    default: return srv_respond_detail(s, c, rq, 404, "Not Found");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    lg_server *s = cls;
    srv_req *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        *con_cls = rq;
        srv_guard_head_done(&s->guard, c);
        rq->t0 = lg_now();
        rq->route = route_of(url);
        rq->http11 = version && !strcmp(version, MHD_HTTP_VERSION_1_1);
        srv_log_safe(rq->method, sizeof rq->method, method);
        srv_log_safe(rq->path, sizeof rq->path, url);
        make_id(s, c, rq);
        /* Bodiless requests are answered on the next call: libmicrohttpd
         * closes the connection after an answer queued on the first call
         * (it cannot know yet that no body follows). POSTs to the classify
         * routes are checked now, so that a 413/401/503 goes out before
         * the body is sent (Expect: 100-continue). */
        if (!((rq->route <= SRV_R_STREAM || rq->route == SRV_R_JOBS || rq->route == SRV_R_EVAL) &&
              is_method(method, "POST"))) {
            rq->deferred = 1;
            return MHD_YES;
        }
        return on_first_call(s, c, rq, url, method);
    }
    if (rq->deferred) {
        if (*upload_data_size) { /* a body nobody asked for */
            *upload_data_size = 0;
            return MHD_YES;
        }
        rq->deferred = 0;
        return on_first_call(s, c, rq, url, method);
    }
    if (rq->status && !rq->dx) { /* answered early: drop whatever body follows */
        *upload_data_size = 0;
        release_slot(s, rq);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        rq->bytes_in += n;
        if (rq->bytes_in > s->o.max_upload) {
            /* Only a chunked body gets here (no length up front). libmicrohttpd
             * can answer only before the body or after all of it: drop the
             * rest and answer 413 at its end, unless it goes on past twice
             * the cap, then hang up. */
            srv_req_fail(rq, 413, "request body larger than %zu bytes", s->o.max_upload);
            if (rq->bytes_in / 2 > s->o.max_upload) return MHD_NO;
        }
        if (!rq->discard) {
            switch (rq->handler) {
            case SRV_H_UPLOAD: srv_upload_feed(s, rq, upload_data, n); break;
            case SRV_H_JSON: srv_json_feed(s, rq, upload_data, n); break;
            case SRV_H_STREAM: srv_stream_feed(s, rq, upload_data, n); break;
            case SRV_H_JOB: srv_jobs_feed(s, rq, upload_data, n); break;
            case SRV_H_EVAL: srv_eval_feed(s, rq, upload_data, n); break;
            default: break;
            }
        }
        /* a failure after the head went out is told at the end of the body
         * (srv_direct_cut), when the client reads for sure */
        return srv_direct_progress(s, c, rq) ? MHD_NO : MHD_YES;
    }
    enum MHD_Result ret;
    switch (rq->handler) {
    case SRV_H_UPLOAD: ret = srv_upload_finish(s, c, rq); break;
    case SRV_H_JSON: ret = srv_json_finish(s, c, rq); break;
    case SRV_H_STREAM: ret = srv_stream_finish(s, c, rq); break;
    case SRV_H_JOB: ret = srv_jobs_finish(s, c, rq); break;
    case SRV_H_EVAL: ret = srv_eval_finish(s, c, rq); break;
    default: ret = srv_respond_detail(s, c, rq, 500, "Internal Server Error");
    }
    release_slot(s, rq);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    lg_server *s = cls;
    srv_req *rq = *con_cls;
    srv_guard_request_done(&s->guard, c);
    if (!rq) return;
    *con_cls = NULL;
    release_slot(s, rq);
    int was_counted = rq->counted;
    if (rq->counted) __atomic_sub_fetch(&s->inflight, 1, __ATOMIC_ACQ_REL); /* before the
        metrics below, so that whoever sees this request counted sees it gone */
    rq->counted = 0;
    double secs = lg_now() - rq->t0;
    const char *dx_end = srv_direct_end(rq); /* answered on the socket: MHD saw an error */
    int cut_by_stop = was_counted && __atomic_load_n(&s->cutting, __ATOMIC_ACQUIRE) &&
                      (dx_end ? strcmp(dx_end, "ok") != 0 : toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (cut_by_stop) {
        __atomic_add_fetch(&s->cut, 1, __ATOMIC_ACQ_REL);
        dx_end = "shutdown-cut"; /* not the client's doing; its answer has no proper end */
    }
    unsigned status = (dx_end ? !strcmp(dx_end, "ok") : toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                          ? rq->status
                          : 0;
    if (dx_end && !strcmp(dx_end, "cut")) /* counted under the status it would have had */
        status = rq->status = rq->fail_status ? rq->fail_status : 500;
    srv_metrics_request(&s->metrics, rq->route, status, secs, rq->bytes_in,
                        status ? rq->bytes_out : 0);
    if (s->o.access_log) {
        char remote[INET6_ADDRSTRLEN] = "-";
        const union MHD_ConnectionInfo *ci =
            lg_mhd()->get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                          remote, sizeof remote);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                          remote, sizeof remote);
        }
        static const char *const ends[] = {"ok", "error", "timeout", "shutdown", "read-error",
                                           "client-abort"};
        const char *end = dx_end                                       ? dx_end
                          : (unsigned)toe < sizeof ends / sizeof *ends ? ends[toe]
                                                                       : "other";
        lg_log(LG_LOG_INFO,
               "access id=%s remote=%s method=%s path=%s status=%u in=%llu out=%llu ms=%.2f end=%s",
               rq->id, remote, rq->method, rq->path, rq->status, (unsigned long long)rq->bytes_in,
               (unsigned long long)rq->bytes_out, secs * 1e3, end);
    }
    switch (rq->handler) {
    case SRV_H_UPLOAD: srv_upload_free(rq); break;
    case SRV_H_JSON: srv_json_free(rq); break;
    case SRV_H_STREAM: srv_stream_free(rq); break;
    case SRV_H_JOB: srv_jobs_post_free(rq); break;
    case SRV_H_EVAL: srv_eval_free(rq); break;
    default: break;
    }
    srv_direct_free(rq);
    free(rq);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    lg_log(LG_LOG_DEBUG, "http: %s", msg);
}

/* ---- Lifecycle --------------------------------------------------------------------- */

lg_err lg_server_new(const lg_server_opts *opts, lg_live *live, lg_server **out, lg_errmsg *err) {
    *out = NULL;
    if (!live) return lg_fail(err, LG_EINVAL, "server needs a pipeline");
    lg_err el = lg_mhd_load(err); /* libmicrohttpd: loaded now, not at start-up */
    if (el) return el;
    lg_server *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "server: out of memory");
    s->o = *opts;
    s->live = live;
    if (!s->o.threads) s->o.threads = 2;
    if (!s->o.max_upload) s->o.max_upload = SRV_DEFAULT_MAX_UPLOAD;
    if (!s->o.max_rows) s->o.max_rows = SRV_DEFAULT_MAX_ROWS;
    if (!s->o.timeout_s) s->o.timeout_s = SRV_DEFAULT_TIMEOUT;
    if (!s->o.max_inflight) s->o.max_inflight = SRV_DEFAULT_INFLIGHT;
    if (!s->o.max_connections) s->o.max_connections = SRV_DEFAULT_CONNS;
    if (!s->o.head_timeout_s) s->o.head_timeout_s = SRV_DEFAULT_HEAD_TIMEOUT;
    if (!s->o.max_per_ip) s->o.max_per_ip = SRV_DEFAULT_PER_IP;
    s->host = lg_strdup(opts->host ? opts->host : "127.0.0.1");
    if (opts->api_key && !*opts->api_key) { /* "--api-key $KEY" with KEY unset */
        free(s);
        return lg_fail(err, LG_EINVAL, "the API key is empty; give a key, or none at all to serve "
                                       "without authentication");
    }
    s->api_key = opts->api_key ? lg_strdup(opts->api_key) : NULL;
    s->docs_dir = lg_strdup(opts->docs_assets);
    s->o.host = s->host;
    s->o.api_key = s->api_key;
    s->o.docs_assets = s->docs_dir;
    pthread_mutex_init(&s->templates_mu, NULL);
    pthread_mutex_init(&s->jobs_mu, NULL);
    srv_metrics_init(&s->metrics);
    if (getrandom(&s->nonce, sizeof s->nonce, 0) != (ssize_t)sizeof s->nonce)
        s->nonce = (uint32_t)time(NULL) ^ (uint32_t)getpid();
    if (lg_tpl_miner_new(NULL, &s->templates, NULL) || !s->host || (opts->api_key && *opts->api_key && !s->api_key) ||
        (opts->docs_assets && !s->docs_dir)) {
        lg_server_free(s);
        return lg_fail(err, LG_ENOMEM, "server: out of memory");
    }
    srv_docs_load_assets(s);
    *out = s;
    return LG_OK;
}

lg_err lg_server_start(lg_server *s, lg_errmsg *err) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)s->o.port);
    int gai = getaddrinfo(s->host, port, &hints, &ai);
    if (gai) return lg_fail(err, LG_EINVAL, "cannot resolve host '%s': %s", s->host, gai_strerror(gai));
    if (srv_guard_start(&s->guard, s->o.head_timeout_s, s->o.timeout_s, err)) {
        freeaddrinfo(ai);
        srv_guard_stop(&s->guard);
        return LG_EIO;
    }
    /* no listening socket of its own: the front door (server_front.c)
     * accepts, checks each connection's first head and hands it over */
    unsigned flags = MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
    if (s->o.mode == LG_HTTP_THREAD_PER_CONN)
        flags |= MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    else if (s->o.mode == LG_HTTP_EPOLL_POOL)
        flags |= MHD_USE_EPOLL_INTERNAL_THREAD;
    else
        flags |= MHD_USE_POLL_INTERNAL_THREAD;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    struct MHD_OptionItem ops[16];
    size_t k = 0;
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)s->o.timeout_s, NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, (intptr_t)s->o.max_connections, NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)s->o.max_per_ip, NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)srv_guard_notify, s};
    /* MHD_OPTION_CONNECTION_MEMORY_LIMIT: the default (32 KiB); the front
     * door's head limits (server_head.c) sit inside it */
    if (s->o.mode != LG_HTTP_THREAD_PER_CONN && s->o.threads > 1)
        ops[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->o.threads, NULL};
    ops[k++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->daemon = lg_mhd()->start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
                                       MHD_OPTION_END);
    if (!s->daemon) {
        freeaddrinfo(ai);
        srv_guard_stop(&s->guard);
        return lg_fail(err, LG_EIO, "cannot start the HTTP library");
    }
    lg_err e = srv_front_start(s, ai, err);
    freeaddrinfo(ai);
    if (e) {
        lg_mhd()->stop_daemon(s->daemon);
        s->daemon = NULL;
        srv_guard_stop(&s->guard);
        return e;
    }
    s->port = s->front.port;
    return LG_OK;
}

uint16_t lg_server_port(const lg_server *s) { return s ? s->port : 0; }

unsigned lg_server_cut(const lg_server *s) { return s ? __atomic_load_n(&s->cut, __ATOMIC_ACQUIRE) : 0; }

unsigned lg_server_stop(lg_server *s, double grace_s) {
    if (!s || !s->daemon || s->stopped) return 0;
    __atomic_store_n(&s->draining, 1, __ATOMIC_RELEASE);
    srv_front_quiesce(&s->front); /* no new connections */
    double until = lg_now() + grace_s;
    unsigned left;
    while ((left = __atomic_load_n(&s->inflight, __ATOMIC_ACQUIRE)) && lg_now() < until) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (left) __atomic_store_n(&s->cutting, 1, __ATOMIC_RELEASE);
    srv_front_detach(&s->front); /* no hand-over after this */
    lg_mhd()->stop_daemon(s->daemon); /* cuts what is still in flight */
    srv_front_stop(&s->front);  /* the last answers pass on, then every socket closes */
    srv_guard_stop(&s->guard);
    s->daemon = NULL;
    s->stopped = 1;
    return left;
}

void lg_server_free(lg_server *s) {
    if (!s) return;
    if (s->daemon) lg_server_stop(s, 0);
    srv_jobs_free(s); /* waits for running jobs */
    pthread_mutex_destroy(&s->jobs_mu);
    lg_tpl_miner_free(s->templates);
    pthread_mutex_destroy(&s->templates_mu);
    srv_metrics_destroy(&s->metrics);
    for (size_t i = 0; i < s->n_assets; i++) free(s->assets[i].data);
    free(s->host);
    free(s->api_key);
    free(s->docs_dir);
    free(s);
}
