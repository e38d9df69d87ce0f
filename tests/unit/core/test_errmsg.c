/* test_errmsg.c - LG_TRY / lg_errmsg_settle: an error returned without a
 * detail (the bare `return LG_ENOMEM;` of a failed allocation, ~40 places)
 * leaves the caller's message naming the code ("out of memory"), never
 * empty and never the text of an earlier call; a detail written with
 * lg_fail is kept; success leaves the message empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/common.h"

static void *no_malloc(size_t n) { (void)n; return NULL; }
static void *no_calloc(size_t n, size_t s) { (void)n; (void)s; return NULL; }
static void *no_realloc(void *p, size_t n) { (void)p; (void)n; return NULL; }

static lg_err with_detail(lg_errmsg *err) { return lg_fail(err, LG_EPARSE, "row 3: bad quote"); }
static lg_err without_detail(lg_errmsg *err) { (void)err; return LG_ELIMIT; }
static lg_err fine(lg_errmsg *err) { (void)err; return LG_OK; }

/* a failed allocation inside lg_buf (a bare LG_ENOMEM) */
static void test_failed_allocation_named(void **state) {
    (void)state;
    lg_allocator failing = {no_malloc, no_calloc, no_realloc};
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    lg_errmsg err;
    strcpy(err.msg, "text of an earlier call");
    lg_set_allocator(&failing);
    lg_err e = LG_TRY(&err, lg_buf_append(&b, "abc", 3));
    lg_set_allocator(NULL);
    assert_int_equal(e, LG_ENOMEM);
    assert_string_equal(err.msg, "out of memory");
    lg_buf_free(&b);
}

static void test_detail_kept_other_codes_named(void **state) {
    (void)state;
    lg_errmsg err;
    assert_int_equal(LG_TRY(&err, with_detail(&err)), LG_EPARSE);
    assert_string_equal(err.msg, "row 3: bad quote");
    assert_int_equal(LG_TRY(&err, without_detail(&err)), LG_ELIMIT);
    assert_string_equal(err.msg, lg_strerror(LG_ELIMIT));
    assert_int_equal(LG_TRY(&err, fine(&err)), LG_OK);
    assert_string_equal(err.msg, "");
    assert_int_equal(lg_errmsg_settle(NULL, LG_ENOMEM), LG_ENOMEM);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_allocation_named),
        cmocka_unit_test(test_detail_kept_other_codes_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
