/* test_job.c - the pipeline (routing, unavailable stages, order) and the
 * job (CSV in -> CSV/JSONL out, header by name, bad rows, threads). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/job.h"
#include "logify/pipeline.h"

static const char *RULES = "rules:\n"
                           "  - {id: login, label: User Action, pattern: 'logged in'}\n"
                           "  - {id: backup, label: System Notification, pattern: 'backup'}\n";

typedef struct {
    lg_resources res;
    lg_pipeline *pl;
} fixture;

static fixture *fixture_new(const char *routes_flags[], size_t n_flags) {
    fixture *f = calloc(1, sizeof *f);
    lg_errmsg err;
    assert_int_equal(lg_rules_parse(RULES, strlen(RULES), "t", NULL, &f->res.rules, &err), LG_OK);
    snprintf(f->res.model_missing, sizeof f->res.model_missing, "stage model not available");
    snprintf(f->res.llm_missing, sizeof f->res.llm_missing, "llm not configured");
    f->res.threshold = 0.5;
    lg_route_table t;
    assert_int_equal(lg_routes_default(&t, NULL), LG_OK);
    for (size_t i = 0; i < n_flags; i++) assert_int_equal(lg_routes_apply_flag(&t, routes_flags[i], &err), LG_OK);
    assert_int_equal(lg_pipeline_new(&t, &f->res, &f->pl, &err), LG_OK);
    lg_routes_free(&t);
    return f;
}

static void fixture_free(fixture *f) {
    lg_pipeline_free(f->pl);
    lg_resources_free(&f->res);
    free(f);
}

static lg_err sink_buf(void *user, const char *data, size_t len, lg_errmsg *err) {
    (void)err;
    return lg_buf_append(user, data, len);
}

typedef struct {
    lg_buf log;
} skips;

static void on_skip(void *user, uint64_t line, const char *msg) {
    lg_buf_printf(&((skips *)user)->log, "%llu:%s\n", (unsigned long long)line, msg);
}

/* Runs a job over input (fed in pieces of `step`), returns output. */
static lg_err run(fixture *f, const char *input, size_t step, lg_job_opts o, lg_buf *out,
                  lg_errmsg *err, skips *sk) {
    lg_buf_init(out, 1 << 26);
    o.pipeline = f->pl;
    o.sink = sink_buf;
    o.sink_user = out;
    if (sk) {
        o.on_skip = on_skip;
        o.skip_user = sk;
    }
    lg_job *j;
    lg_err e = lg_job_new(&o, &j, err);
    assert_int_equal(e, LG_OK);
    size_t len = strlen(input);
    if (!step) step = len ? len : 1;
    for (size_t off = 0; off < len && !e; off += step)
        e = lg_job_feed(j, input + off, len - off < step ? len - off : step, err);
    if (!e) e = lg_job_finish(j, err);
    lg_job_free(j);
    return e;
}

static void test_default_routes_and_explain(void **state) {
    (void)state;
    fixture *f = fixture_new(NULL, 0);
    const char *in = "timestamp,source,log_message\n"
                     "t1,BillingSystem,User 1 logged in\n"
                     "t2,LegacyCRM,backup failed\n"
                     "t3,ModernHR,\"disk, full\"\n";
    lg_job_opts o = {0};
    o.explain = 1;
    lg_buf out;
    lg_errmsg err;
    assert_int_equal(run(f, in, 0, o, &out, &err, NULL), LG_OK);
    assert_string_equal(lg_buf_cstr(&out),
                        "timestamp,source,log_message,target_label,stage,confidence,detail\n"
                        "t1,BillingSystem,User 1 logged in,User Action,rules,1.0000,rule login\n"
                        "t2,LegacyCRM,backup failed,Unclassified,none,,llm not configured\n"
                        "t3,ModernHR,\"disk, full\",Unclassified,none,,stage model not available\n");
    lg_buf_free(&out);
    fixture_free(f);
}

static void test_target_label_overwritten_in_place(void **state) {
    (void)state;
    const char *flags[] = {"*=rules"};
    fixture *f = fixture_new(flags, 1);
    const char *in = "target_label,log_message,source\nold,backup ok,S\nold,nothing,S\n";
    lg_job_opts o = {0};
    lg_buf out;
    assert_int_equal(run(f, in, 0, o, &out, NULL, NULL), LG_OK);
    assert_string_equal(lg_buf_cstr(&out), "target_label,log_message,source\n"
                                           "System Notification,backup ok,S\n"
                                           "Unclassified,nothing,S\n");
    lg_buf_free(&out);
    fixture_free(f);
}

static void test_jsonl(void **state) {
    (void)state;
    const char *flags[] = {"*=rules"};
    fixture *f = fixture_new(flags, 1);
    const char *in = "source,log_message\nS,\"backup \"\"quoted\"\"\"\nS,\xff\n";
    lg_job_opts o = {0};
    o.format = LG_OUT_JSONL;
    o.explain = 1;
    lg_buf out;
    assert_int_equal(run(f, in, 0, o, &out, NULL, NULL), LG_OK);
    assert_string_equal(lg_buf_cstr(&out),
                        "{\"source\":\"S\",\"log_message\":\"backup \\\"quoted\\\"\",\"target_label\":"
                        "\"System Notification\",\"stage\":\"rules\",\"confidence\":1.0000,\"detail\":\"rule backup\"}\n"
                        "{\"source\":\"S\",\"log_message\":\"\\ufffd\",\"target_label\":\"Unclassified\","
                        "\"stage\":\"none\",\"confidence\":null,\"detail\":\"no rule matched\"}\n");
    lg_buf_free(&out);
    fixture_free(f);
}

static void test_missing_column(void **state) {
    (void)state;
    fixture *f = fixture_new(NULL, 0);
    lg_job_opts o = {0};
    lg_buf out;
    lg_errmsg err;
    assert_int_equal(run(f, "source,message\nS,x\n", 0, o, &out, &err, NULL), LG_ENOTFOUND);
    assert_string_equal(err.msg, "line 1: missing required column 'log_message' (the header has: 'source', 'message')");
    assert_int_equal(out.len, 0); /* nothing written */
    lg_buf_free(&out);
    assert_int_equal(run(f, "", 0, o, &out, &err, NULL), LG_EPARSE);
    assert_string_equal(err.msg, "empty input: no header row");
    lg_buf_free(&out);
    fixture_free(f);
}

static void test_bad_rows_fail_or_skip(void **state) {
    (void)state;
    const char *flags[] = {"*=rules"};
    fixture *f = fixture_new(flags, 1);
    const char *in = "source,log_message\nS,backup\nS,x,extra\nS,a\"b\nS,logged in\n";
    lg_job_opts o = {0};
    lg_buf out;
    lg_errmsg err;
    assert_int_equal(run(f, in, 0, o, &out, &err, NULL), LG_EPARSE);
    assert_string_equal(err.msg, "line 3: expected 2 fields as in the header, found 3");
    lg_buf_free(&out);
    o.skip_bad = 1;
    skips sk;
    lg_buf_init(&sk.log, 4096);
    assert_int_equal(run(f, in, 0, o, &out, &err, &sk), LG_OK);
    assert_string_equal(lg_buf_cstr(&out), "source,log_message,target_label\n"
                                           "S,backup,System Notification\n"
                                           "S,logged in,User Action\n");
    assert_non_null(strstr(lg_buf_cstr(&sk.log), "3:expected 2 fields"));
    assert_non_null(strstr(lg_buf_cstr(&sk.log), "4:malformed quoting"));
    lg_buf_free(&sk.log);
    lg_buf_free(&out);
    fixture_free(f);
}

static void test_max_rows(void **state) {
    (void)state;
    fixture *f = fixture_new(NULL, 0);
    lg_job_opts o = {0};
    o.max_rows = 2;
    lg_buf out;
    lg_errmsg err;
    assert_int_equal(run(f, "source,log_message\nS,a\nS,b\nS,c\n", 0, o, &out, &err, NULL), LG_ELIMIT);
    assert_string_equal(err.msg, "line 4: more than 2 rows");
    lg_buf_free(&out);
    fixture_free(f);
}

/* A failure in the sink with several workers: the first error comes back,
 * nothing after it is written, and a job freed without lg_job_finish (its
 * workers busy) stops cleanly. */
typedef struct {
    lg_buf out;
    int calls, fail_at;
} failing_sink;

static lg_err sink_failing(void *user, const char *data, size_t len, lg_errmsg *err) {
    failing_sink *fs = user;
    if (++fs->calls == fs->fail_at) return lg_fail(err, LG_EIO, "disk full (test)");
    return lg_buf_append(&fs->out, data, len);
}

static void test_errors_with_workers(void **state) {
    (void)state;
    const char *flags[] = {"*=rules"};
    fixture *f = fixture_new(flags, 1);
    lg_buf in;
    lg_buf_init(&in, 1 << 22);
    lg_buf_printf(&in, "source,log_message\n");
    for (int i = 0; i < 5000; i++) lg_buf_printf(&in, "A,row %d\n", i);
    for (int threads = 1; threads <= 4; threads++) {
        failing_sink fs = {.fail_at = 4}; /* header, batches 1-2, then the error */
        lg_buf_init(&fs.out, 1 << 22);
        lg_job_opts o = {0};
        o.threads = threads;
        o.batch_rows = 100;
        o.pipeline = f->pl;
        o.sink = sink_failing;
        o.sink_user = &fs;
        lg_job *j;
        lg_errmsg err;
        assert_int_equal(lg_job_new(&o, &j, &err), LG_OK);
        lg_err e = lg_job_feed(j, in.data, in.len, &err);
        if (!e) e = lg_job_finish(j, &err);
        assert_int_equal(e, LG_EIO);
        assert_string_equal(err.msg, "disk full (test)");
        /* the header and the first two batches, whole and in order, nothing else */
        const char *p = lg_buf_cstr(&fs.out);
        assert_int_equal(strncmp(p, "source,log_message,target_label\n", 32), 0);
        int lines = 0;
        for (const char *q = p; *q; q++) lines += *q == '\n';
        assert_int_equal(lines, 201);
        assert_non_null(strstr(p, "A,row 199,Unclassified\n"));
        assert_null(strstr(p, "A,row 200,"));
        /* after the error the rest is dropped unclassified: with one
         * worker (threads 2) exactly the three batches up to the failed
         * write went through the stages. lg_job_stop joins the workers
         * first: the counts are final and read without a race (TSan saw
         * this read race a worker still busy with a queued batch) */
        lg_job_stop(j);
        lg_job_stats js;
        lg_job_get_stats(j, &js);
        uint64_t classified = 0;
        for (int k = 0; k < LG_STAGE_KINDS; k++) classified += js.decided[k];
        if (threads == 2 && classified != 300)
            fail_msg("threads 2: %llu rows classified, want 300", (unsigned long long)classified);
        lg_job_free(j);
        lg_buf_free(&fs.out);

        /* freed while its workers may be busy: no finish, no leak, no hang */
        fs = (failing_sink){0};
        lg_buf_init(&fs.out, 1 << 22);
        o.sink_user = &fs;
        assert_int_equal(lg_job_new(&o, &j, &err), LG_OK);
        assert_int_equal(lg_job_feed(j, in.data, in.len / 2, &err), LG_OK);
        lg_job_free(j);
        lg_buf_free(&fs.out);
    }
    lg_buf_free(&in);
    fixture_free(f);
}

/* After a worker's error, the batches already queued are dropped without
 * going through the stages (tests/mutants.txt job-goes-on-after-error).
 * Deterministic: one worker (threads 2), one row per batch; the sink holds
 * the worker inside the write of batch 0 until the caller has queued
 * batch 1, then fails. The worker meets batch 1 only after the error, and
 * lg_job_finish returns only once every queued batch has been written or
 * dropped, so the stage counts read after it are final. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int released; /* the caller has queued every batch */
    int calls;
} gated_sink;

static lg_err sink_gated(void *user, const char *data, size_t len, lg_errmsg *err) {
    gated_sink *g = user;
    (void)data;
    (void)len;
    pthread_mutex_lock(&g->mu);
    int call = ++g->calls;
    while (call == 2 && !g->released) pthread_cond_wait(&g->cv, &g->mu); /* batch 0 */
    pthread_mutex_unlock(&g->mu);
    return call == 2 ? lg_fail(err, LG_EIO, "disk full (test)") : LG_OK;
}

static void test_error_drops_queued_batches(void **state) {
    (void)state;
    const char *flags[] = {"*=rules"};
    fixture *f = fixture_new(flags, 1);
    const char *in = "source,log_message\nA,user x logged in\nA,backup done\n";
    gated_sink g = {.released = 0};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    lg_job_opts o = {0};
    o.threads = 2;
    o.batch_rows = 1;
    o.pipeline = f->pl;
    o.sink = sink_gated;
    o.sink_user = &g;
    lg_job *j;
    lg_errmsg err;
    assert_int_equal(lg_job_new(&o, &j, &err), LG_OK);
    /* two rows, two batches, both queued when lg_job_feed returns (a ring
     * of three slots: the third is free while the worker holds batch 0) */
    lg_err e = lg_job_feed(j, in, strlen(in), &err);
    pthread_mutex_lock(&g.mu);
    g.released = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    if (!e) e = lg_job_finish(j, &err);
    assert_int_equal(e, LG_EIO);
    assert_string_equal(err.msg, "disk full (test)");
    assert_int_equal(g.calls, 2); /* the header, the failed batch 0; nothing after */
    lg_job_stats js;
    lg_job_get_stats(j, &js);
    uint64_t classified = 0;
    for (int k = 0; k < LG_STAGE_KINDS; k++) classified += js.decided[k];
    if (classified != 1)
        fail_msg("%llu rows went through the stages, want 1 (batch 0 only: the batches "
                 "queued before its write failed are dropped)",
                 (unsigned long long)classified);
    assert_int_equal(js.rows, 0);
    lg_job_free(j);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    fixture_free(f);
}

/* Large input, small batches, one to five threads (up to four workers
 * finishing batches out of order), odd feed sizes: same output, rows in
 * input order, one per input row. */
static void test_order_batches_threads(void **state) {
    (void)state;
    const char *flags[] = {"*=rules", "LegacyCRM=rules"};
    fixture *f = fixture_new(flags, 2);
    lg_buf in;
    lg_buf_init(&in, 1 << 24);
    lg_buf_printf(&in, "id,source,log_message\n");
    for (int i = 0; i < 20000; i++)
        lg_buf_printf(&in, "%d,%s,\"%s %d\"\n", i, i % 3 ? "A" : "LegacyCRM",
                      i % 2 ? "backup, run" : "User logged in", i);
    char *reference = NULL;
    for (int threads = 1; threads <= 5; threads++) {
        for (size_t batch = 1; batch <= 4096; batch *= 64) {
            lg_job_opts o = {0};
            o.threads = threads;
            o.batch_rows = batch;
            lg_buf out;
            assert_int_equal(run(f, lg_buf_cstr(&in), 997, o, &out, NULL, NULL), LG_OK);
            if (!reference) {
                reference = lg_strdup(lg_buf_cstr(&out));
                /* check order and count once */
                const char *p = strchr(reference, '\n') + 1;
                for (int i = 0; i < 20000; i++) {
                    assert_int_equal(atoi(p), i);
                    p = strchr(p, '\n') + 1;
                }
                assert_int_equal(*p, '\0');
            } else {
                assert_string_equal(lg_buf_cstr(&out), reference);
            }
            lg_buf_free(&out);
        }
    }
    free(reference);
    lg_buf_free(&in);
    fixture_free(f);
}

/* lg_job_flush: rows taken so far are written without a full batch; a row
 * without its newline waits; order holds across flushes, on both thread
 * setups. */
static void test_flush_partial_batches(void **state) {
    (void)state;
    const char *flags[] = {"*=rules", "LegacyCRM=rules"};
    fixture *f = fixture_new(flags, 2);
    const char *want = "source,log_message,target_label\n"
                       "A,User u1 logged in.,User Action\n"
                       "A,Backup completed successfully.,Unclassified\n"
                       "A,partial row,Unclassified\n"
                       "A,last,Unclassified\n";
    for (int threads = 1; threads <= 3; threads++) {
        lg_job_opts o = {0};
        o.threads = threads;
        o.pipeline = f->pl;
        o.sink = sink_buf;
        lg_buf out;
        lg_buf_init(&out, 1 << 20);
        o.sink_user = &out;
        lg_job *j;
        lg_errmsg err;
        assert_int_equal(lg_job_new(&o, &j, &err), LG_OK);
        assert_int_equal(lg_job_flush(j, &err), LG_OK); /* nothing yet: nothing to do */
        const char *in1 = "source,log_message\nA,User u1 logged in.\nA,Backup completed successfully.\nA,part";
        assert_int_equal(lg_job_feed(j, in1, strlen(in1), &err), LG_OK);
        assert_int_equal(lg_job_flush(j, &err), LG_OK);
        if (threads == 1) /* written at once, without the unfinished row */
            assert_string_equal(lg_buf_cstr(&out), "source,log_message,target_label\n"
                                                   "A,User u1 logged in.,User Action\n"
                                                   "A,Backup completed successfully.,Unclassified\n");
        const char *in2 = "ial row\n";
        assert_int_equal(lg_job_feed(j, in2, strlen(in2), &err), LG_OK);
        assert_int_equal(lg_job_flush(j, &err), LG_OK);
        assert_int_equal(lg_job_feed(j, "A,last\n", 7, &err), LG_OK);
        assert_int_equal(lg_job_finish(j, &err), LG_OK);
        assert_string_equal(lg_buf_cstr(&out), want);
        lg_job_stats st;
        lg_job_get_stats(j, &st);
        assert_int_equal(st.rows, 4);
        lg_job_free(j);
        lg_buf_free(&out);
    }
    fixture_free(f);
}

static void test_no_route(void **state) {
    (void)state;
    lg_resources res = {0};
    lg_route_table t = {0};
    lg_errmsg err;
    assert_int_equal(lg_routes_apply_flag(&t, "A=rules", &err), LG_OK);
    lg_pipeline *pl;
    snprintf(res.rules_missing, sizeof res.rules_missing, "no rules loaded");
    assert_int_equal(lg_pipeline_new(&t, &res, &pl, &err), LG_OK);
    lg_worker *w;
    assert_int_equal(lg_worker_new(pl, &w, &err), LG_OK);
    lg_record recs[2];
    memset(recs, 0, sizeof recs);
    recs[0].source = "A";
    recs[0].message = "m";
    recs[1].source = "B";
    recs[1].message = "m";
    lg_record_reset(&recs[0]);
    lg_record_reset(&recs[1]);
    assert_int_equal(lg_pipeline_run(pl, w, recs, 2, &err), LG_OK);
    assert_string_equal(recs[0].label, LG_UNCLASSIFIED);
    assert_string_equal(recs[0].detail, "no rules loaded");
    assert_string_equal(recs[1].detail, "no route for source 'B'");
    const lg_worker_stats *st = lg_worker_get_stats(w);
    assert_int_equal(st->rows, 2);
    assert_int_equal(st->decided[LG_STAGE_NONE], 2);
    lg_worker_free(w);
    lg_pipeline_free(pl);
    lg_routes_free(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_routes_and_explain),
        cmocka_unit_test(test_target_label_overwritten_in_place),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_missing_column),
        cmocka_unit_test(test_bad_rows_fail_or_skip),
        cmocka_unit_test(test_max_rows),
        cmocka_unit_test(test_order_batches_threads),
        cmocka_unit_test(test_flush_partial_batches),
        cmocka_unit_test(test_errors_with_workers),
        cmocka_unit_test(test_error_drops_queued_batches),
        cmocka_unit_test(test_no_route),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
