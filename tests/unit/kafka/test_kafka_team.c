/* test_kafka_team.c - the Kafka worker's classifying threads (kafka_team.c)
 * without a broker: batches of made-up messages cut into pieces over 4
 * threads (two batches alternating, one classified while the outputs of the
 * other are read, as the worker does), each output where the worker's thread will look for it, with the
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
#include <unistd.h>
#include <cmocka.h>

#include "kafka/kafka_int.h"
#include "kafka/kafka_pipe.h"
#include "logify/config.h"
#include "logify/live.h"

static const char *RULES = "rules:\n"
                           "  - {id: login, label: User Action, pattern: 'logged in'}\n"
                           "  - {id: backup, label: System Notification, pattern: 'backup'}\n";

#define BATCH 3000

/* Every output of batch `round` where the worker's thread will look for
 * it, with the label the rules give. */
static void check_outputs(const lg_kafka_worker *w, const kset *set, size_t round) {
    for (size_t i = 0; i < set->n; i++) {
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
}

/* Six batches of 1 to BATCH messages through w's team, two alternating:
 * batch r is classified while this thread reads the outputs of batch r-1,
 * as the worker does; with live, a reload during each batch. */
static void run_rounds(lg_kafka_worker *w, lg_live *live) {
    lg_errmsg err;
    kset sets[2];
    assert_int_equal(kw_set_init(w, &sets[0]), LG_OK);
    assert_int_equal(kw_set_init(w, &sets[1]), LG_OK);

    /* as the worker does: batch r is classified by the team while this
     * thread reads the outputs of batch r-1 (the other set) */
    rd_kafka_message_t *msgs[2] = {calloc(BATCH, sizeof **msgs), calloc(BATCH, sizeof **msgs)};
    char(*vals[2])[96] = {calloc(BATCH, sizeof *vals[0]), calloc(BATCH, sizeof *vals[1])};
    static const size_t sizes[] = {1, 63, 200, BATCH, 257, BATCH};
    size_t rounds = sizeof sizes / sizeof *sizes;
    for (size_t round = 0; round <= rounds; round++) {
        if (round < rounds) {
            size_t n = sizes[round], k = round % 2;
            kset *set = &sets[k]; /* the worker alternates two */
            for (size_t i = 0; i < n; i++) {
                int kind = (int)((i + round) % 3);
                snprintf(vals[k][i], sizeof vals[k][i],
                         kind == 0   ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"User U%zu logged in\"}"
                         : kind == 1 ? "{\"id\":%zu,\"source\":\"S\",\"log_message\":\"nightly backup %zu done\"}"
                                     : "{\"id\":%zu,\"source\":\"S\",\"msg\":\"no message field %zu\"}",
                         i, i);
                msgs[k][i].payload = vals[k][i];
                msgs[k][i].len = strlen(vals[k][i]);
                set->pend[i] = &msgs[k][i];
            }
            set->n = n;
            assert_int_equal(kw_team_start(w, set, &err), LG_OK);
        }
        if (round > 0) { /* the previous batch's outputs, while the team works */
            kset *prev = &sets[(round - 1) % 2];
            check_outputs(w, prev, round - 1);
            for (size_t i = 0; i < prev->n; i++) kmsg_clear(&prev->msgs[i]);
            prev->n = 0;
        }
        /* with live reload: a new set while the team works (the batch keeps its own) */
        if (live && round < rounds) assert_int_equal(lg_live_reload(live, NULL, &err), LG_OK);
        if (round < rounds) assert_int_equal(kw_team_finish(w, &sets[round % 2], &err), LG_OK);
    }

    kw_set_free(w, &sets[0]);
    kw_set_free(w, &sets[1]);
    assert_int_equal(KM_LOAD(&w->m.bad), 2174); /* the kind-2 messages of all rounds */
    for (int k = 0; k < 2; k++) {
        free(msgs[k]);
        free(vals[k]);
    }
}

static void test_slices_over_threads(void **state) {
    (void)state;
    lg_errmsg err;
    pipe_t pp;
    pipe_new(&pp, RULES, 0.5);
    lg_pipeline *pl = pp.pl;

    lg_kafka_worker *w = calloc(1, sizeof *w);
    w->o.pipeline = pl;
    w->o.batch_max = BATCH;
    w->mo = (kmsg_opts){"source", "log_message", NULL, 1 << 20};
    w->out_cap = 1 << 20;
    km_init(&w->m);
    assert_int_equal(kw_team_new(w, 4, &err), LG_OK);
    assert_int_equal(w->n_slices, 4);
    run_rounds(w, NULL);

    kw_team_free(w);
    km_destroy(&w->m);
    free(w);
    pipe_free(&pp);
}

/* The same with live reload (as `logify kafka` runs): each batch takes the
 * set current when it starts, each thread a worker of that set, and a
 * reload swaps the set while a batch is being classified. */
static void test_live_set_reloaded_mid_batch(void **state) {
    (void)state;
    char path[] = "/tmp/logify-kafka-team-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, RULES, strlen(RULES)), (ssize_t)strlen(RULES));
    close(fd);
    const char *routes[] = {"*=rules"};
    lg_pset_source src = {.rules_path = path, .routes = routes, .n_routes = 1, .threshold = -1};
    lg_errmsg err;
    lg_live *live;
    assert_int_equal(lg_live_new(&src, &live, &err), LG_OK);
    lg_kafka_worker *w = calloc(1, sizeof *w);
    w->o.live = live;
    w->o.batch_max = BATCH;
    w->mo = (kmsg_opts){"source", "log_message", NULL, 1 << 20};
    w->out_cap = 1 << 20;
    km_init(&w->m);
    assert_int_equal(kw_team_new(w, 4, &err), LG_OK);
    run_rounds(w, live);
    assert_int_equal(lg_live_generation(live), 7); /* 6 reloads */
    kw_team_free(w);
    km_destroy(&w->m);
    free(w);
    lg_live_free(live);
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_slices_over_threads),
                                       cmocka_unit_test(test_live_set_reloaded_mid_batch)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
