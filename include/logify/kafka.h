/* kafka.h - `logify kafka`: a consumer-group worker on librdkafka that reads
 * log records from an input topic, runs them through the pipeline (the same
 * cascade as `logify classify`) and writes each one, labelled, to an output
 * topic.
 *
 * Delivery (docs/kafka.md):
 *  - at-least-once (default): auto-commit is off; an input offset is
 *    committed only once the output for it (and every earlier one of its
 *    partition) is acknowledged by the brokers;
 *  - exactly-once: consume-transform-produce in Kafka transactions, the
 *    consumer's offsets sent inside each transaction, so a read_committed
 *    reader sees each input once across crashes and rebalances.
 * Output order per input partition equals input order: all outputs of one
 * input partition go to one output partition (input partition modulo the
 * output's partition count), produced in order by an idempotent producer.
 * Bad messages (invalid JSON or UTF-8, a missing field, a value over the
 * size cap) become `Unclassified` outputs with the reason, or go to the
 * dead-letter topic with the reason in a header; they never stop the
 * worker. */
#ifndef LOGIFY_KAFKA_H
#define LOGIFY_KAFKA_H

#include "logify/common.h"
#include "logify/config.h"
#include "logify/live.h"
#include "logify/pipeline.h"
#include "logify/templates.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_KAFKA_MAX_PROPS 64

/* The strings are borrowed: they must outlive the worker. */
typedef struct {
    const char *brokers;     /* bootstrap list HOST:PORT[,...] */
    const char *group;       /* consumer group id */
    const char *input;       /* input topic */
    const char *output;      /* output topic */
    const char *dead_letter; /* NULL: bad messages go to output as Unclassified */
    const char *source;      /* non-NULL: values are plain text of this source */
    const char *source_field;  /* NULL: "source" */
    const char *message_field; /* NULL: "log_message" */
    int explain;             /* add stage, confidence, detail (and template_id) */
    int exactly_once;        /* transactions */
    const char *transactional_id; /* NULL: logify-<group>-<host>-<pid> */
    size_t batch_max;        /* messages per pipeline batch; 0: 1024 */
    int threads;             /* classifying threads; 0: the online cores, at most 16 */
    size_t max_value;        /* bigger values are bad messages; 0: 512 KiB */
    double grace_seconds;    /* on stop: wait this long for acks; 0: 30 */
    /* extra librdkafka properties, "key=value", for both clients */
    const char *props[LG_KAFKA_MAX_PROPS];
    size_t n_props;
    const lg_pipeline *pipeline; /* borrowed; must outlive the worker (or NULL with live) */
    lg_live *live;               /* or: live reload; each batch is classified by the set
                                    current when it starts (borrowed) */
    lg_tpl_miner *templates;     /* optional: template_id with explain (borrowed; used by
                                    the thread that runs the worker only) */
} lg_kafka_opts;

/* Reads the config file's `kafka:` section (docs/kafka.md) into o (the
 * settings it names; the others untouched) and *metrics_port. Strings are
 * borrowed from cfg, except a list of brokers and the properties, made in
 * mem[0] and mem[1] (free both, also after an error). LG_EINVAL names the
 * file, line and setting. */
lg_err lg_kafka_opts_from_config(const lg_config *cfg, lg_kafka_opts *o, int *metrics_port, char *mem[2],
                                 lg_errmsg *err);

typedef struct lg_kafka_worker lg_kafka_worker;

/* Creates the clients (nothing connects yet). Errors: a bad option or
 * librdkafka property (LG_EINVAL, naming it). */
lg_err lg_kafka_worker_new(const lg_kafka_opts *opts, lg_kafka_worker **out, lg_errmsg *err);

/* Runs until lg_kafka_worker_stop: joins the group, then consumes,
 * classifies and produces. Brokers that cannot be reached are retried with
 * backoff (logged), never an error. Returns LG_OK after a clean stop
 * (in-flight outputs acknowledged and their offsets committed, the group
 * left); an error when the worker cannot go on (fenced by a newer instance,
 * an output the brokers refused for good, a stop whose outputs were not
 * acknowledged within the grace period): offsets not committed are
 * redelivered to the next member, so nothing is lost. */
lg_err lg_kafka_worker_run(lg_kafka_worker *w, lg_errmsg *err);

/* Asks run() to stop: no more fetching, finish and commit what is in
 * flight, leave the group. Async-signal-safe (sets a flag). */
void lg_kafka_worker_stop(lg_kafka_worker *w);

void lg_kafka_worker_free(lg_kafka_worker *w);

/* Prometheus text (format 0.0.4) of the worker's counters: consumed,
 * produced, bad and dead-lettered messages, rows per label and stage,
 * errors, consumer lag per partition, batch latency. Safe from any
 * thread while run() goes on. */
lg_err lg_kafka_metrics_format(lg_kafka_worker *w, lg_buf *out);

/* Serves lg_kafka_metrics_format at GET /metrics on 127.0.0.1:port (or
 * on every address with bind_all), on a thread of its own. port 0 picks a
 * free port; *bound_port (may be NULL) says which. */
typedef struct lg_kafka_metrics_server lg_kafka_metrics_server;
lg_err lg_kafka_metrics_serve(lg_kafka_worker *w, int port, int bind_all,
                              lg_kafka_metrics_server **out, int *bound_port, lg_errmsg *err);
void lg_kafka_metrics_server_free(lg_kafka_metrics_server *s);

#ifdef __cplusplus
}
#endif
#endif
