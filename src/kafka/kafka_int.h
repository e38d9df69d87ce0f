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
    char *copy;           /* the fields, unescaped, NUL-terminated (owned) */
    char reason[LG_DETAIL_MAX]; /* "" for a good message */
} kmsg;

/* Parses value[0..len-1] (value may be NULL when len is 0). Only an
 * allocation failure is an error; every other problem is m->reason. */
lg_err kmsg_parse(const kmsg_opts *o, const char *value, size_t len, kmsg *m);
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

/* The messages of one poll, from classification to commit. */
struct kbatch {
    kbatch *next;   /* the in-flight FIFO, or the graveyard */
    rd_kafka_topic_partition_list_t *next_offsets;  /* per input partition: last offset + 1 */
    rd_kafka_topic_partition_list_t *first_offsets; /* per input partition: first offset */
    kslot *slots;   /* (n_slots) one per output */
    size_t n_slots;
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

/* One classifying thread's share of a batch (kafka_team.c). */
typedef struct {
    lg_kafka_worker *w;
    pthread_t tid;      /* slice 0 is the worker's own thread */
    lg_worker *pw;      /* its pipeline scratch */
    lg_buf out;         /* its messages' outputs, back to back */
    size_t a, b;        /* messages [a, b) of the batch */
    lg_err err;
    lg_errmsg msg;
} kslice;

struct lg_kafka_worker {
    lg_kafka_opts o;      /* strings borrowed */
    kmsg_opts mo;
    rd_kafka_t *consumer, *producer;
    kslice *slices;       /* (n_slices) classifying threads */
    size_t n_slices;
    pthread_mutex_t team_mu;
    pthread_cond_t team_go, team_done;
    uint64_t team_gen;    /* a new batch to classify (under team_mu) */
    size_t team_pending;  /* slices still at it (under team_mu) */
    int team_quit, team_init;
    uint16_t *out_slice;  /* (batch_max) message -> the slice holding its output */
    size_t *out_off, *out_len; /* (batch_max) its place there; out_len SIZE_MAX: none */
    size_t out_cap;       /* the largest output value formatted */
    kmetrics m;
    int stop;             /* atomic: lg_kafka_worker_stop */
    double stop_t;        /* when run() saw it */
    rd_kafka_message_t **pend; /* (batch_max) polled, not yet classified */
    size_t n_pend;
    lg_record *recs;      /* (batch_max) */
    kmsg *msgs;           /* (batch_max) */
    size_t *rec_of;       /* (batch_max) message -> record index, or SIZE_MAX */
    kbatch *head, *tail;  /* in flight, oldest first */
    size_t n_inflight;
    kbatch *grave;        /* given up on, freed once the producer reported every output */
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
/* Parses, classifies and formats pend[0..n-1] (msgs, recs, rec_of and the
 * out_* arrays filled). Errors: the pipeline's, or out of memory. */
lg_err kw_team_classify(lg_kafka_worker *w, size_t n, lg_errmsg *err);
void kw_team_free(lg_kafka_worker *w);

#endif
