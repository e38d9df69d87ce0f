/* test_llm_threads.c - one lg_llm shared by several threads, as the HTTP
 * server uses it: each thread has its own stage scratch (curl multi
 * handle) and sends batches to tests/fake_llm_server.py at the same time,
 * through the shared template cache, breaker and counters. Every record
 * must get the right label, and the counters must add up with what the
 * server saw. Skipped (77) when python3 or the server script is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "logify/llm.h"
#include "logify/ytree.h"

#define N_THREADS 4
#define N_RECS 300 /* per thread */
#define N_KINDS 40 /* distinct templates across all threads */

static pid_t server_pid;
static int server_port;
static int server_out = -1; /* read end of the server's stdout */

/* Starts the fake server; returns 0 or -1 (then the test is skipped). */
static int start_server(void) {
    const char *root = getenv("LOGIFY_ROOT");
    char script[1024];
    snprintf(script, sizeof script, "%s/tests/fake_llm_server.py", root ? root : ".");
    if (access("/usr/bin/python3", X_OK) != 0 || access(script, R_OK) != 0) return -1;
    int fds[2];
    if (pipe(fds) != 0) return -1;
    char parent[32];
    snprintf(parent, sizeof parent, "%d", (int)getpid());
    server_pid = fork();
    if (server_pid < 0) return -1;
    if (server_pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl("/usr/bin/python3", "python3", script, "--exit-with", parent, "--max-seconds", "300",
              (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[32] = {0};
    size_t got = 0;
    while (got < sizeof buf - 1 && !memchr(buf, '\n', got)) { /* the port, then a newline */
        ssize_t n = read(fds[0], buf + got, sizeof buf - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    server_out = fds[0]; /* kept open: the server may still write */
    server_port = memchr(buf, '\n', got) ? atoi(buf) : 0;
    return server_port > 0 ? 0 : -1;
}

static void stop_server(void) {
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    if (server_out >= 0) close(server_out);
}

/* The server's count of FIELD for a mode (GET /stats through python). */
static long served(const char *mode, const char *field) {
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import json,urllib.request;"
             "print(json.load(urllib.request.urlopen(\"http://127.0.0.1:%d/stats\",timeout=10))"
             ".get(\"%s\",{}).get(\"%s\",0))'",
             server_port, mode, field);
    FILE *p = popen(cmd, "r");
    long v = -1;
    if (p) {
        if (fscanf(p, "%ld", &v) != 1) v = -1;
        pclose(p);
    }
    return v;
}

typedef struct {
    lg_stage *stage;
    int id;
    int ok; /* records labelled right */
    char msgs[N_RECS][128];
    lg_record recs[N_RECS];
} job;

/* Half the templates are about deprecation, the rest are failures. */
static const char *want_for(int kind) {
    return kind % 2 ? "Deprecation Warning" : "Workflow Error";
}

static void *worker(void *arg) {
    job *j = arg;
    void *scratch = NULL;
    lg_errmsg err = {{0}};
    if (j->stage->ops->scratch_new(j->stage->ctx, &scratch, &err) != LG_OK) return NULL;
    lg_record *ptrs[100];
    for (int start = 0; start < N_RECS; start += 100) { /* three stage calls */
        for (int i = start; i < start + 100; i++) {
            int kind = (i * 7 + j->id) % N_KINDS;
            snprintf(j->msgs[i], sizeof j->msgs[i],
                     kind % 2 ? "Module m%c%c is deprecated since release %d, use m%d"
                              : "Step s%c%c failed for order %d in queue %d",
                     'a' + kind % 26, 'a' + kind / 26, i * 31 + j->id, i);
            lg_record *r = &j->recs[i];
            memset(r, 0, sizeof *r);
            r->source = "LegacyCRM";
            r->message = j->msgs[i];
            r->message_len = strlen(j->msgs[i]);
            r->confidence = -1;
            ptrs[i - start] = r;
        }
        if (j->stage->ops->process(j->stage->ctx, scratch, ptrs, 100, &err) != LG_OK) break;
    }
    for (int i = 0; i < N_RECS; i++) {
        int kind = (i * 7 + j->id) % N_KINDS;
        if (j->recs[i].label && !strcmp(j->recs[i].label, want_for(kind)))
            j->ok++;
        else
            fprintf(stderr, "thread %d row %d: %s (%s)\n", j->id, i,
                    j->recs[i].label ? j->recs[i].label : "-", j->recs[i].detail);
    }
    j->stage->ops->scratch_free(scratch);
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "llm:\n  base_url: http://127.0.0.1:%d/m/lat20+id=threads/v1\n  batch: 4\n"
             "  concurrency: 3\n  deadline: 60\n  dotenv: false\n",
             server_port);
    lg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    lg_errmsg err = {{0}};
    assert_int_equal(lg_ytree_parse(yaml, strlen(yaml), "t.yaml", &cfg.doc, &err), LG_OK);
    lg_llm *llm = NULL;
    assert_int_equal(lg_llm_new(&cfg, &llm, &err), LG_OK);
    lg_ytree_free(cfg.doc);
    lg_stage st = {0};
    assert_int_equal(lg_llm_stage_new(llm, NULL, &st, &err), LG_OK);

    static job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].stage = &st;
        jobs[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, worker, &jobs[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < N_THREADS; t++)
        assert_int_equal(jobs[t].ok, N_RECS);

    lg_llm_counters c;
    lg_llm_get_counters(llm, &c);
    lg_buf b;
    lg_buf_init(&b, 1024);
    lg_llm_counters_format(&c, &b);
    print_message("%s\n", lg_buf_cstr(&b));
    lg_buf_free(&b);
    assert_int_equal(c.rows_labelled, N_THREADS * N_RECS);
    assert_int_equal(c.rows_unavailable, 0);
    assert_int_equal(c.rows_off_list, 0);
    assert_int_equal(c.calls, c.answered + c.failures);
    /* the form was probed once (by one thread): the fake server honours none */
    assert_int_equal(c.form_probes, served("lat20+id=threads", "probes"));
    assert_int_equal(c.form_probes, 5);
    assert_int_equal(c.failures, 0);
    assert_int_equal(c.calls, served("lat20+id=threads", "requests"));
    /* rows not answered by the cache or a same-call twin were each one
     * message the server saw */
    assert_int_equal(c.rows_labelled - c.cache_hits - c.deduplicated,
                     served("lat20+id=threads", "messages"));
    /* every template asked at least once, at most once per thread and call */
    assert_true(c.calls >= N_KINDS / 4);
    assert_true(c.calls <= N_THREADS * 3 * N_KINDS);
    assert_true(c.cache_hits > 0);
    lg_stage_free(&st);
    lg_llm_free(llm);
}

int main(void) {
    if (start_server() != 0) {
        fprintf(stderr,
                "SKIP: cannot start tests/fake_llm_server.py (python3 or LOGIFY_ROOT missing)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads)};
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    stop_server();
    return rc;
}
