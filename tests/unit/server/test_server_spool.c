/* test_server_spool.c - the server's answer spool (src/server/server_spool.c): appends
 * from one thread while another takes finished chunks (what an upload does
 * when its answer streams, src/server/server_direct.c), the cap, and the size
 * parser behind --max-upload and --hold (lg_parse_size). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/server_internal.h"

/* ---- Spool ------------------------------------------------------------------ */

#define WRITER_BYTES (3u << 20)

/* Byte i of the stream is i % 251: any loss, repeat or reordering shows. */
static void *writer(void *arg) {
    srv_spool *sp = arg;
    char buf[1000];
    size_t pos = 0;
    unsigned step = 1;
    while (pos < WRITER_BYTES) {
        size_t n = (step * 7919u) % sizeof buf + 1; /* 1..1000 bytes, varying */
        if (n > WRITER_BYTES - pos) n = WRITER_BYTES - pos;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)((pos + i) % 251);
        if (srv_spool_append(sp, buf, n) != LG_OK) return (void *)1;
        pos += n;
        step++;
    }
    return NULL;
}

static void test_take_while_appending(void **state) {
    (void)state;
    srv_spool *sp = srv_spool_new(WRITER_BYTES);
    assert_non_null(sp);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, writer, sp), 0);
    size_t got = 0;
    int done = 0;
    while (!done) {
        /* full chunks only while the writer may still append; all after */
        void *ret = NULL;
        if (srv_spool_total(sp) == WRITER_BYTES) {
            assert_int_equal(pthread_join(t, &ret), 0);
            assert_null(ret);
            done = 1;
        }
        srv_chunk *c;
        while ((c = srv_spool_take(sp, done))) {
            if (!done) assert_int_equal(c->len, c->cap); /* a taken chunk is never still filling */
            for (size_t i = 0; i < c->len; i++)
                assert_int_equal((unsigned char)c->data[i], (got + i) % 251);
            got += c->len;
            free(c);
        }
    }
    assert_int_equal(got, WRITER_BYTES);
    assert_null(srv_spool_take(sp, 1));
    srv_spool_free(sp);
}

static void test_cap_and_partial_tail(void **state) {
    (void)state;
    srv_spool *sp = srv_spool_new(100);
    assert_int_equal(srv_spool_append(sp, "abc", 3), LG_OK);
    assert_null(srv_spool_take(sp, 0)); /* the only chunk is still the tail */
    assert_int_equal(srv_spool_append(sp, NULL, 0), LG_OK);
    char big[98] = {0};
    assert_int_equal(srv_spool_append(sp, big, 98), LG_ELIMIT); /* 3 + 98 > 100 */
    assert_int_equal(srv_spool_append(sp, big, 97), LG_OK);
    assert_int_equal(srv_spool_total(sp), 100);
    srv_chunk *c = srv_spool_take(sp, 1);
    assert_non_null(c);
    assert_int_equal(c->len, 100);
    assert_memory_equal(c->data, "abc", 3);
    free(c);
    assert_null(srv_spool_take(sp, 1));
    assert_int_equal(srv_spool_append(sp, "x", 1), LG_ELIMIT); /* the cap counts all bytes ever */
    srv_spool_free(sp);
}

/* ---- Sizes ------------------------------------------------------------------- */

static void test_parse_size(void **state) {
    (void)state;
    size_t v = 0;
    struct {
        const char *s;
        size_t want;
    } good[] = {{"1", 1},
                {"4M", 4u << 20},
                {"64k", 64u << 10},
                {"100MB", 100u << 20},
                {"2g", (size_t)2 << 30},
                {"1024", 1024},
                {"1024G", (size_t)1 << 40}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(lg_parse_size(good[i].s, &v), 0);
        assert_int_equal(v, good[i].want);
    }
    const char *bad[] = {"",     "0", "-1", " 1", "1T", "4 M", "M", "1025G", "99999999999999999999",
                         "1MBB", NULL};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(lg_parse_size(bad[i], &v), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_while_appending),
        cmocka_unit_test(test_cap_and_partial_tail),
        cmocka_unit_test(test_parse_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
