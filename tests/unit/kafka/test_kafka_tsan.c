/* test_kafka_tsan.c - the whole Kafka worker (lg_kafka_worker_run: polling,
 * the classifying threads, producing, delivery reports, commits, a
 * rebalance, live reloads, the stop) on librdkafka's in-process mock
 * cluster, written to run under ThreadSanitizer (Makefile TSAN_TESTS).
 *
 * librdkafka's C11 threads and locks go through kafka_c11_shim.h (pthreads,
 * which TSan intercepts); the test checks that the shim was used
 * (thrd_create called), so it cannot pass with librdkafka's threads
 * unseen. It runs in the normal rounds too. */
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
#include "logify/live.h"
#include "kafka/kafka_c11_shim.h"
#include "kafka/kafka_pipe.h"

/* ---- The mock cluster -------------------------------------------------------------- */

#define PARTS 4

static const char *RULES_A = "rules:\n"
                             "  - {id: login, label: User Action, pattern: 'logged in'}\n"
                             "  - {id: backup, label: System Notification, pattern: 'backup'}\n";

/* Stops a member (as SIGTERM does), checks it stopped cleanly; the worker
 * is left for the caller's checks (lg_kafka_worker_free). */
static void member_stop(runner *mb) {
    runner_stop(mb);
    if (mb->rc) fail_msg("run: %s", mb->err.msg);
}

static rd_kafka_t *new_client(rd_kafka_type_t type, const char *bootstraps, const char *group) {
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, why, sizeof why) ||
        (group && (rd_kafka_conf_set(c, "group.id", group, why, sizeof why) ||
                   rd_kafka_conf_set(c, "enable.auto.commit", "false", why, sizeof why))))
        fail_msg("conf: %s", why);
    rd_kafka_t *rk = rd_kafka_new(type, c, why, sizeof why);
    if (!rk) fail_msg("rd_kafka_new: %s", why);
    return rk;
}

/* n messages on topic "in", message i on partition i % PARTS: a login, a
 * backup, or one without its message field (bad), in turn. */
static void fill(const char *bs, int n) {
    rd_kafka_t *p = new_client(RD_KAFKA_PRODUCER, bs, NULL);
    for (int i = 0; i < n; i++) {
        char v[128];
        int len = snprintf(v, sizeof v,
                           i % 3 == 0   ? "{\"id\":%d,\"source\":\"S\",\"log_message\":\"User U%d logged in\"}"
                           : i % 3 == 1 ? "{\"id\":%d,\"source\":\"S\",\"log_message\":\"nightly backup %d\"}"
                                        : "{\"id\":%d,\"source\":\"S\",\"msg\":\"no message field %d\"}",
                           i, i);
        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("in"), RD_KAFKA_V_PARTITION(i % PARTS),
                                 RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_HEADER("seq", v, 4), RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 10);
    }
    assert_int_equal(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(p);
}

static void wait_for(const uint64_t *counter, uint64_t want, const char *what) {
    for (int i = 0; i < 1800 && KM_LOAD(counter) < want; i++) usleep(100000);
    if (KM_LOAD(counter) < want)
        fail_msg("%s: %llu of %llu in 180 s", what, (unsigned long long)KM_LOAD(counter), (unsigned long long)want);
}

/* Offsets committed by group on "in" (their sum), and the outputs on "out"
 * read with isolation (read_committed or not): how many, and whether each
 * partition's ids rise. */
static int64_t committed_sum(const char *bs, const char *group) {
    rd_kafka_t *c = new_client(RD_KAFKA_CONSUMER, bs, group);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(PARTS);
    for (int i = 0; i < PARTS; i++) rd_kafka_topic_partition_list_add(l, "in", i);
    assert_int_equal(rd_kafka_committed(c, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    int64_t sum = 0;
    for (int i = 0; i < PARTS; i++)
        if (l->elems[i].offset > 0) sum += l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return sum;
}

static int64_t outputs_on_topic(const char *bs) {
    rd_kafka_t *c = new_client(RD_KAFKA_CONSUMER, bs, "watermarks");
    int64_t sum = 0;
    for (int i = 0; i < PARTS; i++) {
        int64_t lo, hi;
        assert_int_equal(rd_kafka_query_watermark_offsets(c, "out", i, &lo, &hi, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        sum += hi;
    }
    rd_kafka_destroy(c);
    return sum;
}

static const char *write_rules(char *path, const char *rules) {
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, rules, strlen(rules)), (ssize_t)strlen(rules));
    close(fd);
    return path;
}

/* ---- The worker, whole ------------------------------------------------------------ */

/* A live set from the rules above, a one-broker mock cluster with topics
 * "in" (m messages) and "out", and the worker's options for group. */
typedef struct {
    char path[40];
    lg_live *live;
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    const char *bs;
    lg_kafka_opts o;
} fixture;

static void setup(fixture *f, int m, const char *group) {
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/logify-kafka-tsan-XXXXXX");
    static const char *routes[] = {"*=rules"};
    lg_pset_source src = {.rules_path = write_rules(f->path, RULES_A), .routes = routes, .n_routes = 1,
                          .threshold = -1};
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &f->live, &err), LG_OK);
    f->host = new_client(RD_KAFKA_PRODUCER, "", NULL);
    f->mc = rd_kafka_mock_cluster_new(f->host, 1);
    assert_non_null(f->mc);
    f->bs = rd_kafka_mock_cluster_bootstraps(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "in", PARTS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "out", PARTS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
    fill(f->bs, m);
    f->o.brokers = f->bs;
    f->o.group = group;
    f->o.input = "in";
    f->o.output = "out";
    f->o.live = f->live;
    f->o.grace_seconds = 20;
}

static void teardown(fixture *f) {
    /* librdkafka's threads went through the shim: TSan saw them */
    assert_true(__atomic_load_n(&shim_threads, __ATOMIC_RELAXED) > 0);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->host);
    lg_live_free(f->live);
    unlink(f->path);
}

/* At-least-once with three classifying threads and the live set reloaded
 * while the messages flow; a second member joins the group mid-stream (a
 * rebalance: partitions revoked while batches are in flight), then both
 * stop. Every input is produced at least once, and the committed offsets
 * cover exactly what the two produced. */
static void test_worker_whole(void **state) {
    (void)state;
    enum { M = 6000 };
    fixture f;
    setup(&f, M, "g");
    f.o.batch_max = 150; /* many batches: the team and the producer overlap often */
    f.o.threads = 3;
    f.o.props[0] = "consumer.session.timeout.ms=6000";
    f.o.props[1] = "consumer.heartbeat.interval.ms=500";
    f.o.n_props = 2;
    lg_errmsg err;
    runner mb[2];
    runner_start(&mb[0], &f.o);
    wait_for(&mb[0].w->m.produced, M / 6, "outputs of the first member");
    for (int i = 0; i < 3; i++) assert_int_equal(lg_live_reload(f.live, NULL, &err), LG_OK);
    runner_start(&mb[1], &f.o);
    wait_for(&mb[0].w->m.rebalances, 3, "the first member's rebalance (assigned, revoked, assigned)");
    for (int i = 0; i < 3; i++) assert_int_equal(lg_live_reload(f.live, NULL, &err), LG_OK);
    /* until every input is committed (some produced twice: the rebalance) */
    for (int i = 0; i < 180; i++) {
        if (KM_LOAD(&mb[0].w->m.produced) + KM_LOAD(&mb[1].w->m.produced) >= M && committed_sum(f.bs, "g") == M)
            break;
        sleep(1);
    }
    uint64_t produced = 0;
    for (int k = 0; k < 2; k++) {
        member_stop(&mb[k]);
        produced += KM_LOAD(&mb[k].w->m.produced);
        assert_int_equal(KM_LOAD(&mb[k].w->m.delivery_errors), 0);
        lg_kafka_worker_free(mb[k].w);
    }
    assert_int_equal(outputs_on_topic(f.bs), (int64_t)produced);
    assert_int_equal(committed_sum(f.bs, "g"), M);
    assert_true(lg_live_generation(f.live) == 7);
    teardown(&f);
}

/* Exactly-once: one transaction per batch, the offsets sent in it; a stop
 * in the middle commits the last one: everything consumed is produced, no
 * transaction aborted. */
static void test_worker_exactly_once(void **state) {
    (void)state;
    fixture f;
    setup(&f, 3000, "gx");
    f.o.exactly_once = 1;
    f.o.batch_max = 200;
    f.o.threads = 2;
    runner mb;
    runner_start(&mb, &f.o);
    wait_for(&mb.w->m.txn_commits, 3, "transactions committed");
    member_stop(&mb);
    uint64_t produced = KM_LOAD(&mb.w->m.produced), consumed = KM_LOAD(&mb.w->m.consumed);
    assert_int_equal(KM_LOAD(&mb.w->m.txn_aborts), 0);
    lg_kafka_worker_free(mb.w);
    /* (the mock cluster of librdkafka 2.0 accepts TxnOffsetCommit without
     * storing the offsets: the real broker's tests check those) */
    if (produced != consumed || !produced)
        fail_msg("consumed %llu, produced %llu", (unsigned long long)consumed, (unsigned long long)produced);
    teardown(&f);
}

int main(void) {
    lg_log_set_level(LG_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_worker_whole),
                                       cmocka_unit_test(test_worker_exactly_once)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
