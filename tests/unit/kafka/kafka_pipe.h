/* kafka_pipe.h - for the Kafka worker's unit tests: a pipeline of the given
 * rules alone (default routes; the model and LLM stages missing, with their
 * reasons), as a worker gets it. Include once per test file (the helpers
 * are static). */
#ifndef LOGIFY_TEST_KAFKA_PIPE_H
#define LOGIFY_TEST_KAFKA_PIPE_H

#include <stdio.h>
#include <string.h>

#include "logify/config.h"
#include "logify/pipeline.h"
#include "logify/rules.h"

typedef struct {
    lg_resources res;
    lg_pipeline *pl;
} pipe_t;

/* rules: a rules file's text; threshold: the model stage's (0: none set) */
static void pipe_new(pipe_t *p, const char *rules, double threshold) {
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

static void pipe_free(pipe_t *p) {
    lg_pipeline_free(p->pl);
    lg_resources_free(&p->res);
}

#endif
