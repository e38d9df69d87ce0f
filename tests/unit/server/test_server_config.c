/* test_server_config.c - the configuration file's `server:` section
 * (src/server/server_config.c, lg_server_opts_from_config): every setting
 * read into the options, units and the three HTTP modes, each bound on
 * both sides, and every bad value refused with the file, the line and the
 * setting in the message. The serve command's use of it (a bad file
 * before anything listens) is in tests/e2e/cli_options.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "logify/config.h"
#include "logify/server.h"

static char path[256];

/* Writes text to the config file and loads it; fails the test when the
 * file itself does not load. */
static void load(const char *text, lg_config *cfg) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    lg_errmsg err;
    lg_err e = lg_config_init(cfg, &err);
    if (!e) e = lg_config_load(path, cfg, &err);
    if (e) fail_msg("config did not load: %s", err.msg);
}

/* The section's error, with the file name replaced by "F". */
static lg_err read_opts(const char *text, lg_server_opts *o, double *grace, char *msg, size_t cap) {
    lg_config cfg;
    load(text, &cfg);
    lg_errmsg err;
    err.msg[0] = '\0';
    lg_err e = lg_server_opts_from_config(&cfg, o, grace, &err);
    msg[0] = '\0';
    if (e) {
        size_t pl = strlen(path);
        if (strncmp(err.msg, path, pl) != 0) fail_msg("message does not start with the file: %s", err.msg);
        snprintf(msg, cap, "F%s", err.msg + pl);
    }
    lg_config_free(&cfg);
    return e;
}

static void expect_error(const char *text, const char *want) {
    lg_server_opts o;
    memset(&o, 0, sizeof o);
    char msg[512];
    lg_err e = read_opts(text, &o, NULL, msg, sizeof msg);
    if (e != LG_EINVAL || strcmp(msg, want) != 0)
        fail_msg("config\n%s\ngave %d '%s', want '%s'", text, (int)e, msg, want);
}

static void test_every_setting(void **state) {
    (void)state;
    lg_server_opts o;
    memset(&o, 0, sizeof o);
    double grace = -1;
    char msg[512];
    /* host kept as a string (it points into the config, so read it before the free) */
    lg_config cfg;
    load("server:\n  host: 0.0.0.0\n  port: 65535\n  http_mode: epoll\n  threads: 256\n"
         "  max_upload: 64k\n  hold: 1M\n  max_rows: 1099511627776\n  max_inflight: 100000\n"
         "  max_connections: 1\n  timeout: 86400\n  head_timeout: 1\n  max_per_ip: 1000000\n"
         "  grace: 2.5\n  access_log: yes\n",
         &cfg);
    lg_errmsg err;
    assert_int_equal(lg_server_opts_from_config(&cfg, &o, &grace, &err), LG_OK);
    assert_string_equal(o.host, "0.0.0.0");
    assert_int_equal(o.port, 65535);
    assert_int_equal(o.mode, LG_HTTP_EPOLL_POOL);
    assert_int_equal(o.threads, 256);
    assert_int_equal(o.max_upload, 64u << 10);
    assert_int_equal(o.hold, 1u << 20);
    assert_int_equal(o.max_rows, 1ull << 40);
    assert_int_equal(o.max_inflight, 100000);
    assert_int_equal(o.max_connections, 1);
    assert_int_equal(o.timeout_s, 86400);
    assert_int_equal(o.head_timeout_s, 1);
    assert_int_equal(o.max_per_ip, 1000000);
    assert_true(grace == 2.5);
    assert_int_equal(o.access_log, 1);
    lg_config_free(&cfg);

    /* the other modes; the lower bounds; grace without a place to put it */
    memset(&o, 0, sizeof o);
    o.access_log = 1;
    assert_int_equal(read_opts("server:\n  http_mode: poll\n  port: 0\n  threads: 1\n  access_log: off\n"
                               "  max_upload: 1\n  grace: 0\n",
                               &o, NULL, msg, sizeof msg),
                     LG_OK);
    assert_int_equal(o.mode, LG_HTTP_POLL_POOL);
    assert_int_equal(o.port, 0);
    assert_int_equal(o.threads, 1);
    assert_int_equal(o.access_log, 0);
    assert_int_equal(o.max_upload, 1);
    o.mode = LG_HTTP_POLL_POOL;
    assert_int_equal(read_opts("server:\n  http_mode: thread-per-connection\n", &o, NULL, msg, sizeof msg),
                     LG_OK);
    assert_int_equal(o.mode, LG_HTTP_THREAD_PER_CONN);

    /* no server section (or no file): the options are left as they were */
    memset(&o, 0, sizeof o);
    o.port = 1234;
    o.threads = 7;
    assert_int_equal(read_opts("llm:\n  model: x\n", &o, &grace, msg, sizeof msg), LG_OK);
    assert_int_equal(o.port, 1234);
    assert_int_equal(o.threads, 7);
    lg_config none;
    assert_int_equal(lg_config_init(&none, &err), LG_OK);
    assert_int_equal(lg_server_opts_from_config(&none, &o, &grace, &err), LG_OK);
    assert_int_equal(o.port, 1234);
    lg_config_free(&none);
}

static void test_bad_values(void **state) {
    (void)state;
    /* the line is the value's line, in a file with other sections first */
    expect_error("# a comment\nthreshold: 0.5\nserver:\n  port: 8080\n  threads: 0\n",
                 "F:5: server.threads must be a whole number in 1..256");
    expect_error("server:\n  port: -1\n", "F:2: server.port must be a whole number in 0..65535");
    expect_error("server:\n  port: 65536\n", "F:2: server.port must be a whole number in 0..65535");
    expect_error("server:\n  port: 80x\n", "F:2: server.port must be a whole number in 0..65535");
    expect_error("server:\n  port: ''\n", "F:2: server.port must be a whole number in 0..65535");
    expect_error("server:\n  port: [80]\n", "F:2: server.port must be a whole number in 0..65535");
    expect_error("server:\n  threads: 257\n", "F:2: server.threads must be a whole number in 1..256");
    expect_error("server:\n  max_rows: 1099511627777\n",
                 "F:2: server.max_rows must be a whole number in 1..1099511627776");
    expect_error("server:\n  max_inflight: 100001\n",
                 "F:2: server.max_inflight must be a whole number in 1..100000");
    expect_error("server:\n  max_connections: 1000001\n",
                 "F:2: server.max_connections must be a whole number in 1..1000000");
    expect_error("server:\n  timeout: 86401\n", "F:2: server.timeout must be a whole number in 1..86400");
    expect_error("server:\n  head_timeout: 0\n",
                 "F:2: server.head_timeout must be a whole number in 1..86400");
    expect_error("server:\n  max_per_ip: 0\n", "F:2: server.max_per_ip must be a whole number in 1..1000000");
    expect_error("server:\n  max_upload: 0\n", "F:2: server.max_upload must be a size such as 100M");
    expect_error("server:\n  max_upload: 2T\n", "F:2: server.max_upload must be a size such as 100M");
    expect_error("server:\n  hold: -4M\n", "F:2: server.hold must be a size such as 100M");
    expect_error("server:\n  http_mode: Poll\n",
                 "F:2: server.http_mode must be thread-per-connection, poll or epoll");
    expect_error("server:\n  host: ''\n", "F:2: server.host must be an address");
    expect_error("server:\n  host: {a: 1}\n", "F:2: server.host must be an address");
    expect_error("server:\n  grace: 86400.5\n", "F:2: server.grace must be 0..86400 seconds");
    expect_error("server:\n  grace: soon\n", "F:2: server.grace must be 0..86400 seconds");
    expect_error("server:\n  access_log: 1\n", "F:2: server.access_log must be true or false");
    /* the API key is never read from a file that may be committed */
    expect_error("server:\n  port: 1\n  api_key: sekrit\n",
                 "F:3: server.api_key is not read from a file that may be shared: use "
                 "LOGIFY_API_KEY or --api-key");
    expect_error("server:\n  prot: 80\n",
                 "F:2: server.prot: unknown setting (known: host, port, http_mode, threads, max_upload, "
                 "hold, max_rows, max_inflight, max_connections, timeout, head_timeout, max_per_ip, "
                 "grace, access_log)");
    expect_error("server: 8080\n", "F:1: server.the section must be a map");
    expect_error("server:\n  - port: 1\n", "F:2: server.the section must be a map");
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/logify_test_server_config_%d.yaml", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_setting),
        cmocka_unit_test(test_bad_values),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(path);
    return rc;
}
