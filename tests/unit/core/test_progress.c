/* test_progress.c - the progress line (logify/progress.h) with an injected
 * clock and no ticker thread: the count, rate, percentage (from bytes when
 * a file size is known, else from the expected rows), the bar, the ETA, the
 * elapsed-time-only phases, the width limit, and what reaches the fd
 * (a redraw in place, an erase at the end, messages above the line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "logify/progress.h"

static double fake_now;
static double fake_clock(void *user) {
    (void)user;
    return fake_now;
}

static lg_progress *manual(int fd) {
    lg_progress_opts o = {.fd = fd, .what = "classify", .manual = 1, .clock = fake_clock,
                          .width = 100, .interval = 0.1};
    lg_progress *p = NULL;
    assert_int_equal(lg_progress_new(&o, &p, NULL), LG_OK);
    return p;
}

static void test_file_percent_rate_eta(void **state) {
    (void)state;
    fake_now = 100;
    lg_progress *p = manual(-1);
    lg_progress_phase(p, NULL, "rows", 0, 1000000);
    fake_now = 110; /* 10 s in: a quarter of the bytes, 12,345 rows (1,234.5/s) */
    lg_progress_set(p, 12345, 250000);
    char line[256];
    lg_progress_format(p, fake_now, 100, line, sizeof line);
    assert_non_null(strstr(line, "classify ["));
    assert_non_null(strstr(line, " 25%"));
    assert_non_null(strstr(line, "12,345 rows"));
    assert_non_null(strstr(line, "1,235 rows/s"));
    assert_non_null(strstr(line, "ETA 0:30")); /* 10 s for 25%: 30 s to go */
    /* a quarter of a 24-column bar: 6 '=' then the head */
    assert_non_null(strstr(line, "[======>"));
    assert_null(strstr(line, "[=======>"));
    lg_progress_free(p);
}

static void test_rows_total_and_unknown(void **state) {
    (void)state;
    fake_now = 0;
    lg_progress *p = manual(-1);
    char line[256];
    lg_progress_phase(p, "classifying", "rows", 2000, 0); /* rows known, no file */
    fake_now = 2;
    lg_progress_set(p, 500, 0);
    lg_progress_format(p, fake_now, 100, line, sizeof line);
    assert_non_null(strstr(line, "classify: classifying ["));
    assert_non_null(strstr(line, " 25%"));
    assert_non_null(strstr(line, "500/2,000 rows"));
    assert_non_null(strstr(line, "250 rows/s"));
    assert_non_null(strstr(line, "ETA 0:06"));
    lg_progress_phase(p, NULL, "rows", 0, 0); /* a pipe: nothing to measure against */
    fake_now = 3;
    lg_progress_set(p, 7, 0);
    lg_progress_format(p, fake_now, 100, line, sizeof line);
    assert_null(strchr(line, '['));
    assert_null(strchr(line, '%'));
    assert_null(strstr(line, "ETA"));
    assert_non_null(strstr(line, "7 rows  7.0 rows/s  0:01"));
    lg_progress_phase(p, "fitting", NULL, 0, 0); /* nothing counted: elapsed only */
    fake_now = 3 + 3725;
    lg_progress_format(p, fake_now, 100, line, sizeof line);
    assert_string_equal(line, "classify: fitting  1:02:05");
    lg_progress_free(p);
}

static void test_width(void **state) {
    (void)state;
    fake_now = 0;
    lg_progress *p = manual(-1);
    lg_progress_phase(p, NULL, "rows", 0, 1000);
    fake_now = 1;
    lg_progress_set(p, 1234567, 500);
    char line[256];
    for (int w = 20; w <= 120; w += 10) {
        size_t n = lg_progress_format(p, fake_now, w, line, sizeof line);
        assert_true(n <= (size_t)w - 1); /* never the last column */
        assert_int_equal(strlen(line), n);
    }
    /* wide enough for everything: the full bar */
    lg_progress_format(p, fake_now, 120, line, sizeof line);
    assert_non_null(strstr(line, "[============>           ]"));
    lg_progress_free(p);
}

/* what reaches the terminal: \r + line + erase-to-end, redrawn in place
 * no more than once per interval, erased at the end; a message goes above */
static void test_output(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fake_now = 0;
    lg_progress *p = manual(fds[1]);
    lg_progress_phase(p, NULL, "rows", 0, 100);
    assert_int_equal(lg_progress_tick(p), 1);  /* first draw at once */
    assert_int_equal(lg_progress_tick(p), 0);  /* not again within the interval */
    fake_now = 0.2;
    lg_progress_set(p, 10, 50);
    lg_progress_printf(p, "logify: warning: %s\n", "careful");
    assert_int_equal(lg_progress_tick(p), 1);
    lg_progress_free(p); /* final state, then erased */
    close(fds[1]);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_int_equal(strncmp(buf, "\rclassify [", 11), 0);
    /* the warning: the line erased first, then the text on its own line */
    const char *w = strstr(buf, "\r\033[Klogify: warning: careful\n");
    assert_non_null(w);
    assert_non_null(strstr(w, " 50%"));
    /* it ends with the line erased */
    size_t len = strlen(buf);
    assert_true(len >= 4);
    assert_memory_equal(buf + len - 4, "\r\033[K", 4);
    /* every draw ends with erase-to-end, and no newline but the warning's */
    int newlines = 0;
    for (size_t i = 0; i < len; i++) newlines += buf[i] == '\n';
    assert_int_equal(newlines, 1);
}

static void test_null_is_fine(void **state) {
    (void)state;
    lg_progress_phase(NULL, "x", "rows", 1, 1);
    lg_progress_set(NULL, 1, 1);
    lg_progress_add(NULL, 1, 1);
    lg_progress_clear(NULL);
    lg_progress_printf(NULL, "%s", "x");
    assert_int_equal(lg_progress_tick(NULL), 0);
    lg_progress_finish(NULL);
    lg_progress_free(NULL);
}

/* the ticker thread draws on its own and stops at finish */
static void test_thread(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    lg_progress_opts o = {.fd = fds[1], .what = "train", .interval = 0.01, .width = 80};
    lg_progress *p = NULL;
    assert_int_equal(lg_progress_new(&o, &p, NULL), LG_OK);
    lg_progress_phase(p, "fitting", NULL, 0, 0);
    for (int i = 0; i < 100; i++) lg_progress_add(p, 1, 0);
    lg_progress_free(p);
    close(fds[1]);
    char buf[1 << 16];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\rtrain: fitting  0:0"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_percent_rate_eta), cmocka_unit_test(test_rows_total_and_unknown),
        cmocka_unit_test(test_width),                 cmocka_unit_test(test_output),
        cmocka_unit_test(test_null_is_fine),          cmocka_unit_test(test_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
