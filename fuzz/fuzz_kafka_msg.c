/* fuzz_kafka_msg.c - libFuzzer harness for the Kafka worker's message
 * conversion (src/kafka/kafka_msg.c, kafka_json.c): any bytes are one
 * input value (the first byte picks plain text or JSON, the field names,
 * the size limit and --explain). Checked on every input:
 *   - the scanner's verdict agrees with jansson's: a value taken as an
 *     object is an object to jansson (or holds a number jansson cannot),
 *     and a JSON object jansson reads is never called invalid JSON;
 *   - a good JSON message's source and message are jansson's strings;
 *   - the output is one JSON object (jansson reads it) whose target_label
 *     is the record's label, or Unclassified with the reason in "error"
 *     for a bad value; every member of an input object other than the
 *     fields logify writes is kept with its value.
 * Build with `make fuzz` (clang -fsanitize=fuzzer); fuzz/replay.c runs the
 * corpus under the normal test suite. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const written[] = {"target_label", "stage", "confidence", "detail", "template_id",
                                      "error",        "raw",   "raw_bytes"};

static int is_written(const char *k) {
    for (size_t i = 0; i < sizeof written / sizeof *written; i++)
        if (!strcmp(k, written[i])) return 1;
    return 0;
}

/* jansson's reading of s: NULL when it is not JSON; *overflow when only a
 * number too large for it stopped it. */
static json_t *jansson(const char *s, size_t n, size_t flags, int *overflow) {
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | flags, &je);
    *overflow = !j && json_error_code(&je) == json_error_numeric_overflow;
    return j;
}

/* obj's member name is a string that starts with want */
static void starts_with(json_t *obj, const char *name, const char *want) {
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || strncmp(json_string_value(v), want, strlen(want))) abort();
}

static void same_string(json_t *obj, const char *name, const char *got, size_t got_len) {
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v) || json_string_length(v) != got_len || memcmp(json_string_value(v), got, got_len))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned opt = size ? data[0] : 0;
    if (size) data++, size--;
    kmsg_opts o = {
        .source_field = (opt & 1) ? "src" : "source",
        .message_field = (opt & 2) ? "msg" : "log_message",
        .plain_source = (opt & 4) ? "Plain" : NULL,
        .max_value = (opt & 8) ? 64 : (size_t)10 << 20,
    };
    int explain = (opt >> 4) & 1;
    const char *value = (const char *)data;
    char *room = malloc(KMSG_ROOM(size));
    if (!room) abort();
    kmsg m;
    if (kmsg_parse(&o, size ? value : NULL, size, &m, room)) abort();
    int bad = m.reason[0] != 0;

    int ov_in = 0;
    json_t *in = size && !o.plain_source ? jansson(value, size, 0, &ov_in) : NULL;
    /* jansson takes a NUL byte after a number as the end of it ({"a":1\0} is
     * an object to it): no JSON text holds a raw NUL, so such values are
     * left out of the comparison */
    if (!o.plain_source && size && size <= o.max_value && kmsg_utf8_check(value, size) == size &&
        !memchr(value, 0, size)) {
        if (m.is_obj && !json_is_object(in) && !ov_in) abort();      /* we took a non-object */
        if (json_is_object(in) && !m.is_obj) abort();                 /* we refused an object */
        if (!bad && json_is_object(in)) {
            same_string(in, o.source_field, m.source, m.source_len);
            same_string(in, o.message_field, m.message, m.message_len);
        }
    }
    if (!bad && (strlen(m.source) != m.source_len || strlen(m.message) != m.message_len)) abort();

    lg_record rec;
    memset(&rec, 0, sizeof rec);
    rec.label = "Security Alert";
    rec.stage = LG_STAGE_RULES;
    rec.confidence = 0.5;
    snprintf(rec.detail, sizeof rec.detail, "rule 'r' (line 3)");
    lg_buf out;
    lg_buf_init(&out, (size_t)64 << 20);
    if (kmsg_format(&o, &m, size ? value : NULL, size, &rec, explain, "0123456789abcdef", &out)) abort();

    int ov_out = 0;
    /* raw may quote a NUL of a plain-text value as \u0000: valid JSON */
    json_t *j = jansson(out.data, out.len, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &ov_out);
    /* an object that has a field logify writes is rewritten through jansson;
     * when a number in it is beyond a double it cannot be, and the output is
     * Unclassified saying so */
    int unrewritable = !bad && m.has_written && ov_in;
    if (!j) {
        /* only a number of the input beyond a double can stop jansson here */
        if (!ov_out || !m.is_obj) abort();
    } else {
        if (!json_is_object(j)) abort();
        const char *want = bad || unrewritable ? LG_UNCLASSIFIED : rec.label;
        same_string(j, "target_label", want, strlen(want));
        if (bad) starts_with(j, "error", m.reason); /* + why it cannot be rewritten, if so */
        if (unrewritable && !json_is_string(json_object_get(j, "error"))) abort();
        if (!bad && !unrewritable && json_object_get(j, "error")) abort();
        if (explain && !json_is_string(json_object_get(j, "detail"))) abort();
        if (m.is_obj && json_is_object(in)) {
            const char *k;
            json_t *v;
            json_object_foreach(in, k, v) {
                if (is_written(k)) continue;
                json_t *w = json_object_get(j, k);
                if (!w) abort(); /* an input member lost */
                if (json_is_string(v) && !json_equal(v, w)) abort();
            }
        }
        json_decref(j);
    }
    json_decref(in);
    lg_buf_free(&out);
    kmsg_clear(&m);
    free(room);
    return 0;
}
