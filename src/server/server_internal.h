/* server_internal.h - what the server's files (server.c: daemon, routing,
 * limits, auth, access log; server_respond.c: responses and the worker
 * pool; server_spool.c: the answer spool; server_direct.c: answers sent
 * while the body is read; server_classify.c: the three classify
 * endpoints; server_metrics.c: counters and the Prometheus text;
 * server_docs.c: OpenAPI document and /docs page; server_admin.c: POST
 * /admin/reload) share. Not installed. */
#ifndef LOGIFY_SERVER_INTERNAL_H
#define LOGIFY_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <netdb.h>

#include "logify/dynlib_mhd.h"
#include "logify/csv.h"
#include "logify/live.h"
#include "logify/templates.h"
#include "logify/server.h"

/* ---- Routes ----------------------------------------------------------------- */

typedef enum {
    SRV_R_CLASSIFY = 0, /* POST /classify/ (multipart CSV, the prototype's) */
    SRV_R_V1,           /* POST /v1/classify (JSON) */
    SRV_R_STREAM,       /* POST /v1/classify/stream (NDJSON) */
    SRV_R_HEALTHZ,
    SRV_R_READYZ,
    SRV_R_METRICS,
    SRV_R_OPENAPI,
    SRV_R_DOCS,         /* /docs and its assets */
    SRV_R_JOBS,         /* POST /v1/jobs/cluster, GET and DELETE /v1/jobs/ID (server_jobs.c) */
    SRV_R_CONSOLE,      /* GET / and /console/<asset> (server_console.c) */
    SRV_R_ADMIN_RELOAD, /* POST /admin/reload (docs/reload.md) */
    SRV_R_EVAL,         /* POST /v1/eval (server_eval.c) */
    SRV_R_OTHER,        /* unknown paths (404) */
    SRV_R_COUNT
} srv_route;

const char *srv_route_name(srv_route r);

/* ---- Response spool ------------------------------------------------------- */

/* Output of a request as a chain of chunks: held until its body has been
 * read (libmicrohttpd answers only after the whole request, see
 * docs/server.md), or, past the hold size, taken chunk by chunk by the
 * direct sender while the body is still read (server_direct.c). Appends may
 * come from another thread (an upload's classify thread): the chain is
 * locked. Capped. */
/* Size of a spool chunk, and of a piece libmicrohttpd reads from a spool. */
#define SRV_SPOOL_CHUNK (64u << 10)

typedef struct srv_chunk {
    struct srv_chunk *next;
    size_t len, cap;
    char data[];
} srv_chunk;

typedef struct {
    pthread_mutex_t mu;
    srv_chunk *head, *tail;
    size_t total; /* bytes appended */
    size_t max;   /* cap on total */
    size_t off;   /* read position inside head (libmicrohttpd's reader) */
    lg_err failed; /* why the last append failed: LG_ELIMIT (the cap) or LG_ENOMEM */
} srv_spool;

srv_spool *srv_spool_new(size_t max);
lg_err srv_spool_append(srv_spool *sp, const void *p, size_t n);
/* Bytes appended so far. */
size_t srv_spool_total(srv_spool *sp);
/* Detaches the first chunk: only a full one (one that is not the last)
 * unless all is set. NULL when there is none; the caller frees it. */
srv_chunk *srv_spool_take(srv_spool *sp, int all);
void srv_spool_free(srv_spool *sp);

/* ---- Metrics ---------------------------------------------------------------- */

#define SRV_HIST_BUCKETS 14
#define SRV_STATUS_SLOTS 15 /* the codes in server_metrics.c, then "other", "aborted" */
#define SRV_LABEL_SLOTS 256

typedef struct {
    uint64_t requests[SRV_R_COUNT][SRV_STATUS_SLOTS];  /* atomics */
    uint64_t hist[SRV_R_COUNT][SRV_HIST_BUCKETS + 1];  /* non-cumulative; last = +Inf */
    uint64_t sum_us[SRV_R_COUNT];
    uint64_t rows_stage[LG_STAGE_KINDS];
    uint64_t bytes_in, bytes_out;
    pthread_mutex_t label_mu;
    char *labels[SRV_LABEL_SLOTS]; /* copies: a reload frees the set's strings */
    uint64_t label_rows[SRV_LABEL_SLOTS];
    size_t n_labels;
    uint64_t label_rows_other;
    uint64_t stream_bad_lines; /* atomic: NDJSON lines answered with an error object */
    uint64_t new_templates; /* lines that matched no known template */
} srv_metrics;

void srv_metrics_init(srv_metrics *m);
void srv_metrics_destroy(srv_metrics *m);
/* status 0 = the client went away before an answer. */
void srv_metrics_request(srv_metrics *m, srv_route r, unsigned status, double seconds,
                         uint64_t bytes_in, uint64_t bytes_out);
/* Adds one request's rows: by stage, and labels[i] with counts[i]. */
void srv_metrics_rows(srv_metrics *m, const uint64_t stage_rows[LG_STAGE_KINDS],
                      const char *const *labels, const uint64_t *counts, size_t n);

/* Per-request tally of rows by stage and label, merged once at the end. */
typedef struct {
    uint64_t stage[LG_STAGE_KINDS];
    const char *labels[64];
    uint64_t counts[64];
    size_t n;
    uint64_t overflow_rows; /* rows whose label did not fit here: merged one by one */
} srv_tally;

void srv_tally_add(srv_tally *t, srv_metrics *m, const lg_record *rec);
/* Mines one line into the server's templates; counts a new one. Returns
 * the line's template id (0 past the miner's cap). */
uint64_t srv_templates_add(lg_server *s, const char *msg, size_t len);
void srv_tally_flush(srv_tally *t, srv_metrics *m);

/* ---- Request-head deadline (server/server_guard.c) ---------------------------- */

typedef struct srv_conn srv_conn;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int inited, running, stop;
    srv_conn *head;         /* open connections (a list) */
    double head_timeout;    /* seconds for a complete request head */
    double idle_timeout;    /* the idle timeout (keep-alive waits this long) */
    uint64_t head_timeouts; /* atomic: connections shut for a late head */
} srv_guard;

lg_err srv_guard_start(srv_guard *g, double head_timeout, double idle_timeout, lg_errmsg *err);
void srv_guard_stop(srv_guard *g); /* after MHD_stop_daemon */
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the lg_server. */
void srv_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
void srv_guard_head_done(srv_guard *g, struct MHD_Connection *c);    /* a head is complete */
void srv_guard_request_done(srv_guard *g, struct MHD_Connection *c); /* waits for the next */

/* Copies a client-controlled string for the log: printable ASCII only. */
void srv_log_safe(char *dst, size_t cap, const char *src);

/* ---- Request heads before libmicrohttpd (server_head.c, server_front.c) ------ */

#define SRV_HEAD_MAX (16u << 10) /* a request head, all of it: 431 beyond */
#define SRV_LINE_MAX (8u << 10)  /* the request line: 414 beyond */
#define SRV_FIELDS_MAX 100u      /* header lines: 431 beyond */

typedef enum { SRV_HEAD_PARTIAL = 0, SRV_HEAD_OK, SRV_HEAD_BAD } srv_head_verdict;

#define SRV_CHUNK_LINE_MAX 1024u /* a chunk size line, extensions included: 400 beyond */
#define SRV_TRAILER_MAX (8u << 10) /* the trailer section of a chunked body: 431 beyond */

typedef struct {
    unsigned status;  /* SRV_HEAD_BAD: the answer's status */
    char detail[128]; /* SRV_HEAD_BAD: the answer's detail */
    size_t len;       /* bytes of the head, when its end was seen */
    char method[16], path[128]; /* for the access log (cut) */
    /* SRV_HEAD_OK: how the body is framed, as the library reads it */
    uint64_t length;  /* Content-Length (0 when absent) */
    int chunked;      /* Transfer-Encoding: chunked */
    int close;        /* the library closes the connection after this request
                         (Connection: close; HTTP/1.0 without keep-alive) */
} srv_head_result;

/* Checks the first n bytes a connection sent. *scanned (0 at first) keeps
 * where the search for the head's end got to, so that a head trickling in
 * is not scanned again from the start each time. PARTIAL: the head is not
 * complete yet and nothing is wrong so far; OK: complete and acceptable;
 * BAD: answer r->status with r->detail. */
srv_head_verdict srv_head_check(const char *b, size_t n, uint64_t max_upload, size_t *scanned,
                                srv_head_result *r);

/* Where a connection's input stands after a good head (srv_body_start):
 * the body is followed to its end, then the next head is due (NONE), or,
 * after a request that closes the connection, the rest is ignored (REST). */
typedef enum {
    SRV_BODY_NONE = 0, /* between requests: a head comes next */
    SRV_BODY_LENGTH,   /* Content-Length bytes */
    SRV_BODY_CHUNK_SIZE, SRV_BODY_CHUNK_EXT, SRV_BODY_CHUNK_SIZE_CR,
    SRV_BODY_CHUNK_DATA, SRV_BODY_CHUNK_END, SRV_BODY_CHUNK_END_CR,
    SRV_BODY_TRAILER,  /* after the last chunk: lines up to an empty one */
    SRV_BODY_REST      /* the library closes after this request: ignored */
} srv_body_state;

typedef struct {
    srv_body_state st;
    uint64_t left;  /* LENGTH, CHUNK_DATA: bytes left; CHUNK_SIZE: the size so far */
    unsigned line;  /* bytes of the chunk size line; of the trailer section */
    unsigned digits, fields, col;
    int colon, folded, cr; /* the trailer line being read */
    int close;      /* REST after the body */
} srv_body;

void srv_body_start(srv_body *b, const srv_head_result *r);
/* Follows body bytes p[0..n): returns how many belong to the body (framing
 * included). Stops early when the body ends (b->st is then NONE, or REST
 * when the connection closes after it: nothing more is read) or at bad
 * framing (*v = SRV_HEAD_BAD, r->status and r->detail set; the bytes before
 * it are counted). */
size_t srv_body_scan(srv_body *b, const char *p, size_t n, srv_head_result *r, srv_head_verdict *v);

typedef struct srv_pending srv_pending;
typedef struct srv_pipe srv_pipe;

/* What an event of the front thread's epoll set is about (its data.ptr). */
typedef enum { SRV_EP_LISTEN = 0, SRV_EP_WAKE, SRV_EP_PENDING, SRV_EP_CLIENT, SRV_EP_LIB } srv_ep_kind;
typedef struct {
    srv_ep_kind kind;
    void *owner; /* the srv_pending or srv_pipe */
} srv_ep;

/* The front door: the listening socket and a thread that accepts, waits for
 * each connection's first request head (peeking: the bytes stay in the
 * socket), answers a bad one with JSON, and keeps the others, pumping their
 * bytes to and from libmicrohttpd through a socketpair while it checks
 * every later head (server_pump.c). */
typedef struct {
    int lfd, efd, wake; /* listening socket, epoll, eventfd */
    pthread_t thread;
    int inited, running;
    int stop, quiesce;  /* atomic: end the thread; close the listening socket */
    int paused;         /* accept paused (out of descriptors): resumed at the next tick */
    int draining;       /* the thread's own: stopping, pipes finish what they hold */
    uint16_t port;
    srv_pending *head;  /* connections whose head is awaited (a list) */
    unsigned n_pending;
    srv_pipe *pipes;    /* connections pumped to and from the library (a list) */
    unsigned n_pipes;
    srv_pipe *graveyard; /* ended pipes, freed after the batch of events */
    pthread_mutex_t handover_mu; /* MHD_add_connection against srv_front_detach */
    int detached;       /* under handover_mu: the library is stopping, no hand-over */
    char *scratch;      /* one read (server_pump.c) */
} srv_front;

/* ---- The pump (server_pump.c), run by the front thread --------------------- */

/* Keeps cfd (in the epoll set already, its first head complete and good)
 * and gives the library one end of a socketpair. -1: cfd is the caller's. */
int srv_pump_adopt(lg_server *s, srv_front *f, int cfd, const struct sockaddr_storage *addr, socklen_t alen);
void srv_pump_event(lg_server *s, srv_front *f, srv_ep *ep, uint32_t events);
void srv_pump_sweep(srv_front *f, double now); /* ends lingering pipes past their time */
void srv_pump_reap(srv_front *f);     /* frees the pipes ended since the last call */
void srv_pump_drain(srv_front *f);    /* stopping: ends the pipes that only wait for their client */
void srv_pump_close_all(srv_front *f);
/* (server_head.c) An answer to a bad head, whole (head and JSON body, Connection: close),
 * appended to out; id gets its request id. */
void srv_bad_head_answer(lg_server *s, unsigned status, const char *detail, char *id, size_t idcap, lg_buf *out);
/* Counts and logs an answer to a bad head (end=bad-head). */
void srv_bad_head_log(lg_server *s, const struct sockaddr_storage *addr, const char *id, const srv_head_result *r,
                   size_t out, double secs);

/* Binds and listens (the address is the first of ai), starts the thread. */
lg_err srv_front_start(lg_server *s, const struct addrinfo *ai, lg_errmsg *err);
void srv_front_quiesce(srv_front *f); /* stops accepting: closes the listening socket */
void srv_front_detach(srv_front *f);  /* before MHD_stop_daemon: no hand-over after it */
/* After MHD_stop_daemon: the pipes pass on what the library wrote (for at
 * most a second), then the thread ends and every socket is closed. */
void srv_front_stop(srv_front *f);

/* ---- Server ------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
    const char *ctype;
    char name[64];
} srv_asset;

#define SRV_MAX_ASSETS 8

/* A background job of the console (server_jobs.c); fields under jobs_mu. */
#define SRV_JOBS_MAX 4
typedef enum { SRV_JOB_RUNNING = 0, SRV_JOB_DONE, SRV_JOB_FAILED, SRV_JOB_CANCELED } srv_job_state;
typedef struct {
    lg_server *s;
    int used;
    srv_job_state state;
    char id[33];
    char phase[16];
    size_t done, total, rows;
    double t0, t1;
    char *input;
    size_t input_len;
    lg_buf result;
    char error[LG_ERRMSG_MAX];
    int cancel; /* atomic: DELETE asked the job to stop (read by its progress) */
    pthread_t thread;
} srv_job;

struct lg_server {
    lg_server_opts o;    /* strings below are copies */
    char *host, *api_key, *docs_dir;
    lg_live *live;       /* the current pipeline set (live.h); each request
                            holds the set it started with */
    struct MHD_Daemon *daemon;
    uint16_t port;
    int draining;        /* atomic: set by lg_server_stop */
    int cutting;         /* atomic: the grace is over, requests in flight are cut */
    unsigned cut;        /* atomic: requests cut by the shutdown */
    int stopped;
    unsigned inflight;   /* atomic: classify requests between first byte and
                            completion (gauge; shutdown waits for 0) */
    unsigned active;     /* atomic: those not answered yet (--max-inflight) */
    uint64_t next_id;    /* atomic request counter */
    uint32_t nonce;      /* random prefix of request ids */

    srv_metrics metrics;
    srv_guard guard;
    srv_front front;
    /* every classified line is mined for its template (docs/templates.md);
     * a line that starts a new one counts in logify_new_templates_total */
    struct lg_tpl_miner *templates;
    pthread_mutex_t templates_mu;
    srv_asset assets[SRV_MAX_ASSETS];
    size_t n_assets;
    pthread_mutex_t jobs_mu;
    srv_job jobs[SRV_JOBS_MAX];
};

/* ---- Requests ----------------------------------------------------------------- */

typedef enum { SRV_H_NONE = 0, SRV_H_UPLOAD, SRV_H_JSON, SRV_H_STREAM, SRV_H_JOB, SRV_H_EVAL } srv_handler;

typedef struct srv_req {
    char id[72];
    srv_route route;
    srv_handler handler;
    double t0;
    unsigned status;     /* status queued; 0 = none yet */
    uint64_t bytes_in;
    uint64_t bytes_out;
    int counted;         /* counted in s->inflight */
    int slot;            /* counted in s->active */
    int discard;         /* failed: read and drop the rest of the body */
    int deferred;        /* answered on the call after the first */
    unsigned fail_status;
    char fail_detail[LG_ERRMSG_MAX + 64];
    void *state;         /* the handler's */
    srv_spool *spool;    /* the answer being built (the handler's; NULL when
                            the answer is not built while the body arrives) */
    const char *ctype;   /* its Content-Type */
    int http11;          /* the client speaks HTTP/1.1 (chunked answers) */
    int eager;           /* a live stream: answer from the first line, not
                            after --hold; the spool is filled on this thread */
    int end_on_detail;   /* an NDJSON answer cut by a failure ends properly
                            after its {"detail"} line (?cut=0, the console) */
    struct srv_direct *dx; /* the answer is going out on the socket (server_direct.c) */
    char method[8];
    char path[128];
} srv_req;

/* Remembers a failure to answer once the body has been read. */
void srv_req_fail(srv_req *rq, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Queue a response; each adds X-Request-Id and records rq->status.
 * srv_queue: a response the caller built (NULL r: MHD_NO); it is destroyed. */
enum MHD_Result srv_queue(lg_server *s, struct MHD_Connection *c, srv_req *rq, unsigned status,
                          const char *ctype, struct MHD_Response *r);
enum MHD_Result srv_respond(lg_server *s, struct MHD_Connection *c, srv_req *rq, unsigned status,
                            const char *ctype, const char *body, size_t len);
/* Appends {"detail": "..."} (FastAPI's error shape; the text cut at 2,048
 * bytes). */
lg_err srv_detail_json(lg_buf *b, const char *detail);
/* Answers {"detail": "..."}. */
enum MHD_Result srv_respond_detail(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                   unsigned status, const char *detail);
/* Sends the spool (which the response then owns); chunked when asked. */
enum MHD_Result srv_respond_spool(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                  unsigned status, const char *ctype, srv_spool *sp, int chunked);

/* ---- Answers sent while the body is read (server_direct.c) ------------------ */

/* After each piece of body: once rq->spool holds more than the hold size
 * (thread-per-connection mode, HTTP/1.1), writes a 200 head with chunked
 * encoding on the connection's socket, then whatever the socket takes
 * without waiting. Returns 0, or -1 when the client is gone (close the
 * connection). */
int srv_direct_progress(lg_server *s, struct MHD_Connection *c, srv_req *rq);
/* The body has ended and the answer is complete: sends the rest (waiting
 * for the client up to --timeout per stall) and the last chunk, then ends
 * the connection (returns MHD_NO: libmicrohttpd must not answer again). */
enum MHD_Result srv_direct_finish(lg_server *s, srv_req *rq);
/* A failure after the head went out: the status cannot change, so the
 * answer is cut off (no last chunk: every HTTP client reports an incomplete
 * transfer); an NDJSON answer gets a last {"detail": ...} line first. The
 * failure is logged and counted under its would-be status. Returns MHD_NO. */
enum MHD_Result srv_direct_cut(lg_server *s, srv_req *rq);
void srv_direct_free(srv_req *rq);
/* For the access log: how a direct answer ended ("ok", "cut",
 * "client-abort", "timeout"); NULL when the request had none. */
const char *srv_direct_end(const srv_req *rq);

/* Classify endpoints (server_classify.c). begin returns 0 when ready to take
 * the body, else an HTTP status it already queued (or to queue). feed gets
 * body bytes; finish answers. free releases the state in any case. */
enum MHD_Result srv_upload_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_upload_feed(lg_server *s, srv_req *rq, const char *data, size_t len);
enum MHD_Result srv_upload_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_upload_free(srv_req *rq);

enum MHD_Result srv_json_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_json_feed(lg_server *s, srv_req *rq, const char *data, size_t len);
enum MHD_Result srv_json_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_json_free(srv_req *rq);

enum MHD_Result srv_stream_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_stream_feed(lg_server *s, srv_req *rq, const char *data, size_t len);
enum MHD_Result srv_stream_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_stream_free(srv_req *rq);

/* Console jobs (server_jobs.c): begin answers GET and DELETE
 * /v1/jobs/ID, or takes the body of POST /v1/jobs/cluster (handler
 * SRV_H_JOB); finish starts the job. srv_jobs_free cancels and waits for
 * every job thread (lg_server_free). */
enum MHD_Result srv_jobs_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                               const char *url, const char *method);
void srv_jobs_feed(lg_server *s, srv_req *rq, const char *data, size_t len);
enum MHD_Result srv_jobs_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_jobs_post_free(srv_req *rq);
void srv_jobs_free(lg_server *s);

/* POST /v1/eval (server_eval.c): begin takes the labelled CSV body
 * (handler SRV_H_EVAL); finish evaluates it with the current pipeline set
 * and answers `logify eval --json`'s object plus the --plot SVG. */
enum MHD_Result srv_eval_begin(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_eval_feed(lg_server *s, srv_req *rq, const char *data, size_t len);
enum MHD_Result srv_eval_finish(lg_server *s, struct MHD_Connection *c, srv_req *rq);
void srv_eval_free(srv_req *rq);

/* GET / and /console/<file> (server_console.c). */
enum MHD_Result srv_console_answer(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                   const char *url);

/* ---- Admin endpoints (server_admin.c) ----------------------------------------- */

/* POST /admin/reload, after the API key was checked: reloads the pipeline
 * set (live.h) and answers what was loaded, or why it was refused. */
enum MHD_Result srv_admin_reload(lg_server *s, struct MHD_Connection *c, srv_req *rq,
                                 const char *method);

/* ---- Text endpoints (server_metrics.c, server_docs.c) ------------------------ */

lg_err srv_metrics_render(lg_server *s, lg_buf *out);
const char *srv_openapi_json(size_t *len);
/* The /docs page: Swagger UI when its assets were found, else a built-in
 * renderer. */
const char *srv_docs_html(const lg_server *s, size_t *len);
/* Loads swagger-ui-dist files from dir (or the default places) into memory
 * once; not finding them is not an error. */
void srv_docs_load_assets(lg_server *s);
const srv_asset *srv_docs_asset(const lg_server *s, const char *name);

#endif
