/* fuzz_server_json.c - libFuzzer harness for the reader of POST /v1/classify
 * bodies (src/server/server_json.c), with jansson as the oracle: any input must not
 * crash; when the reader takes a JSON object as the expected shape, jansson
 * must take it too and decode the same source and log_message strings; when
 * the reader refuses a document for its syntax, jansson must refuse it too
 * (except where the reader is stricter on purpose: nesting deeper than 64,
 * NUL bytes between tokens).
 * Build with `make fuzz`; fuzz/replay.c runs the corpus in the test suite. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    srv_json_logs L;
    srv_json_logs_init(&L, size + 64, 1u << 20);
    char err[160];
    int rc = srv_json_parse((const char *)data, size, &L, err, sizeof err);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)data, size, 0, &jerr);
    if (rc != 0) {
        /* a syntax error for the reader is one for jansson, except where the
         * reader is stricter: nesting, and NUL bytes outside strings (which
         * jansson lets through; RFC 8259 and Python's json do not) */
        if (root && !strstr(err, "nested too deeply") && !memchr(data, 0, size)) abort();
    } else if (size && data[0] == '{' && !L.invalid) {
        /* a well-formed {"logs": [...]}: jansson agrees, string for string
         * (jansson refuses numbers beyond int64/double, which JSON allows) */
        if (!root && (strstr(jerr.text, "too big") || strstr(jerr.text, "overflow"))) goto done;
        if (!root) abort();
        json_t *logs = json_object_get(root, "logs");
        if (!json_is_array(logs) || json_array_size(logs) != L.n) abort();
        for (size_t i = 0; i < L.n; i++) {
            json_t *o = json_array_get(logs, i);
            json_t *m = json_object_get(o, "log_message"), *s = json_object_get(o, "source");
            const srv_json_log *lg = &L.logs[i];
            if (!json_is_string(m) || json_string_length(m) != lg->message_len ||
                memcmp(json_string_value(m), L.arena.data + lg->message_off, lg->message_len))
                abort();
            if (lg->has_source) {
                if (!json_is_string(s) || json_string_length(s) != lg->source_len ||
                    memcmp(json_string_value(s), L.arena.data + lg->source_off, lg->source_len))
                    abort();
            } else if (s && !json_is_null(s)) {
                abort();
            }
        }
    }
done:
    json_decref(root);
    srv_json_logs_free(&L);
    return 0;
}
