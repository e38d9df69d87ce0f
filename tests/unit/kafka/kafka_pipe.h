/* kafka_pipe.h - for the Kafka worker's unit tests: a pipeline of the given
 * rules alone (default routes; the model and LLM stages missing, with their
 * reasons), as a worker gets it; and a worker run on a thread of its own,
 * as `logify kafka` runs it. Include once per test file (the helpers are
 * static, marked unused: a test may take the runner alone). */
#ifndef LOGIFY_TEST_KAFKA_PIPE_H
#define LOGIFY_TEST_KAFKA_PIPE_H

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "logify/config.h"
#include "logify/kafka.h"
#include "logify/pipeline.h"
#include "logify/rules.h"

typedef struct {
    lg_resources res;
    lg_pipeline *pl;
} pipe_t;

/* rules: a rules file's text; threshold: the model stage's (0: none set) */
__attribute__((unused)) static void pipe_new(pipe_t *p, const char *rules, double threshold) {
    lg_errmsg err;
    memset(p, 0, sizeof *p);
    assert_int_equal(lg_rules_parse(rules, strlen(rules), "t", NULL, &p->res.rules, &err), LG_OK);
    snprintf(p->res.model_missing, sizeof p->res.model_missing, "stage model not available");
    snprintf(p->res.llm_missing, sizeof p->res.llm_missing, "llm not configured");
    p->res.threshold = threshold;
    lg_route_table t;
    assert_int_equal(lg_routes_default(&t, NULL), LG_OK);
    assert_int_equal(lg_pipeline_new(&t, &p->res, &p->pl, &err), LG_OK);
    lg_routes_free(&t);
}

__attribute__((unused)) static void pipe_free(pipe_t *p) {
    lg_pipeline_free(p->pl);
    lg_resources_free(&p->res);
}

/* A worker on a thread of its own: its result once lg_kafka_worker_run
 * returned, done (atomic) set then. */
typedef struct {
    lg_kafka_worker *w;
    lg_err rc;
    lg_errmsg err;
    pthread_t th;
    int done;
} runner;

__attribute__((unused)) static void *runner_main(void *arg) {
    runner *r = arg;
    r->rc = lg_kafka_worker_run(r->w, &r->err);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Makes the worker of o (the test fails when it is refused) and runs it. */
__attribute__((unused)) static void runner_start(runner *r, const lg_kafka_opts *o) {
    memset(r, 0, sizeof *r);
    lg_errmsg err;
    if (lg_kafka_worker_new(o, &r->w, &err)) fail_msg("worker_new: %s", err.msg);
    assert_int_equal(pthread_create(&r->th, NULL, runner_main, r), 0);
}

/* Stops it (as SIGTERM does) and waits for it; the worker is left for the
 * caller's checks (lg_kafka_worker_free). */
__attribute__((unused)) static void runner_stop(runner *r) {
    lg_kafka_worker_stop(r->w);
    pthread_join(r->th, NULL);
}

#endif
