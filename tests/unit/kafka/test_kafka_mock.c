/* test_kafka_mock.c - fault injection on librdkafka's in-process mock
 * cluster (rdkafka_mock.h), beside the real-broker tests (tests/e2e/kafka_*):
 * offset commits that fail (not coordinator, timed out, coordinator not
 * available), a group coordinator that moves to another broker in the
 * middle of the stream, then commits refused for an old generation (the
 * member rejoins; the commit made before giving the partitions up is
 * refused too). The worker must go on, produce every output once and, once
 * stopped, have committed every input offset: exactly the end, no less.
 * Runs in about 17 s: 3 s of each case is the mock group's first join (its
 * fixed initial rebalance delay), 5 s the rejoin, bound by the session
 * timeout of 6 s set below (librdkafka's default of 45 s made it 55 s). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kafka/kafka_int.h" /* rdkafka.h first: rdkafka_mock.h needs it */
#include <librdkafka/rdkafka_mock.h>
#include "kafka/kafka_pipe.h"
#include "logify/config.h"

#define N 2000
#define PARTS 4
#define API_OFFSET_COMMIT 8

static const char *RULES = "rules:\n  - {id: login, label: User Action, pattern: 'logged in'}\n";

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstraps, const char *group) {
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, why, sizeof why), RD_KAFKA_CONF_OK);
    if (group) {
        assert_int_equal(rd_kafka_conf_set(c, "group.id", group, why, sizeof why), RD_KAFKA_CONF_OK);
        assert_int_equal(rd_kafka_conf_set(c, "enable.auto.commit", "false", why, sizeof why), RD_KAFKA_CONF_OK);
    }
    rd_kafka_t *rk = rd_kafka_new(type, c, why, sizeof why);
    if (!rk) fail_msg("rd_kafka_new: %s", why);
    return rk;
}

static void wait_for(const uint64_t *counter, uint64_t want, const char *what) {
    for (int i = 0; i < 1200 && KM_LOAD(counter) < want; i++) usleep(100000);
    if (KM_LOAD(counter) < want)
        fail_msg("%s: %llu of %llu in 120 s", what, (unsigned long long)KM_LOAD(counter), (unsigned long long)want);
}

/* Inputs from..to-1 on topic "in", one partition after another. */
static void produce_range(rd_kafka_t *p, int from, int to) {
    for (int i = from; i < to; i++) {
        char v[128];
        int n = snprintf(v, sizeof v, "{\"id\":%d,\"source\":\"S\",\"log_message\":\"User U%d logged in\"}", i, i);
        assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(i % PARTS),
                                           RD_KAFKA_V_VALUE(v, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                           RD_KAFKA_V_END),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void test_commit_errors_and_coordinator_move(void **state) {
    (void)state;
    pipe_t pp;
    pipe_new(&pp, RULES, 0);
    lg_pipeline *pl = pp.pl;

    rd_kafka_t *host = client(RD_KAFKA_PRODUCER, "", NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 3);
    assert_non_null(mc);
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "in", PARTS, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "out", PARTS, 3), RD_KAFKA_RESP_ERR_NO_ERROR);

    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bs, NULL);
    produce_range(p, 0, N);

    /* the first commits fail in three ways librdkafka retries itself; later
     * (below) two are refused for an old generation */
    rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 4, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                      RD_KAFKA_RESP_ERR_NOT_COORDINATOR);
    lg_kafka_opts o;
    memset(&o, 0, sizeof o);
    o.brokers = bs;
    o.group = "g";
    o.input = "in";
    o.output = "out";
    o.pipeline = pl;
    o.batch_max = 100; /* many batches, many commits */
    o.threads = 2;
    o.grace_seconds = 20;
    /* the rejoin after the refused commits completes when the member's
     * old membership expires on the mock coordinator: librdkafka's
     * default session of 45 s was 44 s of this test's 55 */
    o.props[0] = "consumer.session.timeout.ms=6000";
    o.props[1] = "consumer.heartbeat.interval.ms=500";
    o.n_props = 2;
    runner r;
    runner_start(&r, &o);
    wait_for(&r.w->m.produced, N / 2, "outputs before the coordinator moves");
    assert_int_equal(rd_kafka_mock_coordinator_set(mc, "group", "g", 3), RD_KAFKA_RESP_ERR_NO_ERROR);
    wait_for(&r.w->m.produced, N, "outputs");
    wait_for(&r.w->m.commits, 1, "commits that succeeded (a failed one is made again)");
    /* Then two commits are refused for an old generation: the member
     * rejoins, and the commit made before giving the partitions up is
     * refused too; the partitions come back and the worker must commit what
     * it had done, and start there (no input done twice). Each commit
     * request uses up one injected error, and how many requests the inputs
     * make depends on the machine's speed (a worker that finds many batches
     * acknowledged at once commits them together): queued with the first
     * errors, on a loaded machine the N inputs could all be committed
     * before the refusals were reached, and the test waited for a refusal
     * that never came. So more input comes, a wave at a time, each waited
     * for until a commit was answered, until a commit is refused: whatever
     * the speed, at most a few waves. */
    uint64_t refused = KM_LOAD(&r.w->m.commit_errors);
    rd_kafka_mock_push_request_errors(mc, API_OFFSET_COMMIT, 2, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
                                      RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
    int total = N;
    for (int wave = 0; KM_LOAD(&r.w->m.commit_errors) <= refused; wave++) {
        if (wave == 8) fail_msg("no commit refused after %d waves of input", wave);
        uint64_t answered = KM_LOAD(&r.w->m.commits) + KM_LOAD(&r.w->m.commit_errors);
        produce_range(p, total, total + 4 * PARTS);
        total += 4 * PARTS;
        wait_for(&r.w->m.produced, (uint64_t)total, "outputs of a wave of input");
        for (int i = 0; i < 1200 && KM_LOAD(&r.w->m.commits) + KM_LOAD(&r.w->m.commit_errors) <= answered; i++)
            usleep(100000);
    }
    wait_for(&r.w->m.rebalances, 3, "the rejoin after the refused commits (assigned, revoked, assigned)");
    /* the partitions are back: a last wave, waited for until it is out. A
     * partition is consumed in order, so every input before it is done by
     * then: one done twice (not started where it was done) counts twice
     * below, whenever the stop comes */
    produce_range(p, total, total + 4 * PARTS);
    total += 4 * PARTS;
    rd_kafka_destroy(p);
    wait_for(&r.w->m.produced, (uint64_t)total, "outputs of the wave after the rejoin");
    runner_stop(&r);
    if (r.rc) fail_msg("run: %s", r.err.msg);
    /* librdkafka retries the first commit errors itself (the worker's
     * commit callback may never see them): what counts is what got
     * committed */
    assert_int_equal(KM_LOAD(&r.w->m.produced), total);
    lg_kafka_worker_free(r.w);

    /* every input offset committed for the group */
    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bs, "g");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int i = 0; i < PARTS; i++) rd_kafka_topic_partition_list_add(l, "in", i);
    assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    for (int i = 0; i < PARTS; i++) {
        if (l->elems[i].err && l->elems[i].err != RD_KAFKA_RESP_ERR__NO_OFFSET) fail_msg("partition %d: %s", i, rd_kafka_err2str(l->elems[i].err));
        /* exactly the end: a commit refused in the rejoin after the
         * coordinator moved is made again once the partitions are back */
        if (l->elems[i].offset != total / PARTS)
            fail_msg("partition %d: committed offset %lld, want %d", i, (long long)l->elems[i].offset, total / PARTS);
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    pipe_free(&pp);
}

/* A stop in the middle of a backlog: the batch being classified and the one
 * waiting to be produced are both finished, produced once and committed:
 * the outputs on the topic, the counters and the committed offsets agree. */
static void test_stop_mid_stream(void **state) {
    (void)state;
    pipe_t pp;
    pipe_new(&pp, RULES, 0);
    lg_pipeline *pl = pp.pl;
    rd_kafka_t *host = client(RD_KAFKA_PRODUCER, "", NULL);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, 1);
    assert_non_null(mc);
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "in", PARTS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "out", PARTS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    enum { M = 8000 };
    rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bs, NULL);
    for (int i = 0; i < M; i++) {
        char v[128];
        int n = snprintf(v, sizeof v, "{\"id\":%d,\"source\":\"S\",\"log_message\":\"User U%d logged in\"}", i, i);
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(i % PARTS),
                                 RD_KAFKA_V_VALUE(v, (size_t)n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);

    lg_kafka_opts o;
    memset(&o, 0, sizeof o);
    o.brokers = bs;
    o.group = "g2";
    o.input = "in";
    o.output = "out";
    o.pipeline = pl;
    o.batch_max = 200;
    o.threads = 2;
    runner r;
    runner_start(&r, &o);
    wait_for(&r.w->m.produced, M / 10, "outputs before the stop");
    runner_stop(&r);
    if (r.rc) fail_msg("run: %s", r.err.msg);
    uint64_t consumed = KM_LOAD(&r.w->m.consumed), produced = KM_LOAD(&r.w->m.produced);
    lg_kafka_worker_free(r.w);
    if (produced != consumed)
        fail_msg("consumed %llu, produced %llu of %d", (unsigned long long)consumed, (unsigned long long)produced, M);

    rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bs, "g2");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int i = 0; i < PARTS; i++) rd_kafka_topic_partition_list_add(l, "in", i);
    assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t committed = 0, outputs = 0;
    for (int i = 0; i < PARTS; i++) {
        int64_t lo, hi;
        if (l->elems[i].offset > 0) committed += l->elems[i].offset;
        assert_int_equal(rd_kafka_query_watermark_offsets(c, "out", i, &lo, &hi, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        outputs += hi;
    }
    if (committed != (int64_t)produced || outputs != (int64_t)produced)
        fail_msg("produced %llu, %lld outputs on the topic, %lld input offsets committed",
                 (unsigned long long)produced, (long long)outputs, (long long)committed);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    pipe_free(&pp);
}

int main(void) {
    lg_log_set_level(LG_LOG_ERROR); /* the injected errors are logged as warnings */
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_commit_errors_and_coordinator_move),
                                       cmocka_unit_test(test_stop_mid_stream)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
