/* test_kafka_team.c - the Kafka worker's classifying threads (kafka_team.c)
 * without a broker: batches of made-up messages cut into pieces over 4
 * threads (two batches alternating, as the worker does), each output where the worker's thread will look for it, with the
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
    assert_int_equal(kw_team_new(w, 4, &err), LG_OK);
    assert_int_equal(w->n_slices, 4);
    kset sets[2];
    assert_int_equal(kw_set_init(w, &sets[0]), LG_OK);
    assert_int_equal(kw_set_init(w, &sets[1]), LG_OK);

    rd_kafka_message_t *msgs = calloc(BATCH, sizeof *msgs);
    char(*vals)[96] = calloc(BATCH, sizeof *vals);
    static const size_t sizes[] = {1, 63, 200, BATCH, 257, BATCH};
    for (size_t round = 0; round < sizeof sizes / sizeof *sizes; round++) {
        size_t n = sizes[round];
        kset *set = &sets[round % 2]; /* the worker alternates two */
        for (size_t i = 0; i < n; i++) {
            int kind = (int)((i + round) % 3);
            snprintf(vals[i], sizeof vals[i],
                     kind == 0   ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"User U%zu logged in\"}"
                     : kind == 1 ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"nightly backup %zu done\"}"
                                 : "{\"id\":%zu,\"source\":\"S\",\"msg\":\"no message field %zu\"}",
                     i, i);
            msgs[i].payload = vals[i];
            msgs[i].len = strlen(vals[i]);
            set->pend[i] = &msgs[i];
        }
        set->n = n;
        assert_int_equal(kw_team_classify(w, set, &err), LG_OK);
        for (size_t i = 0; i < n; i++) {
            int kind = (int)((i + round) % 3);
            assert_int_not_equal(set->out_len[i], SIZE_MAX);
            assert_true(set->out_slice[i] < w->n_slices);
            char out[512];
            assert_true(set->out_len[i] < sizeof out);
            memcpy(out, set->outs[set->out_slice[i]].data + set->out_off[i], set->out_len[i]);
            out[set->out_len[i]] = 0;
            char id[32];
            snprintf(id, sizeof id, "{\"id\":%zu,", i);
            assert_true(!strncmp(out, id, strlen(id)));
            const char *want = kind == 0   ? "\"target_label\":\"User Action\"}"
                               : kind == 1 ? "\"target_label\":\"System Notification\"}"
                                           : "\"target_label\":\"Unclassified\",\"error\":\"missing field 'log_message'\"}";
            if (!strstr(out, want)) fail_msg("round %zu, message %zu: %s", round, i, out);
        }
        for (size_t i = 0; i < n; i++) kmsg_clear(&set->msgs[i]);
        set->n = 0;
    }
    assert_int_equal(KM_LOAD(&w->m.bad), 2174); /* the kind-2 messages of all rounds */

    kw_set_free(w, &sets[0]);
    kw_set_free(w, &sets[1]);
    kw_team_free(w);
    km_destroy(&w->m);
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
