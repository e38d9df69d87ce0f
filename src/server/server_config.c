/* server_config.c - the configuration file's `server:` section
 * (docs/server.md), read into lg_server_opts:
 *
 *   server:
 *     host: 0.0.0.0
 *     port: 8080
 *     http_mode: thread-per-connection   # or poll, epoll
 *     threads: 2
 *     max_upload: 100M
 *     hold: 4M
 *     max_rows: 1000000
 *     max_inflight: 64
 *     max_connections: 1024
 *     timeout: 30
 *     head_timeout: 10
 *     max_per_ip: 64
 *     grace: 30
 *     access_log: true
 *
 * The API key is deliberately not read from here (LOGIFY_API_KEY or
 * --api-key): a config file is often committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/server.h"
#include "logify/ytree.h"

static lg_err bad(lg_errmsg *err, const char *path, const lg_ynode *v, const char *what) {
    return lg_fail(err, LG_EINVAL, "%s:%u: server.%s", path, v->line, what);
}

/* A whole number in [lo, hi]. */
static lg_err get_uint(const lg_ynode *v, const char *path, const char *key, unsigned long long lo,
                       unsigned long long hi, unsigned long long *out, lg_errmsg *err) {
    const char *s = lg_yscalar(v);
    char *end;
    char what[128];
    snprintf(what, sizeof what, "%s must be a whole number in %llu..%llu", key, lo, hi);
    if (!s || !*s || *s == '-') return bad(err, path, v, what);
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || x < lo || x > hi) return bad(err, path, v, what);
    *out = x;
    return LG_OK;
}

/* "100M", "64k", "1G" or a byte count. */
static lg_err get_size(const lg_ynode *v, const char *path, const char *key, size_t *out,
                       lg_errmsg *err) {
    if (lg_parse_size(lg_yscalar(v), out)) {
        char what[96];
        snprintf(what, sizeof what, "%s must be a size such as 100M", key);
        return bad(err, path, v, what);
    }
    return LG_OK;
}

lg_err lg_server_opts_from_config(const lg_config *cfg, lg_server_opts *o, double *grace_s,
                                  lg_errmsg *err) {
    const lg_ynode *sec = cfg->doc ? lg_ymap_get(cfg->doc, "server") : NULL;
    const char *path = cfg->path ? cfg->path : "config";
    if (!sec) return LG_OK;
    if (sec->kind != LG_Y_MAP) return bad(err, path, sec, "the section must be a map");
    lg_err e = LG_OK;
    for (size_t i = 0; i + 1 < sec->n && !e; i += 2) {
        const char *k = lg_yscalar(sec->items[i]);
        const lg_ynode *v = sec->items[i + 1];
        unsigned long long x = 0;
        if (!k) {
            e = bad(err, path, sec->items[i], "keys must be plain names");
        } else if (!strcmp(k, "host")) {
            if (!(o->host = lg_yscalar(v)) || !*o->host) e = bad(err, path, v, "host must be an address");
        } else if (!strcmp(k, "port")) {
            if (!(e = get_uint(v, path, k, 0, 65535, &x, err))) o->port = (uint16_t)x;
        } else if (!strcmp(k, "http_mode")) {
            const char *m = lg_yscalar(v);
            if (m && !strcmp(m, "thread-per-connection")) o->mode = LG_HTTP_THREAD_PER_CONN;
            else if (m && !strcmp(m, "poll")) o->mode = LG_HTTP_POLL_POOL;
            else if (m && !strcmp(m, "epoll")) o->mode = LG_HTTP_EPOLL_POOL;
            else e = bad(err, path, v, "http_mode must be thread-per-connection, poll or epoll");
        } else if (!strcmp(k, "threads")) {
            if (!(e = get_uint(v, path, k, 1, 256, &x, err))) o->threads = (unsigned)x;
        } else if (!strcmp(k, "max_upload")) {
            e = get_size(v, path, k, &o->max_upload, err);
        } else if (!strcmp(k, "hold")) {
            e = get_size(v, path, k, &o->hold, err);
        } else if (!strcmp(k, "max_rows")) {
            if (!(e = get_uint(v, path, k, 1, 1ull << 40, &x, err))) o->max_rows = x;
        } else if (!strcmp(k, "max_inflight")) {
            if (!(e = get_uint(v, path, k, 1, 100000, &x, err))) o->max_inflight = (unsigned)x;
        } else if (!strcmp(k, "max_connections")) {
            if (!(e = get_uint(v, path, k, 1, 1000000, &x, err))) o->max_connections = (unsigned)x;
        } else if (!strcmp(k, "timeout")) {
            if (!(e = get_uint(v, path, k, 1, 86400, &x, err))) o->timeout_s = (unsigned)x;
        } else if (!strcmp(k, "head_timeout")) {
            if (!(e = get_uint(v, path, k, 1, 86400, &x, err))) o->head_timeout_s = (unsigned)x;
        } else if (!strcmp(k, "max_per_ip")) {
            if (!(e = get_uint(v, path, k, 1, 1000000, &x, err))) o->max_per_ip = (unsigned)x;
        } else if (!strcmp(k, "grace")) {
            double g;
            /* the file's name in front, as for the other settings */
            if (lg_ynumber(v, "server.grace", &g, NULL) || g < 0 || g > 86400)
                e = bad(err, path, v, "grace must be 0..86400 seconds");
            else if (grace_s)
                *grace_s = g;
        } else if (!strcmp(k, "access_log")) {
            if (lg_ybool(v, "server.access_log", &o->access_log, NULL))
                e = bad(err, path, v, "access_log must be true or false");
        } else if (!strcmp(k, "api_key")) {
            e = bad(err, path, v, "api_key is not read from a file that may be shared: use "
                                  "LOGIFY_API_KEY or --api-key");
        } else {
            char what[256];
            snprintf(what, sizeof what,
                     "%.40s: unknown setting (known: host, port, http_mode, threads, max_upload, hold, "
                     "max_rows, max_inflight, max_connections, timeout, head_timeout, max_per_ip, grace, access_log)", k);
            e = bad(err, path, sec->items[i], what);
        }
    }
    return e;
}
