/* test_server_json.c - the reader of POST /v1/classify bodies
 * (src/server/server_json.c, srv_json_parse): what it decodes (every
 * escape, surrogate pairs, null sources, members it skips), what is not
 * JSON (each with "line L, column C: what"), what is JSON of the wrong
 * shape (pydantic's 422 fields: type, message, index, field) and its
 * limits (logs per body, decoded bytes). The HTTP side is tests/http. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "server/server_json.h"

static int mismatches; /* reported all at once, then the test fails */

static void expect_syntax(const char *text, const char *want) {
    srv_json_logs o;
    srv_json_logs_init(&o, 1 << 16, 100);
    char err[128] = "";
    int rc = srv_json_parse(text, strlen(text), &o, err, sizeof err);
    if (rc != -1 || strcmp(err, want) != 0) {
        print_error("'%s': rc %d '%s', want '%s'\n", text, rc, err, want);
        mismatches++;
    }
    srv_json_logs_free(&o);
}

static void expect_shape(const char *text, const char *type, const char *msg, long index, const char *field) {
    srv_json_logs o;
    srv_json_logs_init(&o, 1 << 16, 100);
    char err[128] = "";
    int rc = srv_json_parse(text, strlen(text), &o, err, sizeof err);
    if (rc != 0 || !o.invalid || strcmp(o.type, type) || strcmp(o.msg, msg) || o.index != index ||
        strcmp(o.field, field))
        fail_msg("'%s': rc %d err '%s' invalid %d '%s' '%s' %ld '%s'", text, rc, err, o.invalid, o.type, o.msg,
                 o.index, o.field);
    srv_json_logs_free(&o);
}

static void test_decodes(void **state) {
    (void)state;
    const char *text = "{\"model\": {\"a\": [1, -2.5e+3, 0.25E-1, true, false, null, {}, []]},\n"
                       " \"logs\": [{\"source\": \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00z\",\n"
                       "            \"log_message\": \"m1\", \"extra\": [[{\"x\": \"y\"}]]},\n"
                       "           {\"source\": null, \"log_message\": \"\"}]}";
    srv_json_logs o;
    srv_json_logs_init(&o, 1 << 16, 100);
    char err[128] = "";
    assert_int_equal(srv_json_parse(text, strlen(text), &o, err, sizeof err), 0);
    assert_int_equal(o.invalid, 0);
    assert_int_equal(o.n, 2);
    const srv_json_log *l = &o.logs[0];
    assert_true(l->has_source && l->has_message);
    const char *want = "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80z";
    assert_int_equal(l->source_len, strlen(want));
    assert_memory_equal(o.arena.data + l->source_off, want, strlen(want) + 1);
    assert_string_equal(o.arena.data + l->message_off, "m1");
    assert_int_equal(o.logs[1].has_source, 0); /* null: as if absent */
    assert_int_equal(o.logs[1].has_message, 1);
    assert_int_equal(o.logs[1].message_len, 0);
    /* "logs" given twice: the last one counts */
    const char *twice = "{\"logs\": [{\"log_message\": \"a\"}], \"logs\": [{\"log_message\": \"b\"}, "
                        "{\"log_message\": \"c\"}]}";
    assert_int_equal(srv_json_parse(twice, strlen(twice), &o, err, sizeof err), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.arena.data + o.logs[1].message_off, "c");
    assert_int_equal(srv_json_parse("{\"logs\": []}", 12, &o, err, sizeof err), 0);
    assert_int_equal(o.n, 0);
    assert_int_equal(o.invalid, 0);
    srv_json_logs_free(&o);
}

static void test_not_json(void **state) {
    (void)state;
    expect_syntax("", "line 1, column 1: unexpected end of input");
    expect_syntax("{\"logs\": [}", "line 1, column 11: invalid value");
    expect_syntax("{\"logs\": []} x", "line 1, column 14: end of input expected");
    expect_syntax("[1] 2", "line 1, column 5: end of input expected");
    expect_syntax("{\"logs\" []}", "line 1, column 9: ':' expected");
    expect_syntax("{\"logs\": [{\"log_message\": \"a\"}", "line 1, column 31: unexpected end of input");
    expect_syntax("{\"a\": tru}", "line 1, column 7: invalid value");
    expect_syntax("{\"a\": nul, \"logs\": []}", "line 1, column 7: invalid value");
    expect_syntax("{\"a\": 01}", "line 1, column 8: '}' expected");
    expect_syntax("{\"a\": 1.}", "line 1, column 9: invalid number");
    expect_syntax("{\"a\": 1e+}", "line 1, column 10: invalid number");
    expect_syntax("{\"a\": -}", "line 1, column 7: invalid value");
    expect_syntax("{\"a\":\n  [1,\n   2,\n   ]}", "line 4, column 4: invalid value");
    expect_syntax("{\"a\": \"x\\q\"}", "line 1, column 9: invalid escape");
    expect_syntax("{\"a\": \"x\\u12G4\"}", "line 1, column 9: invalid \\u escape");
    expect_syntax("{\"a\": \"\\ud83d\"}", "line 1, column 8: invalid \\u surrogate pair");
    expect_syntax("{\"a\": \"\\ud83d\\u0041\"}", "line 1, column 8: invalid \\u surrogate pair");
    expect_syntax("{\"a\": \"\\ude00 \"}", "line 1, column 8: invalid \\u surrogate pair");
    expect_syntax("{\"a\": \"\\u0000\"}", "line 1, column 8: \\u0000 is not allowed");
    expect_syntax("{\"a\": \"tab\there\"}", "line 1, column 11: control character in a string");
    expect_syntax("{\"a\": \"\xc3\x28\"}", "line 1, column 8: invalid UTF-8 in a string");
    expect_syntax("{\"a\": \"open", "line 1, column 12: unterminated string");
    expect_syntax("{\"a\": \"x\\", "line 1, column 9: unterminated string");
    expect_syntax("{1: 2}", "line 1, column 2: string expected");
    assert_int_equal(mismatches, 0);
}

static void test_wrong_shape(void **state) {
    (void)state;
    expect_shape("[1, 2]", "model_attributes_type", "Input should be an object", -1, "");
    expect_shape("{\"log\": []}", "missing", "Field required", -1, "logs");
    expect_shape("{\"logs\": {\"log_message\": \"a\"}}", "list_type", "Input should be a valid list", -1, "logs");
    expect_shape("{\"logs\": [{\"log_message\": \"a\"}, 7]}", "model_attributes_type",
                 "Input should be an object", 1, "");
    expect_shape("{\"logs\": [{\"log_message\": \"a\"}, {\"source\": \"s\"}]}", "missing", "Field required", 1,
                 "log_message");
    expect_shape("{\"logs\": [{\"log_message\": 5}]}", "string_type", "Input should be a valid string", 0,
                 "log_message");
    expect_shape("{\"logs\": [{\"log_message\": \"a\", \"source\": [\"s\"]}]}", "string_type",
                 "Input should be a valid string", 0, "source");
    expect_shape("{\"logs\": [{\"log_message\": null}]}", "string_type", "Input should be a valid string", 0,
                 "log_message");
}

static void test_limits(void **state) {
    (void)state;
    srv_json_logs o;
    srv_json_logs_init(&o, 1 << 16, 2);
    char err[128] = "";
    const char *three = "{\"logs\": [{\"log_message\": \"a\"}, {\"log_message\": \"b\"}, {\"log_message\": \"c\"}]}";
    assert_int_equal(srv_json_parse(three, strlen(three), &o, err, sizeof err), -1);
    assert_int_equal(o.too_many, 1);
    assert_string_equal(err, "line 1, column 75: too many logs");
    srv_json_logs_free(&o);
    /* 40 logs: the slots grow past their first 16 */
    srv_json_logs_init(&o, 1 << 16, 40);
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    lg_buf_printf(&b, "{\"logs\": [");
    for (int i = 0; i < 40; i++) lg_buf_printf(&b, "%s{\"log_message\": \"m%d\"}", i ? ", " : "", i);
    lg_buf_printf(&b, "]}");
    assert_int_equal(srv_json_parse(b.data, b.len, &o, err, sizeof err), 0);
    assert_int_equal(o.n, 40);
    assert_string_equal(o.arena.data + o.logs[39].message_off, "m39");
    srv_json_logs_free(&o);
    lg_buf_free(&b);
    /* decoded strings beyond the arena's cap */
    srv_json_logs_init(&o, 8, 10);
    const char *big = "{\"logs\": [{\"log_message\": \"abcdefghijkl\"}]}";
    assert_int_equal(srv_json_parse(big, strlen(big), &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "string too large"));
    const char *esc = "{\"logs\": [{\"log_message\": \"\\n\\n\\n\\n\\n\\n\\n\\n\\n\"}]}";
    assert_int_equal(srv_json_parse(esc, strlen(esc), &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "string too large"));
    const char *uni = "{\"logs\": [{\"log_message\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}]}";
    assert_int_equal(srv_json_parse(uni, strlen(uni), &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "string too large"));
    srv_json_logs_free(&o);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
