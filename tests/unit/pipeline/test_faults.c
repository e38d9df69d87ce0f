/* test_faults.c - allocation failures injected through a test allocator
 * (lg_set_allocator, and Vectorscan's hs_set_allocator) into the CSV
 * reader, the rules loader and the model bundle reader (issue 14, beyond
 * the list). jansson's allocations are not failed: Debian's jansson 2.14
 * itself crashes inside json_loadb when its allocator fails (found by this
 * test with json_set_alloc_funcs; a library bug, not ours). For every allocation N of a
 * run, a run whose N-th allocation fails must end in LG_ENOMEM (or another
 * clean error) or in success, never a crash, a leak (the ASan build checks)
 * or a row lost or invented: the rows delivered plus the rows reported
 * malformed are all the rows of the input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hs/hs.h>

#include "logify/bundle.h"
#include "logify/csv.h"
#include "logify/rules.h"

/* ---- The failing allocator -------------------------------------------------- */

static long calls, fail_at; /* fail the fail_at-th call (1-based); 0: never */
static long failed;

static int should_fail(void) {
    calls++;
    if (fail_at && calls == fail_at) {
        failed++;
        return 1;
    }
    return 0;
}
static void *t_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *t_calloc(size_t n, size_t m) { return should_fail() ? NULL : calloc(n, m); }
static void *t_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

static void arm(long at) {
    static const lg_allocator a = {t_malloc, t_calloc, t_realloc};
    calls = 0;
    failed = 0;
    fail_at = at;
    lg_set_allocator(&a);
    hs_set_allocator(t_malloc, free);
}

static void disarm(void) {
    fail_at = 0;
    lg_set_allocator(NULL);
    hs_set_allocator(NULL, NULL);
}

/* ---- CSV reader ------------------------------------------------------------- */

typedef struct {
    long good, bad;
} tally;

static lg_err on_row(void *u, const lg_csv_row *row, lg_errmsg *err) {
    (void)err;
    tally *t = u;
    t->good++;
    /* a fault must never hand over a damaged row */
    assert_int_equal(row->nfields, 2);
    assert_true(row->lens[1] > 0);
    return LG_OK;
}
static lg_err on_bad(void *u, uint64_t line, const char *msg, lg_errmsg *err) {
    (void)line, (void)msg, (void)err;
    ((tally *)u)->bad++;
    return LG_OK;
}

static void test_csv_reader(void **state) {
    (void)state;
    lg_buf in;
    lg_buf_init(&in, 1 << 20);
    lg_buf_printf(&in, "source,log_message\n");
    const long rows = 300;
    for (long i = 0; i < rows; i++) /* quoted multi-line fields too: the raw buffer grows */
        lg_buf_printf(&in, i % 7 ? "S,message %ld with some text\n" : "S,\"two\nlines %ld\"\n", i);
    for (int engine = 0; engine < 2; engine++) {
        long completed = 0, enomem = 0;
        for (long at = 1;; at++) {
            tally t = {0, 0};
            lg_csv_limits lim = {0, 0, (lg_csv_engine)engine};
            lg_csv_reader *r = NULL;
            lg_errmsg err;
            arm(at);
            lg_err e = lg_csv_reader_new(&lim, on_row, on_bad, &t, &r, &err);
            for (size_t off = 0; !e && off < in.len; off += 4096)
                e = lg_csv_feed(r, in.data + off, in.len - off < 4096 ? in.len - off : 4096, &err);
            if (!e) e = lg_csv_finish(r, &err);
            lg_csv_reader_free(r);
            long injected = failed;
            disarm();
            if (e) {
                assert_int_equal(e, LG_ENOMEM); /* a fault is told as what it is */
                assert_true(injected > 0);
                enomem++;
            } else {
                assert_int_equal(t.good + t.bad, rows + 1); /* every row, the header too */
                assert_int_equal(t.bad, 0);                 /* none invented by a fault */
                completed++;
            }
            if (!injected) break; /* the whole run needed fewer allocations */
        }
        print_message("csv engine %d: %ld runs ended ENOMEM, %ld completed\n", engine, enomem, completed);
        assert_true(enomem > 0);
    }
    lg_buf_free(&in);
}

/* ---- Rules loader ------------------------------------------------------------ */

static const char rules_text[] =
    "rules:\n"
    "  - id: login\n"
    "    label: User Action\n"
    "    pattern: 'User User\\d+ logged (in|out)\\.'\n"
    "  - id: backup\n"
    "    label: System Notification\n"
    "    pattern: 'Backup (started|completed)'\n";

static void test_rules_loader(void **state) {
    (void)state;
    long enomem = 0;
    for (long at = 1;; at++) {
        lg_rules *r = NULL;
        lg_errmsg err;
        lg_buf diag;
        lg_buf_init(&diag, 1 << 16);
        arm(at);
        lg_err e = lg_rules_parse(rules_text, sizeof rules_text - 1, "t.yaml", &diag, &r, &err);
        long injected = failed;
        disarm();
        lg_buf_free(&diag);
        if (e) {
            assert_null(r);
            assert_true(injected > 0);
            enomem++;
        } else {
            assert_non_null(r);
        }
        lg_rules_free(r);
        if (!injected) break;
    }
    print_message("rules: %ld runs failed cleanly\n", enomem);
    assert_true(enomem > 0);
}

/* ---- Model bundle reader ----------------------------------------------------- */

static void test_bundle_reader(void **state) {
    (void)state;
    const char *root = getenv("LOGIFY_ROOT");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/default", root ? root : ".");
    lg_bundle *b = NULL;
    if (lg_bundle_read(dir, &b, NULL) != LG_OK) {
        print_message("SKIP: no model bundle at %s\n", dir);
        skip();
    }
    lg_bundle_free(b);
    long enomem = 0;
    for (long at = 1;; at++) {
        lg_errmsg err;
        b = NULL;
        arm(at);
        lg_err e = lg_bundle_read(dir, &b, &err);
        long injected = failed;
        disarm();
        if (e) {
            assert_null(b);
            assert_true(injected > 0);
            enomem++;
        }
        lg_bundle_free(b);
        if (!injected) break;
    }
    print_message("bundle: %ld runs failed cleanly\n", enomem);
    assert_true(enomem > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_reader),
        cmocka_unit_test(test_rules_loader),
        cmocka_unit_test(test_bundle_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
