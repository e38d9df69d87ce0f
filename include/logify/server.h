/* server.h - the HTTP service (`logify serve`, docs/server.md): the
 * prototype's `POST /classify/` (multipart CSV upload), `POST /v1/classify`
 * (JSON), `POST /v1/classify/stream` (NDJSON), health, readiness,
 * Prometheus metrics, the OpenAPI document and a page that renders it.
 *
 * Built on libmicrohttpd. The server borrows a live pipeline set (live.h)
 * that the caller loaded; each request acquires the current set, shares it
 * read-only, takes per-thread scratch (lg_worker) from the set's pool, and
 * keeps that set until it ends, so a reload (SIGHUP in `logify serve`, or
 * POST /admin/reload) never changes a request half-way. Nothing is written to
 * disk per request. Every input a client controls is capped: upload bytes,
 * rows, line/field sizes, concurrent requests, idle time per connection.
 *
 * Lifecycle: lg_server_new -> lg_server_start -> ... -> lg_server_stop
 * (graceful: stop accepting, let requests in flight finish) ->
 * lg_server_free. */
#ifndef LOGIFY_SERVER_H
#define LOGIFY_SERVER_H

#include "logify/common.h"
#include "logify/live.h"
#include "logify/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    LG_HTTP_THREAD_PER_CONN = 0, /* one thread per connection (the default:
                                    docs/server.md has the measurements) */
    LG_HTTP_POLL_POOL = 1,       /* N threads, each with its own poll() loop */
    LG_HTTP_EPOLL_POOL = 2       /* N threads, each with its own epoll loop */
} lg_http_mode;

/* Progress of a background job: phase name, done of total. Returns
 * non-zero when the job has been canceled (DELETE /v1/jobs/ID): the
 * cluster function then stops, frees what it holds and returns
 * LG_ECANCELED (lg_progress_fn of logify/knn.h has the same contract). */
typedef int (*lg_server_progress_fn)(void *user, const char *phase, size_t done, size_t total);
/* The console's cluster job (POST /v1/jobs/cluster): csv is the request
 * body; writes the JSON report into out. Runs on a job thread. */
typedef lg_err (*lg_server_cluster_fn)(void *user, const char *csv, size_t len,
                                       lg_server_progress_fn progress, void *puser, lg_buf *out,
                                       lg_errmsg *err);

typedef struct {
    const char *host;         /* address to bind; NULL = "127.0.0.1" */
    uint16_t port;            /* 0 = any free port (see lg_server_port) */
    lg_http_mode mode;
    unsigned threads;         /* pool size (poll/epoll modes); 0 = 2 */
    size_t max_upload;        /* request body bytes; 0 = 100 MiB; beyond: 413 */
    size_t hold;              /* answers up to this many bytes wait for the end
                                 of the body; longer ones go out while it is
                                 read (thread-per-connection mode); 0 = 4 MiB */
    uint64_t max_rows;        /* rows per request; 0 = 1,000,000; beyond: 413 */
    unsigned timeout_s;       /* idle seconds per connection; 0 = 30 */
    unsigned head_timeout_s;  /* seconds for a request's complete head (request
                                 line and headers), however it trickles in;
                                 0 = 10 */
    unsigned max_per_ip;      /* open connections per client address; 0 = 64 */
    unsigned max_inflight;    /* concurrent requests; 0 = 64; beyond: 503 */
    unsigned max_connections; /* open connections (= threads in the default
                                 mode); 0 = 1024 */
    const char *api_key;      /* NULL/"": no auth; else Bearer required
                                 everywhere but /healthz */
    int admin_open;           /* 1: admin endpoints (POST /admin/reload) answer
                                 without an API key when none is set; by
                                 default they answer 403 then */
    int access_log;           /* 1: one INFO line per request (lg_log) */
    const char *docs_assets;  /* directory holding swagger-ui-dist files;
                                 NULL = look beside the binary */
    int template_ids;         /* 1: CSV upload answers carry each line's
                                 template_id too (JSON answers always do;
                                 docs/templates.md); lines are mined and
                                 counted in /metrics either way */
    lg_server_cluster_fn cluster_fn; /* NULL: POST /v1/jobs/cluster is 501 */
    void *cluster_user;
} lg_server_opts;

/* Reads the configuration file's `server:` section (cfg->doc, see
 * docs/server.md) over what o holds; o->host then points into cfg, which
 * must outlive o. grace_s (may be NULL) receives server.grace. An unknown
 * key or a bad value is LG_EINVAL naming the file and line. The API key is
 * never read from the file. */
lg_err lg_server_opts_from_config(const lg_config *cfg, lg_server_opts *o, double *grace_s,
                                  lg_errmsg *err);

typedef struct lg_server lg_server;

/* Validates opts and prepares the server (does not listen yet). Borrows
 * live, which must outlive the server; copies opts' strings. Caller frees
 * with lg_server_free. */
lg_err lg_server_new(const lg_server_opts *opts, lg_live *live, lg_server **out, lg_errmsg *err);
/* Binds and starts the listener threads. */
lg_err lg_server_start(lg_server *s, lg_errmsg *err);
/* The bound port (useful with opts.port == 0); 0 before start. */
uint16_t lg_server_port(const lg_server *s);
/* Graceful stop: closes the listening socket, answers new requests on open
 * connections with 503, waits up to grace_s seconds for requests in flight,
 * then stops every thread. Returns the number of requests still in flight
 * when it gave up waiting (0 = clean). Safe to call twice. */
unsigned lg_server_stop(lg_server *s, double grace_s);
/* After lg_server_stop: the requests it cut off when the grace was over
 * (their clients got no complete answer: a chunked answer without its last
 * chunk, or no answer at all; the access log says end=shutdown-cut). */
unsigned lg_server_cut(const lg_server *s);
void lg_server_free(lg_server *s);

#ifdef __cplusplus
}
#endif
#endif
