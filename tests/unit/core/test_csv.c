/* test_csv.c - the streaming CSV reader (both engines) and the writers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "logify/csv.h"

/* ---- A collector: rows rendered as "f1|f2|..@line" lines ---------------- */

typedef struct {
    lg_buf out;
    int stop_at; /* return an error on this row (1-based), 0 = never */
    int rows;
    lg_csv_reader *r; /* with expect_header: the header's field count is expected */
} collector;

static int expect_header; /* rows must have the header's field count */

static lg_err collect_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    collector *c = user;
    c->rows++;
    if (c->stop_at && c->rows == c->stop_at) return lg_fail(err, LG_EINVAL, "stop");
    if (expect_header && c->rows == 1) lg_csv_expect_fields(c->r, row->nfields);
    for (size_t i = 0; i < row->nfields; i++) {
        if (i) lg_buf_putc(&c->out, '|');
        assert_int_equal(strlen(row->fields[i]) <= row->lens[i], 1);
        lg_buf_append(&c->out, row->fields[i], row->lens[i]);
    }
    lg_buf_printf(&c->out, "@%llu\n", (unsigned long long)row->line);
    return LG_OK;
}

static int terse_bad; /* differential test: compare lines, not wording */

static lg_err collect_bad(void *user, uint64_t line, const char *msg, lg_errmsg *err) {
    (void)err;
    collector *c = user;
    lg_buf_printf(&c->out, "BAD@%llu:%s\n", (unsigned long long)line, terse_bad ? "" : msg);
    return LG_OK;
}

/* Parses text fed in pieces of `step` bytes (0 = all at once) with the given
 * engine; returns the rendering (caller frees) and the final status. */
static char *parse(const char *text, size_t len, size_t step, lg_csv_engine engine, int skip_bad,
                   lg_err *status, lg_errmsg *err) {
    collector c = {0};
    lg_buf_init(&c.out, 1 << 24);
    lg_csv_limits lim = {0, 0, engine};
    lg_csv_reader *r;
    assert_int_equal(lg_csv_reader_new(&lim, collect_row, skip_bad ? collect_bad : NULL, &c, &r, err), LG_OK);
    c.r = r;
    lg_err e = LG_OK;
    if (!step) step = len ? len : 1;
    for (size_t off = 0; off < len && !e; off += step)
        e = lg_csv_feed(r, text + off, len - off < step ? len - off : step, err);
    if (!e) e = lg_csv_finish(r, err);
    lg_csv_reader_free(r);
    *status = e;
    char *s = lg_strdup(lg_buf_cstr(&c.out));
    lg_buf_free(&c.out);
    return s;
}

static void expect_rows(const char *text, const char *expected) {
    for (int engine = 0; engine < 2; engine++) {
        for (size_t step = 0; step <= 7; step++) {
            lg_err st;
            lg_errmsg err = {{0}};
            char *got = parse(text, strlen(text), step, (lg_csv_engine)engine, 0, &st, &err);
            if (st != LG_OK || strcmp(got, expected) != 0) {
                print_error("engine %d step %zu: status %d (%s)\n got:\n%s\n expected:\n%s\n", engine,
                            step, st, err.msg, got, expected);
                free(got);
                fail();
            }
            free(got);
        }
    }
}

static void expect_error(const char *text, const char *msg_part) {
    for (int engine = 0; engine < 2; engine++) {
        lg_err st;
        lg_errmsg err = {{0}};
        char *got = parse(text, strlen(text), 0, (lg_csv_engine)engine, 0, &st, &err);
        free(got);
        if (st == LG_OK || !strstr(err.msg, msg_part)) {
            print_error("engine %d: status %d, message '%s', expected one containing '%s'\n", engine,
                        st, err.msg, msg_part);
            fail();
        }
    }
}

/* ---- RFC 4180 ------------------------------------------------------------ */

static void test_plain(void **state) {
    (void)state;
    expect_rows("a,b\n1,2\n", "a|b@1\n1|2@2\n");
    expect_rows("a,b\n1,2", "a|b@1\n1|2@2\n");           /* no final newline */
    expect_rows("a,b\r\n1,2\r\n", "a|b@1\n1|2@2\n");     /* CRLF */
    expect_rows("a,,c\n,,\n", "a||c@1\n||@2\n");          /* empty fields */
    expect_rows("a,b\n\n\n1,2\n", "a|b@1\n1|2@4\n");      /* blank lines skipped */
    expect_rows(" a , b \n", " a | b @1\n");              /* unquoted blanks kept */
}

static void test_quotes(void **state) {
    (void)state;
    expect_rows("\"a,b\",c\n", "a,b|c@1\n");
    expect_rows("\"say \"\"hi\"\"\",x\n", "say \"hi\"|x@1\n");
    expect_rows("\"multi\nline\",x\ny,z\n", "multi\nline|x@1\ny|z@3\n");
    expect_rows("\"\",\"\"\n", "|@1\n");
    expect_rows("\"a\r\nb\",c\r\n", "a\r\nb|c@1\n");
}

static void test_bom(void **state) {
    (void)state;
    expect_rows("\xEF\xBB\xBFsource,log_message\nA,b\n", "source|log_message@1\nA|b@2\n");
}

static void test_blank_before_quote(void **state) {
    (void)state;
    /* the prototype's sample: ModernCRM, "IP ..." */
    expect_rows("source,log_message\nModernCRM, \"IP 1.2.3.4 blocked, maybe\"\n",
                "source|log_message@1\nModernCRM|IP 1.2.3.4 blocked, maybe@2\n");
    expect_rows("a,   \"b\"  ,c\n", "a|b|c@1\n"); /* blanks after the closing quote too */
    expect_rows("a, b\n", "a| b@1\n");           /* not before a quote: kept */
}

static void test_errors_name_lines(void **state) {
    (void)state;
    expect_error("a,b\n1,2\n\"open,3\n4,5\n", "line 3: unterminated quoted field");
    expect_error("a,b\n1,x\"y\n", "line 2: malformed quoting");
    expect_error("a,b\n\"x\"y,1\n", "line 2: malformed quoting");
}

static void test_skip_bad_rows(void **state) {
    (void)state;
    for (int engine = 0; engine < 2; engine++) {
        lg_err st;
        lg_errmsg err;
        const char *text = "a,b\n1,x\"y\n3,4\n";
        char *got = parse(text, strlen(text), 0, (lg_csv_engine)engine, 1, &st, &err);
        assert_int_equal(st, LG_OK);
        assert_string_equal(got, "a|b@1\nBAD@2:" "malformed quoting (a quote inside an unquoted "
                                 "field, or text after a closing quote)\n3|4@3\n");
        free(got);
    }
}

/* Under skip, a bad row spanning lines costs only its first line: the lines
 * after it are read again as rows (issue 14, item 2). Same rendering for
 * both engines and every feed size. */
static void expect_skip(const char *text, const char *expected) {
    terse_bad = 1;
    expect_header = 1;
    for (int engine = 0; engine < 2; engine++)
        for (size_t step = 0; step <= 7; step++) {
            lg_err st;
            lg_errmsg err = {{0}};
            char *got = parse(text, strlen(text), step, (lg_csv_engine)engine, 1, &st, &err);
            if (st != LG_OK || strcmp(got, expected) != 0) {
                print_error("engine %d step %zu: status %d (%s)\n got:\n%s\n expected:\n%s\n",
                            engine, step, st, err.msg, got, expected);
                free(got);
                fail();
            }
            free(got);
        }
    terse_bad = 0;
    expect_header = 0;
}

static void test_skip_resynchronises(void **state) {
    (void)state;
    /* the case: an unterminated quote on line 5 of 6 rows */
    expect_skip("source,log_message\nS,a\nS,b\nS,c\nS,\"unterminated\nS,d\nS,e\n",
                "source|log_message@1\nS|a@2\nS|b@3\nS|c@4\nBAD@5:\nS|d@6\nS|e@7\n");
    /* the same without a final newline */
    expect_skip("h,m\nS,\"open\nS,d\nS,e", "h|m@1\nBAD@2:\nS|d@3\nS|e@4\n");
    /* a quote that closes lines later with text after it */
    expect_skip("h,m\nS,\"abc\nS,d\nS,\"e\"\nS,f\n",
                "h|m@1\nBAD@2:\nS|d@3\nS|e@4\nS|f@5\n");
    /* a multi-line row with the wrong field count: first line skipped, the
     * next lines read again (one of them bad on its own) */
    expect_skip("h,m\nS,\"x\ny\",extra\nS,z\n", "h|m@1\nBAD@2:\nBAD@3:\nS|z@4\n");
    /* a good multi-line row stays one row */
    expect_skip("h,m\nS,\"x\ny\"\nS,z\n", "h|m@1\nS|x\ny@2\nS|z@4\n");
    /* bad rows inside the re-read lines: re-read again */
    expect_skip("h,m\nS,\"a\nS,\"b\nS,c\n", "h|m@1\nBAD@2:\nBAD@3:\nS|c@4\n");
    /* a multi-line row that goes bad at the input's last byte (text after
     * its closing quote): its later lines are read again too (they were
     * lost when the whole input came in one piece; found by fuzz_csv) */
    expect_skip("h,m\nS,\"abc\nS,d\nS,e\"x", "h|m@1\nBAD@2:\nS|d@3\nBAD@4:\n");
    /* a row bad on its first line does not run on into the next */
    expect_skip("h,m\nS,x\"y,\"q\nS,w\n", "h|m@1\nBAD@2:\nS|w@3\n");
}

static void test_limits(void **state) {
    (void)state;
    for (int engine = 0; engine < 2; engine++) {
        collector c = {0};
        lg_buf_init(&c.out, 1 << 20);
        lg_csv_limits lim = {16, 3, (lg_csv_engine)engine};
        lg_csv_reader *r;
        lg_errmsg err;
        assert_int_equal(lg_csv_reader_new(&lim, collect_row, collect_bad, &c, &r, &err), LG_OK);
        /* exactly 16 bytes and 3 fields pass; 17 bytes and 4 fields do not */
        const char *text = "a,b\n0123456789abcdefXYZ,1\n1,2,3,4\n5,6\n0123456789abcdef,x,y\n"
                           "0123456789abcdefg,2\n";
        assert_int_equal(lg_csv_feed(r, text, strlen(text), &err), LG_OK);
        assert_int_equal(lg_csv_finish(r, &err), LG_OK);
        assert_string_equal(lg_buf_cstr(&c.out),
                            "a|b@1\nBAD@2:field longer than 16 bytes (an unterminated quote?)\n"
                            "BAD@3:more than 3 fields\n5|6@4\n0123456789abcdef|x|y@5\n"
                            "BAD@6:field longer than 16 bytes (an unterminated quote?)\n");
        lg_csv_reader_free(r);
        lg_buf_free(&c.out);
    }
}

static void test_callback_error_stops(void **state) {
    (void)state;
    collector c = {0};
    c.stop_at = 2;
    lg_buf_init(&c.out, 1 << 20);
    lg_csv_reader *r;
    lg_errmsg err;
    assert_int_equal(lg_csv_reader_new(NULL, collect_row, NULL, &c, &r, &err), LG_OK);
    assert_int_equal(lg_csv_feed(r, "a\nb\nc\n", 6, &err), LG_EINVAL);
    assert_string_equal(err.msg, "stop");
    lg_csv_reader_free(r);
    lg_buf_free(&c.out);
}

static void test_invalid_utf8_kept(void **state) {
    (void)state;
    expect_rows("m\n\xff\xfe bad \xc3\n", "m@1\n\xff\xfe bad \xc3@2\n");
}

/* ---- Differential: the fast engine against libcsv on random inputs ------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

static void test_engines_agree_on_random_input(void **state) {
    (void)state;
    static const char alphabet[] = {'a', 'b', ',', '"', '\n', '\r', ' ', '\t', 'x', '\xc3', '\xa9', '1'};
    char text[96];
    int compared = 0;
    terse_bad = 1;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = rnd() % sizeof text;
        for (size_t i = 0; i < len; i++) text[i] = alphabet[rnd() % sizeof alphabet];
        lg_err s1, s2;
        lg_errmsg e1 = {{0}}, e2 = {{0}};
        expect_header = iter & 1; /* half the rounds resynchronise on field counts */
        char *a = parse(text, len, 1 + rnd() % 9, LG_CSV_FAST, 1, &s1, &e1);
        char *b = parse(text, len, 0, LG_CSV_LIBCSV, 1, &s2, &e2);
        if (s1 != s2 || strcmp(a, b) != 0) {
            for (size_t i = 0; i < len; i++) print_error("%02x ", (unsigned char)text[i]);
            print_error("\n");
            print_error("engines disagree on %zu bytes: fast=%d '%s'\n%s\nlibcsv=%d '%s'\n%s\n", len,
                        s1, e1.msg, a, s2, e2.msg, b);
            free(a);
            free(b);
            fail();
        }
        compared++;
        free(a);
        free(b);
    }
    terse_bad = 0;
    expect_header = 0;
    assert_int_equal(compared, 20000);
}

/* ---- Writers ---------------------------------------------------------------- */

static void test_put_field(void **state) {
    (void)state;
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    const char *cases[][2] = {
        {"plain", "plain"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {" lead", "\" lead\""},
        {"a long field of more than sixteen bytes, with a comma", "\"a long field of more than sixteen bytes, with a comma\""},
        {"a long field of more than sixteen bytes without one", "a long field of more than sixteen bytes without one"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lg_buf_reset(&b);
        assert_int_equal(lg_csv_put_field(&b, cases[i][0], strlen(cases[i][0])), LG_OK);
        assert_string_equal(lg_buf_cstr(&b), cases[i][1]);
        /* and it reads back */
        lg_buf_putc(&b, '\n');
        lg_err st;
        lg_errmsg err;
        char *got = parse(b.data, b.len, 0, LG_CSV_FAST, 0, &st, &err);
        assert_int_equal(st, LG_OK);
        char want[256];
        snprintf(want, sizeof want, "%s@1\n", cases[i][0]);
        if (*cases[i][0]) assert_string_equal(got, want);
        free(got);
    }
    lg_buf_free(&b);
}

static void test_json_string(void **state) {
    (void)state;
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    const char in[] = "q\"b\\ \n\t\x01 caf\xc3\xa9 \xff end";
    assert_int_equal(lg_json_put_string(&b, in, sizeof in - 1), LG_OK);
    assert_string_equal(lg_buf_cstr(&b), "\"q\\\"b\\\\ \\n\\t\\u0001 caf\xc3\xa9 \\ufffd end\"");
    lg_buf_free(&b);
}

/* The edges of valid UTF-8 (RFC 3629): the last and first code points on
 * each side of the surrogates, the overlong forms and the end of Unicode.
 * Each byte of an invalid sequence becomes one U+FFFD. */
static void test_json_utf8_edges(void **state) {
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"\xed\x9f\xbf", "\xed\x9f\xbf"},          /* U+D7FF: kept */
        {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"}, /* U+D800, first surrogate */
        {"\xed\xaf\xbf", "\\ufffd\\ufffd\\ufffd"}, /* U+DBFF, last high surrogate */
        {"\xed\xb0\x80", "\\ufffd\\ufffd\\ufffd"}, /* U+DC00 */
        {"\xed\xbf\xbf", "\\ufffd\\ufffd\\ufffd"}, /* U+DFFF */
        {"\xee\x80\x80", "\xee\x80\x80"},          /* U+E000: kept */
        {"\xe0\xa0\x80", "\xe0\xa0\x80"},          /* U+0800: kept */
        {"\xe0\x9f\xbf", "\\ufffd\\ufffd\\ufffd"}, /* overlong U+07FF */
        {"\xc1\xbf", "\\ufffd\\ufffd"},            /* overlong U+007F */
        {"\xc2\x80", "\xc2\x80"},                  /* U+0080: kept */
        {"\xf0\x90\x80\x80", "\xf0\x90\x80\x80"},  /* U+10000: kept */
        {"\xf0\x8f\xbf\xbf", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* overlong */
        {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},  /* U+10FFFF: kept */
        {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"}, /* past U+10FFFF */
        {"\xe2\x82", "\\ufffd\\ufffd"},            /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lg_buf b;
        lg_buf_init(&b, 256);
        assert_int_equal(lg_json_put_string(&b, cases[i].in, strlen(cases[i].in)), LG_OK);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", cases[i].want);
        if (strcmp(lg_buf_cstr(&b), want)) fail_msg("case %zu: got %s", i, lg_buf_cstr(&b));
        lg_buf_free(&b);
    }
}

static void test_buf_cap(void **state) {
    (void)state;
    lg_buf b;
    lg_buf_init(&b, 8);
    assert_int_equal(lg_buf_append(&b, "12345678", 8), LG_OK);
    assert_int_equal(lg_buf_putc(&b, '9'), LG_ELIMIT);
    assert_int_equal(b.len, 8);
    assert_string_equal(lg_buf_cstr(&b), "12345678");
    lg_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_json_utf8_edges),
        cmocka_unit_test(test_quotes),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_blank_before_quote),
        cmocka_unit_test(test_errors_name_lines),
        cmocka_unit_test(test_skip_bad_rows),
        cmocka_unit_test(test_skip_resynchronises),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_invalid_utf8_kept),
        cmocka_unit_test(test_engines_agree_on_random_input),
        cmocka_unit_test(test_put_field),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_buf_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
