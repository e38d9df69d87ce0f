/* test_server_head.c - the request-head check of the front door
 * (src/server/server_head.c, srv_head_check; issue 14, item 9): verdicts
 * and statuses for good and bad heads, a head fed a byte at a time (the
 * resumed search for its end must find it exactly when it is complete),
 * and the limits at their edges. The raw-socket side is tests/http/test_heads.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/server_internal.h"

#define CAP 1000u /* max_upload for these tests */

static srv_head_verdict check(const char *head, srv_head_result *r) {
    size_t scanned = 0;
    return srv_head_check(head, strlen(head), CAP, &scanned, r);
}

static void expect_bad(const char *head, unsigned status, const char *detail_part) {
    srv_head_result r;
    srv_head_verdict v = check(head, &r);
    if (v != SRV_HEAD_BAD || r.status != status || !strstr(r.detail, detail_part))
        fail_msg("head %.60s: verdict %d status %u detail '%s' (wanted %u, '%s')", head, (int)v, r.status,
                 r.detail, status, detail_part);
}

static void test_good_heads(void **state) {
    (void)state;
    static const char *good[] = {
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
        "\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",                /* leading empty lines */
        "GET / HTTP/1.1\nHost: x\n\n",                             /* bare LF */
        "POST /v1/classify HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", /* a body after the head */
        "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length:  5 \r\n\r\n", /* the same value twice */
        "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", /* over the cap: server.c's 413, after auth */
        "GET / HTTP/1.1\r\nX-Long: a\r\n  folded\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        srv_head_result r;
        srv_head_verdict v = check(good[i], &r);
        if (v != SRV_HEAD_OK) fail_msg("head %zu: verdict %d (%u %s)", i, (int)v, r.status, r.detail);
    }
    srv_head_result r;
    assert_int_equal(check("GET /a/b?c=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r), SRV_HEAD_OK);
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.path, "/a/b?c=1");
}

static void test_bad_heads(void **state) {
    (void)state;
    expect_bad("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400, "empty");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400, "Content-Length");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", 400, "two different");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 413, "larger than 1000 bytes");
    /* 2^63 - 1 is the largest the library is given; 2^63 is refused here */
    srv_head_result r;
    assert_int_equal(check("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n", &r), SRV_HEAD_OK);
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 413, "larger than");
    expect_bad("GET /\r\n\r\n", 400, "malformed request line");
    expect_bad("GET  / HTTP/1.1\r\n\r\n", 400, "malformed request line");
    expect_bad("G(T / HTTP/1.1\r\n\r\n", 400, "malformed request line");
    expect_bad("GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, "malformed header line");
    expect_bad("GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400, "malformed header line");
    expect_bad("GET / HTTP/1.1\r\n folded first\r\n\r\n", 400, "continuation");
    expect_bad("GET / HTTP/2.0\r\n\r\n", 505, "HTTP version");
    expect_bad("GET / HTTX/1.1\r\n\r\n", 400, "malformed request line");
}

static void test_limits(void **state) {
    (void)state;
    size_t n = SRV_LINE_MAX + 64;
    char *b = malloc(SRV_HEAD_MAX + 4096);
    assert_non_null(b);
    /* a request line of exactly SRV_LINE_MAX bytes passes; one more is 414 */
    srv_head_result r;
    size_t scanned;
    for (size_t extra = 0; extra < 2; extra++) {
        size_t fill = SRV_LINE_MAX - strlen("GET / HTTP/1.1") + extra;
        memcpy(b, "GET /", 5);
        memset(b + 5, 'a', fill);
        memcpy(b + 5 + fill, " HTTP/1.1\r\n\r\n", 13);
        scanned = 0;
        srv_head_verdict v = srv_head_check(b, 5 + fill + 13, CAP, &scanned, &r);
        assert_int_equal(v, extra ? SRV_HEAD_BAD : SRV_HEAD_OK);
        if (extra) assert_int_equal(r.status, 414);
    }
    /* a request line that has not ended yet is 414 as soon as it is too long */
    memcpy(b, "GET /", 5);
    memset(b + 5, 'a', n - 5);
    scanned = 0;
    assert_int_equal(srv_head_check(b, n, CAP, &scanned, &r), SRV_HEAD_BAD);
    assert_int_equal(r.status, 414);
    /* SRV_FIELDS_MAX header lines pass, one more is 431 */
    size_t len = (size_t)snprintf(b, 64, "GET / HTTP/1.1\r\n");
    for (unsigned i = 0; i < SRV_FIELDS_MAX; i++) len += (size_t)snprintf(b + len, 32, "X-%u: 1\r\n", i);
    memcpy(b + len, "\r\n", 2);
    scanned = 0;
    assert_int_equal(srv_head_check(b, len + 2, CAP, &scanned, &r), SRV_HEAD_OK);
    len += (size_t)snprintf(b + len, 32, "X-more: 1\r\n");
    memcpy(b + len, "\r\n", 2);
    scanned = 0;
    assert_int_equal(srv_head_check(b, len + 2, CAP, &scanned, &r), SRV_HEAD_BAD);
    assert_int_equal(r.status, 431);
    /* a head with no end within SRV_HEAD_MAX bytes is 431 */
    len = (size_t)snprintf(b, 64, "GET / HTTP/1.1\r\nX-Big: ");
    memset(b + len, 'v', SRV_HEAD_MAX - len);
    scanned = 0;
    assert_int_equal(srv_head_check(b, SRV_HEAD_MAX, CAP, &scanned, &r), SRV_HEAD_BAD);
    assert_int_equal(r.status, 431);
    free(b);
}

/* Fed a byte more at a time, as a trickling client: PARTIAL until the
 * empty line is complete, then OK, whatever line ends it uses. */
static void test_trickle(void **state) {
    (void)state;
    static const char *heads[] = {"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n",
                                  "\r\nGET / HTTP/1.1\r\n\r\n"};
    for (size_t h = 0; h < sizeof heads / sizeof *heads; h++) {
        const char *s = heads[h];
        size_t n = strlen(s), scanned = 0;
        srv_head_result r;
        for (size_t i = 1; i < n; i++)
            if (srv_head_check(s, i, CAP, &scanned, &r) != SRV_HEAD_PARTIAL)
                fail_msg("head %zu: not partial at %zu of %zu bytes", h, i, n);
        assert_int_equal(srv_head_check(s, n, CAP, &scanned, &r), SRV_HEAD_OK);
        assert_int_equal(r.len, n);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heads),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_trickle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
