/* kafka_int.h - private to src/kafka/: message conversion (kafka_msg.c),
 * the worker's counters (kafka_metrics.c), the librdkafka clients and their
 * callbacks (kafka_clients.c) and the worker's loop (kafka_worker.c). */
#ifndef LOGIFY_KAFKA_INT_H
#define LOGIFY_KAFKA_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "logify/dynlib_kafka.h"
#include "logify/kafka.h"
#include "logify/stage.h"

/* ---- Messages (kafka_msg.c) ------------------------------------------------ */

#define KMSG_RAW_MAX 1024 /* bytes of a bad value quoted in its output */

typedef struct {
    const char *source_field;  /* "source" */
    const char *message_field; /* "log_message" */
    const char *plain_source;  /* non-NULL: plain-text values */
    size_t max_value;
} kmsg_opts;

/* One input value, parsed. A bad one has a reason and no record fields. */
typedef struct {
    int is_obj;           /* JSON mode: the value is a valid JSON object */
    int empty;            /* ... with no members */
    int has_written;      /* ... with a member named like one we write */
    const char *source;   /* NUL-terminated (in copy, or the plain source) */
    size_t source_len;
    const char *message;  /* NUL-terminated (in copy) */
    size_t message_len;
    char *copy;           /* the fields, unescaped, NUL-terminated (in the
                             caller's room, or owned when owned is set) */
    int owned;
    char reason[LG_DETAIL_MAX]; /* "" for a good message */
} kmsg;

/* Parses value[0..len-1] (value may be NULL when len is 0). The fields'
 * strings go to room (at least KMSG_ROOM(len) bytes, the caller's, valid as
 * long as m is used), or, when room is NULL, to an allocation kmsg_clear
 * frees. Only an allocation failure is an error; every other problem is
 * m->reason. */
#define KMSG_ROOM(len) ((len) + 2)
lg_err kmsg_parse(const kmsg_opts *o, const char *value, size_t len, kmsg *m, char *room);
void kmsg_clear(kmsg *m);

/* The output value: the input object with target_label added (and, with
 * explain, stage, confidence, detail, and template_id when tid is
 * non-NULL); a bad message's output carries "error" (its reason) and "raw"
 * (the first KMSG_RAW_MAX bytes, invalid UTF-8 replaced) instead.
 * Appends to out. */
lg_err kmsg_format(const kmsg_opts *o, const kmsg *m, const char *value, size_t len,
                   const lg_record *rec, int explain, const char *tid, lg_buf *out);

/* Offset of the first byte that is not part of valid UTF-8 (len if none). */
size_t kmsg_utf8_check(const char *s, size_t len);

/* ---- JSON scanning (kafka_json.c) ----------------------------------------------- */

typedef struct {
    const char *name;  /* in: a top-level member name */
    size_t name_len;
    int found;         /* out: 0 absent, 1 a string, 2 another kind of value (the last one wins) */
    const char *raw;   /* a string's bytes between its quotes, escapes as they are */
    size_t raw_len;
    int escaped;       /* raw holds escapes: kjson_unescape it */
} kjson_field;

/* Validates s[0..len-1] as one JSON text and finds f[]'s members in its
 * top-level object. 0: an object (*members: its member count); 2: valid
 * JSON but not an object; 1: not JSON (*why, at byte *at). */
int kjson_scan(const char *s, size_t len, kjson_field *f, size_t nf, size_t *members, size_t *at,
               const char **why);
/* Unescapes a string kjson_scan accepted into out (room for n bytes: never
 * longer than raw); returns its length. */
size_t kjson_unescape(const char *raw, size_t n, char *out);

/* ---- Counters (kafka_metrics.c) ------------------------------------------------ */

#define KM_LABEL_SLOTS 64
#define KM_PARTS_MAX 1024
#define KM_HIST_BUCKETS 12

typedef struct {
    /* relaxed atomics */
    uint64_t consumed, produced, bad, dead_lettered, delivery_errors, client_errors;
    uint64_t commits, commit_errors, txn_commits, txn_aborts, rebalances;
    uint64_t stage_rows[LG_STAGE_KINDS];
    uint64_t batches, batch_hist[KM_HIST_BUCKETS + 1], batch_sum_us;
    /* under mu */
    pthread_mutex_t mu;
    char *labels[KM_LABEL_SLOTS]; /* owned copies */
    uint64_t label_rows[KM_LABEL_SLOTS];
    uint64_t label_rows_other;
    const lg_live *live;          /* for the reload counters, or NULL */
    int32_t lag_part[KM_PARTS_MAX];
    int64_t lag[KM_PARTS_MAX];
    size_t n_lag;
} kmetrics;

void km_init(kmetrics *m);
void km_destroy(kmetrics *m);
/* Rows of one classified batch, by stage and label. */
void km_rows(kmetrics *m, const lg_record *recs, size_t n);
/* One batch done: from its first message polled to its outputs acknowledged
 * and its offsets committed (or its transaction committed). */
void km_latency(kmetrics *m, double seconds);
/* Replaces the lag table (partition, messages behind the end). */
void km_set_lag(kmetrics *m, const int32_t *parts, const int64_t *lag, size_t n);
lg_err km_format(kmetrics *m, lg_buf *out);

#define KM_ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define KM_LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ---- The worker (kafka_clients.c, kafka_worker.c) ------------------------------ */

typedef struct kbatch kbatch;

/* One output message's producer opaque: which batch waits for it, and the
 * input partition that picks its output partition (the partitioner). */
typedef struct {
    kbatch *b;
    int32_t in_part;
} kslot;

/* The messages of one poll, from classification to commit. Batches are
 * recycled (kept on a spare list with their arrays), so a batch costs no
 * allocation once the worker runs. */
struct kbatch {
    kbatch *next;   /* the in-flight FIFO, the graveyard, or the spares */
    int32_t *parts; /* (n_parts) the input partitions it holds */
    int64_t *first; /* (n_parts) each one's first offset */
    int64_t *upto;  /* (n_parts) each one's last offset + 1: what to commit */
    size_t n_parts, cap_parts;
    kslot *slots;   /* (n_slots) one per output */
    size_t n_slots, cap_slots;
    size_t outstanding; /* outputs produced and not yet reported by the producer */
    int sealed;     /* every output produced */
    int failed;     /* an output refused for good */
    double t_first; /* when its first message was polled */
};

/* Rate-limited log of one client's errors (brokers down and the like). */
typedef struct {
    const char *who;  /* "consumer", "producer" */
    int err;          /* last kind of error logged: a code, -1 for brokers unreachable */
    double last_t;    /* when */
    uint64_t quiet;   /* repeats not logged since */
    int down;         /* brokers unreachable was logged: say when they are back */
} klog;

#define KW_MAX_INFLIGHT 32 /* batches produced and not yet committed (at-least-once) */

/* One poll's messages, from classification to production (kafka_team.c
 * fills it, kafka_worker.c produces it). The worker has two: the team
 * classifies one while the worker's thread produces the other's outputs. */
typedef struct {
    rd_kafka_message_t **pend; /* (batch_max) polled */
    size_t n;
    double t_first;       /* when its first message was polled */
    kmsg *msgs;           /* (batch_max) */
    lg_record *recs;      /* (batch_max) */
    size_t *rec_of;       /* (batch_max) message -> record index, or SIZE_MAX */
    lg_buf room;          /* the messages' fields, unescaped (kmsg_parse's room) */
    size_t *room_off;     /* (batch_max) each message's place in room */
    uint16_t *out_slice;  /* (batch_max) message -> the thread holding its output */
    size_t *out_off, *out_len; /* (batch_max) its place there; out_len SIZE_MAX: none */
    lg_buf *outs;         /* (n_slices) each thread's outputs, back to back */
    const lg_pipeline *pl; /* the pipeline that classifies it */
    struct lg_pset *pset; /* with live reload: its set (one reference), else NULL */
    size_t chunk, n_chunks; /* messages per piece of work, pieces */
    size_t next_chunk;    /* atomic: the next piece to take */
} kset;

/* One classifying thread (kafka_team.c); slice 0 is the worker's own. */
typedef struct {
    lg_kafka_worker *w;
    pthread_t tid;
    lg_worker *pw;        /* its pipeline scratch (without live reload) */
    lg_err err;
    lg_errmsg msg;
} kslice;

struct lg_kafka_worker {
    lg_kafka_opts o;      /* strings borrowed */
    kmsg_opts mo;
    rd_kafka_t *consumer, *producer;
    rd_kafka_topic_t *out_rkt, *dlq_rkt; /* the producer's handles of the output and
                                            dead-letter topics (no look-up by name per output) */
    kslice *slices;       /* (n_slices) classifying threads */
    size_t n_slices;
    pthread_mutex_t team_mu;
    pthread_cond_t team_go, team_done;
    uint64_t team_gen;    /* a new batch to classify (under team_mu) */
    kset *team_set;       /* ... that one (under team_mu) */
    size_t team_pending;  /* helper threads still at it (under team_mu) */
    int team_quit, team_init;
    size_t out_cap;       /* the largest output value formatted */
    kmetrics m;
    int stop;             /* atomic: lg_kafka_worker_stop */
    double stop_t;        /* when run() saw it */
    kset sets[2];         /* polled into / classified, produced next */
    kset *ready;          /* classified, its outputs not produced yet (or NULL) */
    int rewound;          /* an aborted transaction moved the consumer back */
    char abort_why[LG_ERRMSG_MAX]; /* exactly-once: why an output was refused at once */
    kbatch *head, *tail;  /* in flight, oldest first */
    size_t n_inflight;
    kbatch *grave;        /* given up on, freed once the producer reported every output */
    kbatch *spare;        /* done with, for reuse */
    /* at-least-once commits (kafka_worker.c, commit_ready) */
    rd_kafka_topic_partition_list_t *done;  /* per input partition held: every output below
                                               this offset acknowledged (what to commit) */
    rd_kafka_topic_partition_list_t *carry; /* done, whose commit a rebalance refused */
    int commit_failed;    /* an asynchronous commit failed: commit done again */
    int done_clean;       /* a commit the brokers accepted covers all of done: a
                             commit before giving the partitions up can be skipped */
    double recommit_t;
    size_t n_spare;
    lg_buf out;           /* one output value */
    klog clog, plog;
    int debug;            /* librdkafka's own log lines wanted (a debug= property) */
    lg_err fatal;         /* set: run() stops with fatal_msg */
    char fatal_msg[LG_ERRMSG_MAX];
    double lag_t;         /* last lag refresh */
};

/* kafka_clients.c. The worker's delivery and rebalance callbacks come in
 * as arguments (kafka_worker.c calls this file, not the other way). */
typedef void (*kw_delivery_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
typedef void (*kw_rebalance_fn)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t *parts, void *opaque);
lg_err kw_clients_new(lg_kafka_worker *w, kw_delivery_fn on_delivery, kw_rebalance_fn on_rebalance,
                      lg_errmsg *err);
void kw_fail(lg_kafka_worker *w, lg_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void kw_client_error(lg_kafka_worker *w, klog *l, int code, const char *reason);
void kw_client_ok(lg_kafka_worker *w, klog *l);
/* Waits until the brokers answer and the output topics exist; retries with
 * backoff while they do not answer. LG_OK, or an error when a topic does
 * not exist or when stopped. */
lg_err kw_wait_topics(lg_kafka_worker *w, lg_errmsg *err);
/* exactly-once: rd_kafka_init_transactions, retried with backoff. */
lg_err kw_init_transactions(lg_kafka_worker *w, lg_errmsg *err);
void kw_refresh_lag(lg_kafka_worker *w);
/* Sleeps up to seconds, serving the producer, returning early on stop. */
void kw_backoff(lg_kafka_worker *w, double seconds);
int kw_stopping(lg_kafka_worker *w);

/* kafka_team.c */
lg_err kw_team_new(lg_kafka_worker *w, size_t threads, lg_errmsg *err);
lg_err kw_set_init(lg_kafka_worker *w, kset *s);
void kw_set_free(lg_kafka_worker *w, kset *s);
/* Starts classifying s->pend[0..s->n-1] on the helper threads (the worker's
 * thread joins in with kw_team_finish): each message parsed, classified by
 * the pipeline of the moment (o.live's current set, or o.pipeline) and its
 * output formatted (msgs, recs, rec_of and the out_* arrays filled). */
lg_err kw_team_start(lg_kafka_worker *w, kset *s, lg_errmsg *err);
/* Takes pieces of s until none is left, then waits for the helpers.
 * Errors: the pipeline's, or out of memory. */
lg_err kw_team_finish(lg_kafka_worker *w, kset *s, lg_errmsg *err);
/* Both: the whole batch classified when it returns. */
lg_err kw_team_classify(lg_kafka_worker *w, kset *s, lg_errmsg *err);
/* With --explain and template ids: the output of s's message i lacks its
 * closing brace, the worker's thread adds the template id (the miner sees
 * the messages in input order, on one thread). */
int kw_needs_tid(const lg_kafka_worker *w, const kset *s, size_t i);
void kw_team_free(lg_kafka_worker *w);

#endif
