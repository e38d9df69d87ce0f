/* test_safetensors.c - the safetensors header validator (src/bert/safetensors.c)
 * on hand-built files: a valid one, then every kind of damage (short file,
 * header length past the end, not JSON, unknown dtype, shape vs byte range,
 * offsets outside the data, overlapping tensors, duplicate names); and the
 * F16/BF16 -> F32 conversions. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bert/sbert_internal.h"

/* Builds header + data into buf; returns the total length. */
static size_t build(uint8_t *buf, const char *header, const void *data, size_t dlen) {
    size_t hl = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (dlen) memcpy(buf + 8 + hl, data, dlen);
    return 8 + hl + dlen;
}

static lg_err parse(const char *header, const void *data, size_t dlen, lg_errmsg *err) {
    static uint8_t buf[4096];
    size_t n = build(buf, header, data, dlen);
    lg_safetensors st;
    lg_err e = lg_safetensors_parse(buf, n, "t.safetensors", &st, err);
    if (!e) lg_safetensors_close(&st);
    return e;
}

static void test_valid(void **state) {
    (void)state;
    float data[6] = {1, 2, 3, 4, 5, 6};
    uint8_t buf[512];
    size_t n = build(buf,
                     "{\"__metadata__\":{\"format\":\"pt\"},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                     data, sizeof data);
    lg_safetensors st;
    lg_errmsg err;
    assert_int_equal(lg_safetensors_parse(buf, n, "t", &st, &err), LG_OK);
    assert_int_equal(st.n_tensors, 2);
    const lg_st_tensor *b = lg_safetensors_find(&st, "b");
    assert_non_null(b);
    assert_int_equal(b->ndim, 1);
    assert_int_equal(b->shape[0], 2);
    float out[2];
    lg_st_to_f32(b, out, 2);
    assert_true(out[0] == 5.0f && out[1] == 6.0f);
    assert_null(lg_safetensors_find(&st, "c"));
    lg_safetensors_close(&st);
}

static void test_damage(void **state) {
    (void)state;
    float d[4] = {0};
    lg_errmsg err;
    uint8_t shortbuf[4] = {1, 0, 0, 0};
    lg_safetensors st;
    assert_int_equal(lg_safetensors_parse(shortbuf, 4, "t", &st, &err), LG_EMODEL);
    /* header length beyond the file */
    uint8_t buf[64];
    size_t n = build(buf, "{}", NULL, 0);
    buf[0] = 200;
    assert_int_equal(lg_safetensors_parse(buf, n, "t", &st, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "header length"));
    assert_int_equal(parse("{not json", NULL, 0, &err), LG_EMODEL);
    assert_int_equal(parse("[1,2]", NULL, 0, &err), LG_EMODEL);
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", d, 4, &err),
        LG_EMODEL);
    assert_non_null(strstr(err.msg, "F99"));
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", d, 4, &err),
        LG_EMODEL);
    assert_non_null(strstr(err.msg, "'a'"));
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", d, 4, &err),
        LG_EMODEL);
    assert_non_null(strstr(err.msg, "outside"));
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", d, 8, &err),
        LG_EMODEL);
    assert_int_equal(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                           d, 16, &err),
                     LG_EMODEL);
    assert_non_null(strstr(err.msg, "overlap"));
    /* overlapping by a single byte */
    assert_int_equal(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[3,7]}}",
                           d, 8, &err),
                     LG_EMODEL);
    assert_non_null(strstr(err.msg, "overlap"));
    /* more bytes than the shape needs */
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", d, 8, &err),
        LG_EMODEL);
    assert_non_null(strstr(err.msg, "shape needs 4 bytes"));
    assert_int_equal(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                           d, 8, &err),
                     LG_EMODEL);
    assert_int_equal(
        parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d, 4, &err),
        LG_EMODEL);
    assert_int_equal(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", d, 4, &err), LG_EMODEL);
    assert_int_equal(parse("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                           "\"data_offsets\":[0,4]}}",
                           d, 4, &err),
                     LG_EMODEL);
}

static void test_half_floats(void **state) {
    (void)state;
    /* F16: 1.0, -2.5, smallest subnormal, +inf; BF16: 1.0, -2.5 */
    uint8_t h[8] = {0x00, 0x3c, 0x00, 0xc1, 0x01, 0x00, 0x00, 0x7c};
    uint8_t bf[4] = {0x80, 0x3f, 0x20, 0xc0};
    lg_st_tensor t = {0};
    t.dtype = LG_ST_F16;
    t.data = h;
    float o[4];
    lg_st_to_f32(&t, o, 4);
    assert_true(o[0] == 1.0f);
    assert_true(o[1] == -2.5f);
    assert_true(o[2] == ldexpf(1.0f, -24));
    assert_true(isinf(o[3]) && o[3] > 0);
    t.dtype = LG_ST_BF16;
    t.data = bf;
    lg_st_to_f32(&t, o, 2);
    assert_true(o[0] == 1.0f);
    assert_true(o[1] == -2.5f);
}

static void test_open_missing(void **state) {
    (void)state;
    lg_safetensors st;
    lg_errmsg err;
    assert_int_equal(lg_safetensors_open("/nonexistent/model.safetensors", &st, &err),
                     LG_ENOTFOUND);
    assert_non_null(strstr(err.msg, "/nonexistent/model.safetensors"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_half_floats),
        cmocka_unit_test(test_open_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
