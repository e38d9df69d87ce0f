/* test_jsonguard.c - lg_json_loadb (src/core/jsonguard.c) against Jansson
 * 2.14's own json_loadb when its Nth allocation fails: Jansson's lexer drops
 * a failed append (akheron/jansson#362), so a parse can succeed with a
 * string short of a byte; lg_json_loadb gives either the whole value or
 * NULL with *oom set, for every N. The document holds strings, objects and
 * arrays only: a number or keyword token hitting the failure makes Jansson's
 * lexer assert (load.c:255), which no caller can prevent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/jsonguard.h"

static int fail_at, calls;

/* malloc failing the fail_at-th call, as malloc does (NULL, errno ENOMEM) */
static void *nth_malloc(size_t n) {
    if (++calls == fail_at) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n);
}

static const char DOC[] = "{\"label\": \"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\", "
                          "\"list\": [\"one\", \"two\", {\"key\": \"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}]}";

/* Parses doc with its Nth allocation failed through alloc, for every N
 * until a parse makes fewer than N: lg_json_loadb gives the whole value, or
 * NULL with *oom 1. Returns how many N it refused; *short_raw (unless NULL)
 * counts the N at which Jansson's own json_loadb came back short. */
static int sweep_loadb(const char *doc, json_malloc_t alloc, int *short_raw) {
    size_t len = strlen(doc);
    json_t *ref = json_loads(doc, 0, NULL);
    assert_non_null(ref);
    json_malloc_t gm;
    json_free_t gf;
    json_get_alloc_funcs(&gm, &gf);
    int refused = 0, n;
    for (n = 1; n < 10000; n++) {
        json_error_t je;
        fail_at = n;
        if (short_raw) {
            calls = 0;
            json_set_alloc_funcs(alloc, gf);
            json_t *raw = json_loadb(doc, len, 0, &je);
            json_set_alloc_funcs(gm, gf);
            if (raw && !json_equal(raw, ref)) (*short_raw)++;
            json_decref(raw);
        }
        calls = 0;
        int oom = -1;
        json_set_alloc_funcs(alloc, gf);
        json_t *g = lg_json_loadb(doc, len, 0, &je, &oom);
        int reached = calls >= n; /* the Nth allocation happened (and failed) */
        json_set_alloc_funcs(gm, gf);
        if (g) {
            if (!json_equal(g, ref)) fail_msg("allocation %d failed: lg_json_loadb gave a different value", n);
            assert_int_equal(oom, 0);
        } else {
            if (!reached) fail_msg("allocation %d: NULL without a failure", n);
            assert_int_equal(oom, 1);
            refused++;
        }
        json_decref(g);
        if (!reached) break; /* every allocation of a parse done */
    }
    assert_true(n > 10);
    json_decref(ref);
    return refused;
}

static void test_loadb_whole_or_nothing(void **state) {
    (void)state;
    json_malloc_t gm;
    json_free_t gf;
    json_get_alloc_funcs(&gm, &gf);
    assert_true(gm != malloc); /* the guard's allocator is installed at start-up */
    int short_raw = 0;
    assert_true(sweep_loadb(DOC, nth_malloc, &short_raw) > 0);
    /* why the guard: Jansson's own parse came back short and said nothing */
    if (!short_raw) fail_msg("no failed allocation made json_loadb lose a byte (Jansson fixed? see jsonguard.h)");
}

/* The guard's own count, not errno, is what tells: Jansson's number lexer
 * sets errno to 0 before strtoll, so a failed append in a string before a
 * number leaves no ENOMEM behind. Here the Nth allocation goes to the
 * guard's allocator with a size malloc refuses (the guard counts it). */
static json_malloc_t guard_m;

static void *nth_guarded(size_t n) {
    if (++calls == fail_at) return guard_m(SIZE_MAX / 2);
    return guard_m(n);
}

static const char NUM_DOC[] = "{\"label\": \"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ\", "
                              "\"n\": 12345, \"list\": [\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\", 678]}";

static void test_loadb_counted_before_a_number(void **state) {
    (void)state;
    json_free_t gf;
    json_get_alloc_funcs(&guard_m, &gf);
    assert_true(sweep_loadb(NUM_DOC, nth_guarded, NULL) > 0);
}

/* a document that is not JSON is that, not memory */
static void test_loadb_syntax_error(void **state) {
    (void)state;
    json_error_t je;
    int oom = -1;
    assert_null(lg_json_loadb("{\"a\": ", 6, 0, &je, &oom));
    assert_int_equal(oom, 0);
    assert_true(je.line >= 1);
}

/* ASan refuses a huge malloc by aborting unless told to return NULL, as
 * malloc does */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loadb_whole_or_nothing),
        cmocka_unit_test(test_loadb_counted_before_a_number),
        cmocka_unit_test(test_loadb_syntax_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
