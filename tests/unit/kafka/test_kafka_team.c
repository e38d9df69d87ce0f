/* test_kafka_team.c - the Kafka worker's classifying threads (kafka_team.c)
 * without a broker: batches of made-up messages cut into slices over 4
 * threads, each output where the worker's thread will look for it, with the
 * label the rules give, whatever the batch size. In the TSan round (no
 * librdkafka thread runs here: Debian's librdkafka starts its threads with
 * thrd_create, which TSan does not intercept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/kafka_int.h"
#include "logify/config.h"

static const char *RULES = "rules:\n"
                           "  - {id: login, label: User Action, pattern: 'logged in'}\n"
                           "  - {id: backup, label: System Notification, pattern: 'backup'}\n";

#define BATCH 3000

static void test_slices_over_threads(void **state) {
    (void)state;
    lg_errmsg err;
    lg_resources res;
    memset(&res, 0, sizeof res);
    assert_int_equal(lg_rules_parse(RULES, strlen(RULES), "t", NULL, &res.rules, &err), LG_OK);
    snprintf(res.model_missing, sizeof res.model_missing, "stage model not available");
    snprintf(res.llm_missing, sizeof res.llm_missing, "llm not configured");
    res.threshold = 0.5;
    lg_route_table t;
    lg_pipeline *pl;
    assert_int_equal(lg_routes_default(&t, NULL), LG_OK);
    assert_int_equal(lg_pipeline_new(&t, &res, &pl, &err), LG_OK);
    lg_routes_free(&t);

    lg_kafka_worker *w = calloc(1, sizeof *w);
    w->o.pipeline = pl;
    w->o.batch_max = BATCH;
    w->mo = (kmsg_opts){"source", "log_message", NULL, 1 << 20};
    w->out_cap = 1 << 20;
    km_init(&w->m);
    w->pend = calloc(BATCH, sizeof *w->pend);
    w->recs = calloc(BATCH, sizeof *w->recs);
    w->msgs = calloc(BATCH, sizeof *w->msgs);
    w->rec_of = calloc(BATCH, sizeof *w->rec_of);
    w->out_slice = calloc(BATCH, sizeof *w->out_slice);
    w->out_off = calloc(BATCH, sizeof *w->out_off);
    w->out_len = calloc(BATCH, sizeof *w->out_len);
    assert_int_equal(kw_team_new(w, 4, &err), LG_OK);
    assert_int_equal(w->n_slices, 4);

    rd_kafka_message_t *msgs = calloc(BATCH, sizeof *msgs);
    char(*vals)[96] = calloc(BATCH, sizeof *vals);
    static const size_t sizes[] = {1, 63, 200, BATCH, 257, BATCH};
    for (size_t round = 0; round < sizeof sizes / sizeof *sizes; round++) {
        size_t n = sizes[round];
        for (size_t i = 0; i < n; i++) {
            int kind = (int)((i + round) % 3);
            snprintf(vals[i], sizeof vals[i],
                     kind == 0   ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"User U%zu logged in\"}"
                     : kind == 1 ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"nightly backup %zu done\"}"
                                 : "{\"id\":%zu,\"source\":\"S\",\"msg\":\"no message field %zu\"}",
                     i, i);
            msgs[i].payload = vals[i];
            msgs[i].len = strlen(vals[i]);
            w->pend[i] = &msgs[i];
        }
        assert_int_equal(kw_team_classify(w, n, &err), LG_OK);
        for (size_t i = 0; i < n; i++) {
            int kind = (int)((i + round) % 3);
            assert_int_not_equal(w->out_len[i], SIZE_MAX);
            const kslice *s = &w->slices[w->out_slice[i]];
            assert_true(i >= s->a && i < s->b);
            char out[512];
            assert_true(w->out_len[i] < sizeof out);
            memcpy(out, s->out.data + w->out_off[i], w->out_len[i]);
            out[w->out_len[i]] = 0;
            char id[32];
            snprintf(id, sizeof id, "{\"id\":%zu,", i);
            assert_true(!strncmp(out, id, strlen(id)));
            const char *want = kind == 0   ? "\"target_label\":\"User Action\"}"
                               : kind == 1 ? "\"target_label\":\"System Notification\"}"
                                           : "\"target_label\":\"Unclassified\",\"error\":\"missing field 'log_message'\"}";
            if (!strstr(out, want)) fail_msg("round %zu, message %zu: %s", round, i, out);
        }
        for (size_t i = 0; i < n; i++) kmsg_clear(&w->msgs[i]);
    }
    assert_int_equal(KM_LOAD(&w->m.bad), 2174); /* the kind-2 messages of all rounds */

    kw_team_free(w);
    km_destroy(&w->m);
    free(w->pend);
    free(w->recs);
    free(w->msgs);
    free(w->rec_of);
    free(w->out_slice);
    free(w->out_off);
    free(w->out_len);
    free(w);
    free(msgs);
    free(vals);
    lg_pipeline_free(pl);
    lg_resources_free(&res);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_slices_over_threads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
