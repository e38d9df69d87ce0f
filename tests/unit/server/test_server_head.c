/* test_server_head.c - the request-head check of the front door
 * (src/server/server_head.c, srv_head_check; issue 14, item 9): verdicts
 * and statuses for good and bad heads, a head fed a byte at a time (the
 * resumed search for its end must find it exactly when it is complete),
 * and the limits at their edges; the framing the pump follows between heads
 * (srv_body_scan: Content-Length and chunked bodies, whole and a byte at a
 * time, and bad framing). The raw-socket side is tests/http/test_heads.py. */
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
    /* what the library would read otherwise than we do, or answer in HTML */
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 2 \r\n\r\n", 400, "blanks after");
    expect_bad("POST / HTTP/1.1\r\nContent-Length: 1\r\n 0\r\n\r\n", 400, "folded Content-Length");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n x\r\n\r\n", 400, "folded Transfer-Encoding");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Transfer-Encoding");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "Transfer-Encoding");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n", 501, "Transfer-Encoding");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
               "more than one");
    expect_bad("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, "both");
    {
        static const char nul[] = "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n";
        size_t scanned = 0;
        srv_head_result rn;
        assert_int_equal(srv_head_check(nul, sizeof nul - 1, CAP, &scanned, &rn), SRV_HEAD_BAD);
        assert_int_equal(rn.status, 400);
    }
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

/* How the body is framed and whether the library closes after it. */
static void test_framing_of_heads(void **state) {
    (void)state;
    srv_head_result r;
    assert_int_equal(check("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n", &r), SRV_HEAD_OK);
    assert_true(r.length == 12 && !r.chunked && !r.close);
    assert_int_equal(check("POST / HTTP/1.1\r\ntransfer-encoding:  Chunked\r\n\r\n", &r), SRV_HEAD_OK);
    assert_true(r.chunked && !r.length);
    assert_int_equal(check("GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", &r), SRV_HEAD_OK);
    assert_true(r.close);
    assert_int_equal(check("GET / HTTP/1.0\r\n\r\n", &r), SRV_HEAD_OK);
    assert_true(r.close);
    assert_int_equal(check("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), SRV_HEAD_OK);
    assert_false(r.close);
    /* the library reads the first Connection header only */
    assert_int_equal(check("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", &r),
                     SRV_HEAD_OK);
    assert_false(r.close);
}

/* Scans a whole body after head (a good one); returns the bytes counted and
 * the verdict; *st gets where the scan stopped. */
static size_t scan_all(const char *head, const char *body, size_t n, size_t step, srv_head_verdict *v,
                       srv_head_result *r, srv_body_state *st) {
    srv_head_result h;
    assert_int_equal(check(head, &h), SRV_HEAD_OK);
    srv_body b;
    srv_body_start(&b, &h);
    size_t used = 0;
    *v = SRV_HEAD_OK;
    while (used < n && b.st != SRV_BODY_NONE && b.st != SRV_BODY_REST) {
        size_t k = n - used < step ? n - used : step;
        size_t got = srv_body_scan(&b, body + used, k, r, v);
        used += got;
        if (*v == SRV_HEAD_BAD || got < k) break;
    }
    *st = b.st;
    return used;
}

static void test_bodies(void **state) {
    (void)state;
    static const char chunked_head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    static const struct {
        const char *head, *body;
        size_t body_len; /* bytes of body before the next request */
    } good[] = {
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", "hello" "GET / HTTP/1.1\r\n\r\n", 5},
        {chunked_head, "5\r\nhello\r\n0\r\n\r\nGET /", 15},
        {chunked_head, "5;name=v\r\nhello\r\n0\r\n\r\nGET /", 22},
        {chunked_head, "5\nhello\n0\n\nGET /", 11},                                   /* bare LF */
        {chunked_head, "A\r\n0123456789\r\n0\r\nX-T: 1\r\n  more\r\n\r\nGET /", 36}, /* trailer */
        {chunked_head, "0000000000000000000002\r\nab\r\n0\r\n\r\nX", 33},            /* leading zeros */
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        for (size_t step = 1; step <= 64; step += 63) { /* a byte at a time, and at once */
            srv_head_verdict v;
            srv_head_result r;
            srv_body_state st;
            size_t n = strlen(good[i].body);
            size_t used = scan_all(good[i].head, good[i].body, n, step, &v, &r, &st);
            if (v != SRV_HEAD_OK || used != good[i].body_len || st != SRV_BODY_NONE)
                fail_msg("body %zu step %zu: verdict %d used %zu (wanted %zu) state %d: %s", i, step, (int)v,
                         used, good[i].body_len, (int)st, r.detail);
        }
    }
    /* after a request that closes the connection: the rest is not read */
    srv_head_verdict v;
    srv_head_result r;
    srv_body_state st;
    assert_int_equal(scan_all("POST / HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n", "{}GET /", 7,
                              64, &v, &r, &st),
                     2);
    assert_int_equal(st, SRV_BODY_REST);
    static const struct {
        const char *body;
        unsigned status;
        const char *detail;
    } bad[] = {
        {"zz\r\n", 400, "malformed chunked body"},
        {"\r\n", 400, "malformed chunked body"},
        {";x\r\n", 400, "malformed chunked body"},
        {"5 \r\nhello\r\n", 400, "malformed chunked body"},
        {"5\r\rhello", 400, "malformed chunked body"},
        {"2\r\n{}XX", 400, "malformed chunked body"},
        {"10000000000000000\r\n", 413, "chunk size too large"},
        {"0\r\nno colon\r\n\r\n", 400, "trailer"},
        {"0\r\n folded first\r\n\r\n", 400, "trailer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        scan_all(chunked_head, bad[i].body, strlen(bad[i].body), 1, &v, &r, &st);
        if (v != SRV_HEAD_BAD || r.status != bad[i].status || !strstr(r.detail, bad[i].detail))
            fail_msg("bad body %zu: verdict %d status %u '%s'", i, (int)v, r.status, r.detail);
    }
    /* a chunk size line and a trailer section past their limits */
    char *big = malloc(SRV_TRAILER_MAX + 64);
    assert_non_null(big);
    memset(big, '0', SRV_CHUNK_LINE_MAX + 8);
    memcpy(big, "1;", 2);
    scan_all(chunked_head, big, SRV_CHUNK_LINE_MAX + 8, 64, &v, &r, &st);
    assert_int_equal(v, SRV_HEAD_BAD);
    assert_int_equal(r.status, 400);
    memcpy(big, "0\r\nX: ", 6);
    memset(big + 6, 'v', SRV_TRAILER_MAX + 8);
    scan_all(chunked_head, big, SRV_TRAILER_MAX + 14, 64, &v, &r, &st);
    assert_int_equal(v, SRV_HEAD_BAD);
    assert_int_equal(r.status, 431);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_heads),
        cmocka_unit_test(test_bad_heads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_trickle),
        cmocka_unit_test(test_framing_of_heads),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
