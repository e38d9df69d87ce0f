/* test_kafka_msg.c - the worker's message conversion without a broker:
 * kafka_json.c's scanner against jansson (the same texts accepted, the same
 * field values, on hand-made cases and on thousands of seeded mutations of
 * them), and kmsg_parse / kmsg_format on good and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/kafka_int.h"

/* ---- scanner vs jansson --------------------------------------------------------- */

static const char *const corpus[] = {
    "{}", " { } ", "{\"source\":\"A\",\"log_message\":\"m\"}", "[]", "[1,2,[3,{}]]", "\"s\"", "0", "-0",
    "1.5e+3", "-12.25E-2", "true", "false", "null", "{\"a\":{\"b\":[true,false,null]}}",
    "{\"source\":\"S\\u00e9\\ud83d\\ude00\",\"log_message\":\"tab\\there \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\"}",
    "{\"source\":\"x\",\"source\":\"y\",\"log_message\":\"last wins\"}",
    "{\"sou\\u0072ce\":\"escaped key\",\"log_message\":\"m\"}",
    "{\"source\":1,\"log_message\":\"m\"}", "{\"source\":\"a\"}", "{\"log_message\":{\"x\":1}}",
    /* invalid */
    "", " ", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{a:1}", "01", "1.",
    ".5", "-", "1e", "1e+", "+1", "tru", "nul", "\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u0000\"", "\"\\udc00\"",
    "\"\\ud800\"", "\"\\ud800\\u0041\"", "\"a\tb\"", "{}x", "{} {}", "[", "]", "{\"a\":[}", "'s'", "NaN",
    "{\"a\":1}}", "[[[]]", "\"\\", "{\"\\u00\":1}",
};

/* jansson's verdict: 0 object, 2 other JSON, 1 not JSON; -1 a number it cannot hold */
static int jansson_verdict(const char *s, size_t n) {
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY, &je);
    if (!j) return json_error_code(&je) == json_error_numeric_overflow ? -1 : 1;
    int r = json_is_object(j) ? 0 : 2;
    json_decref(j);
    return r;
}

static kjson_field fields2[2];

static int scan_verdict(const char *s, size_t n) {
    fields2[0].name = "source";
    fields2[0].name_len = 6;
    fields2[1].name = "log_message";
    fields2[1].name_len = 11;
    if (kmsg_utf8_check(s, n) < n) return 1;
    size_t members, at;
    const char *why;
    return kjson_scan(s, n, fields2, 2, &members, &at, &why);
}

/* On an object both accept: the fields found alike, with the same values. */
static void same_fields(const char *s, size_t n) {
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY, NULL);
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(j, fields2[i].name);
        int want = !v ? 0 : json_is_string(v) ? 1 : 2;
        assert_int_equal(fields2[i].found, want);
        if (want != 1) continue;
        char *buf = malloc(fields2[i].raw_len + 1);
        size_t len = fields2[i].escaped ? kjson_unescape(fields2[i].raw, fields2[i].raw_len, buf)
                                        : fields2[i].raw_len;
        if (!fields2[i].escaped) memcpy(buf, fields2[i].raw, len);
        assert_int_equal(len, json_string_length(v));
        assert_memory_equal(buf, json_string_value(v), len);
        free(buf);
    }
    json_decref(j);
}

static void check_one(const char *s, size_t n) {
    int want = jansson_verdict(s, n);
    if (want < 0) return; /* numbers beyond long long / double: the scanner takes them (RFC 8259) */
    int got = scan_verdict(s, n);
    if (got != want) fail_msg("'%.*s': jansson %d, scanner %d", (int)n, s, want, got);
    if (got == 0) same_fields(s, n);
}

static void test_scanner_agrees_with_jansson(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) check_one(corpus[i], strlen(corpus[i]));
}

static void test_scanner_agrees_on_mutations(void **state) {
    (void)state;
    static const char alphabet[] = "{}[]\":,\\u0aeE+-.1 tfn\t\x01\xc3\xa9";
    uint64_t seed = 42;
    char buf[256];
    for (int round = 0; round < 20000; round++) {
        const char *base = corpus[round % (sizeof corpus / sizeof *corpus)];
        size_t n = strlen(base);
        memcpy(buf, base, n);
        int edits = 1 + (int)(round % 3);
        for (int k = 0; k < edits; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = n ? (seed >> 33) % (n + 1) : 0;
            char c = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
            int op = (int)((seed >> 10) % 3);
            if (op == 0 && n < sizeof buf - 1) { /* insert */
                memmove(buf + pos + 1, buf + pos, n - pos);
                buf[pos] = c;
                n++;
            } else if (op == 1 && pos < n) { /* replace */
                buf[pos] = c;
            } else if (pos < n) { /* delete */
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
            }
        }
        check_one(buf, n);
    }
}

/* The string scan tests 16 bytes at a time (SSE2), then 8, then one:
 * each byte a string cannot hold as it is (controls 0x00-0x1f, '"', '\\')
 * and its neighbours (' ', 0x7f), at every offset of a 40-byte string. */
static void test_scan_every_byte_at_every_offset(void **state) {
    (void)state;
    static const unsigned char extra[] = {' ', 0x7f, '"', '\\', '/'};
    char buf[80];
    const char *head = "{\"log_message\":\"";
    size_t h = strlen(head);
    for (unsigned b = 0; b < 0x20 + sizeof extra; b++) {
        unsigned char c = b < 0x20 ? (unsigned char)b : extra[b - 0x20];
        for (size_t at = 0; at < 40; at++) {
            memcpy(buf, head, h);
            memset(buf + h, 'a', 40);
            buf[h + at] = (char)c;
            memcpy(buf + h + 40, "\"}", 2);
            check_one(buf, h + 42);
        }
    }
}

static void test_depth_limit(void **state) {
    (void)state;
    size_t n = 2049;
    char *s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    check_one(s, 2 * n); /* one past jansson's depth: both refuse */
    check_one(s + 1, 2 * n - 2); /* at the limit: both accept */
    free(s);
}

/* ---- kmsg ------------------------------------------------------------------------ */

static kmsg_opts opts(void) {
    kmsg_opts o = {"source", "log_message", NULL, 1024};
    return o;
}

static char *format(const kmsg_opts *o, const char *v, const char *label, int explain) {
    kmsg m;
    size_t n = strlen(v);
    assert_int_equal(kmsg_parse(o, v, n, &m, NULL), LG_OK);
    lg_record rec;
    memset(&rec, 0, sizeof rec);
    rec.label = label;
    rec.stage = LG_STAGE_RULES;
    rec.confidence = 1;
    snprintf(rec.detail, sizeof rec.detail, "rule r1");
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    assert_int_equal(kmsg_format(o, &m, v, n, m.reason[0] ? NULL : &rec, explain, explain ? "00000000000000ab" : NULL, &b),
                     LG_OK);
    char *s = strdup(lg_buf_cstr(&b));
    lg_buf_free(&b);
    kmsg_clear(&m);
    return s;
}

static void expect_format(const kmsg_opts *o, const char *v, int explain, const char *want) {
    char *got = format(o, v, "Security Alert", explain);
    assert_string_equal(got, want);
    free(got);
}

static void test_good_objects_keep_their_bytes(void **state) {
    (void)state;
    kmsg_opts o = opts();
    expect_format(&o, "{\"z\":1.50, \"source\":\"S\",\"log_message\":\"m\\u00e9\" , \"k\":[1] }\n", 0,
                  "{\"z\":1.50, \"source\":\"S\",\"log_message\":\"m\\u00e9\" , \"k\":[1],"
                  "\"target_label\":\"Security Alert\"}");
    expect_format(&o, "{\"source\":\"S\",\"log_message\":\"m\"}", 1,
                  "{\"source\":\"S\",\"log_message\":\"m\",\"target_label\":\"Security Alert\",\"stage\":\"rules\","
                  "\"confidence\":1.0000,\"detail\":\"rule r1\",\"template_id\":\"00000000000000ab\"}");
    /* one of ours already there: replaced, not repeated */
    expect_format(&o, "{\"target_label\":\"old\",\"source\":\"S\",\"log_message\":\"m\"}", 0,
                  "{\"source\":\"S\",\"log_message\":\"m\",\"target_label\":\"Security Alert\"}");
    o.source_field = "app";
    o.message_field = "msg";
    expect_format(&o, "{\"app\":\"S\",\"msg\":\"m\"}", 0,
                  "{\"app\":\"S\",\"msg\":\"m\",\"target_label\":\"Security Alert\"}");
}

static void test_parse_unescapes(void **state) {
    (void)state;
    kmsg_opts o = opts();
    kmsg m;
    const char *v = "{\"source\":\"A\\u00e9\",\"log_message\":\"x\\ny \\ud83d\\ude00\"}";
    assert_int_equal(kmsg_parse(&o, v, strlen(v), &m, NULL), LG_OK);
    assert_string_equal(m.reason, "");
    assert_string_equal(m.source, "A\xc3\xa9");
    assert_string_equal(m.message, "x\ny \xf0\x9f\x98\x80");
    assert_int_equal(m.message_len, 8);
    kmsg_clear(&m);
}

static void expect_bad_as(const kmsg_opts *o, const char *v, size_t n, const char *reason_prefix, int rewrite_too) {
    kmsg m;
    assert_int_equal(kmsg_parse(o, v, n, &m, NULL), LG_OK);
    if (strncmp(m.reason, reason_prefix, strlen(reason_prefix)))
        fail_msg("'%.*s': reason '%s', expected '%s...'", (int)(n > 60 ? 60 : n), v, m.reason, reason_prefix);
    lg_buf b;
    lg_buf_init(&b, 1 << 20);
    assert_int_equal(kmsg_format(o, &m, v, n, NULL, 0, NULL, &b), LG_OK);
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL); /* always valid JSON, whatever came in */
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "target_label")), "Unclassified");
    const char *error = json_string_value(json_object_get(j, "error"));
    assert_non_null(error);
    if (strncmp(error, m.reason, strlen(m.reason))) /* the reason first, perhaps more after it */
        fail_msg("error '%s' does not start with the reason '%s'", error, m.reason);
    if (rewrite_too && !strstr(error, "; the object has a field logify writes and a number too large"))
        fail_msg("error '%s' does not say why the object was not rewritten", error);
    json_decref(j);
    lg_buf_free(&b);
    kmsg_clear(&m);
}

static void expect_bad(const kmsg_opts *o, const char *v, size_t n, const char *reason_prefix) {
    expect_bad_as(o, v, n, reason_prefix, 0);
}

static void test_bad_values(void **state) {
    (void)state;
    kmsg_opts o = opts();
    expect_bad(&o, "", 0, "empty value");
    expect_bad(&o, "{\"source\":\"S\",\"log_message\":\"unterminated", 40, "invalid JSON at byte 40: premature end of input in a string");
    expect_bad(&o, "{\"source\":\"S\"}", 14, "missing field 'log_message'");
    expect_bad(&o, "{\"source\":2,\"log_message\":\"m\"}", 30, "field 'source' is not a string");
    expect_bad(&o, "[1]", 3, "the value is JSON but not an object");
    expect_bad(&o, "{\"source\":\"S\",\"log_message\":\"\xff\"}", 32, "invalid UTF-8 at byte 29");
    expect_bad(&o, "{\"source\":\"S\",\"log_message\":\"\\u0000\"}", 37, "invalid JSON at byte 30: \\u0000 is not allowed");
    char big[2000];
    memset(big, 'x', sizeof big);
    expect_bad(&o, big, sizeof big, "value of 2000 bytes is over the limit of 1024 bytes");
    /* a field of ours and a number no double holds: still an answer */
    expect_bad(&o, "{\"error\":1,\"n\":1e999,\"source\":\"S\",\"log_message\":\"m\"}", 51, "");
    /* bad, and not rewritable either: its own reason stays first (found by
     * fuzz/fuzz_kafka_msg.c: the rewrite's reason used to replace it) */
    const char *both = "{\"sourae\":\"S\",\"log_message\":\"m\",\"target_label\":\"x\",\"n\":1e999}";
    expect_bad_as(&o, both, strlen(both), "missing field 'source'", 1);
}

static void test_plain_text(void **state) {
    (void)state;
    kmsg_opts o = opts();
    o.plain_source = "ModernCRM";
    expect_format(&o, "User \"U1\" logged in", 0,
                  "{\"source\":\"ModernCRM\",\"log_message\":\"User \\\"U1\\\" logged in\","
                  "\"target_label\":\"Security Alert\"}");
    expect_bad(&o, "a\0b", 3, "NUL byte at 1");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_agrees_with_jansson),
        cmocka_unit_test(test_scanner_agrees_on_mutations),
        cmocka_unit_test(test_scan_every_byte_at_every_offset),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_good_objects_keep_their_bytes),
        cmocka_unit_test(test_parse_unescapes),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_plain_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
