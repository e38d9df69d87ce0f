/* kafka_msg.c - a Kafka value in, a labelled output value out.
 *
 * Input: a JSON object with the source and message fields (names
 * configurable; every other field kept), or plain text with a fixed source.
 * Output for a good JSON object: its own bytes with the new fields spliced
 * in before the closing brace, so numbers, escapes and key order come out
 * exactly as they went in (the object is parsed with jansson all the same:
 * that is the validation); an object that already has one of the fields we
 * write is re-serialised by jansson with those fields replaced. A bad value
 * gets "error" (the reason) and "raw" (its first bytes) instead. */
#include "kafka/kafka_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/csv.h"

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (0 if none): no overlongs, no
 * surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    unsigned cp = c & (0x3Fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

size_t kmsg_utf8_check(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(u + i, len - i);
        if (!n) return i;
        i += n;
    }
    return len;
}

/* ---- Parsing ---------------------------------------------------------------- */

static void bad(kmsg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(kmsg *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->reason, sizeof m->reason, fmt, ap);
    va_end(ap);
}

static int get_string(kmsg *m, const char *field, const char **s, size_t *n) {
    json_t *v = json_object_get(m->obj, field);
    if (!v) {
        bad(m, "missing field '%s'", field);
        return 0;
    }
    if (!json_is_string(v)) {
        bad(m, "field '%s' is not a string", field);
        return 0;
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return 1;
}

void kmsg_clear(kmsg *m) {
    json_decref(m->obj);
    free(m->plain_copy);
    memset(m, 0, sizeof *m);
}

lg_err kmsg_parse(const kmsg_opts *o, const char *value, size_t len, kmsg *m) {
    memset(m, 0, sizeof *m);
    if (!value || !len) {
        bad(m, "empty value");
        return LG_OK;
    }
    if (len > o->max_value) {
        bad(m, "value of %zu bytes is over the limit of %zu bytes", len, o->max_value);
        return LG_OK;
    }
    size_t u = kmsg_utf8_check(value, len);
    if (u < len) {
        bad(m, "invalid UTF-8 at byte %zu", u);
        return LG_OK;
    }
    if (o->plain_source) {
        if (memchr(value, 0, len)) {
            bad(m, "NUL byte at %zu", (size_t)((const char *)memchr(value, 0, len) - value));
            return LG_OK;
        }
        if (!(m->plain_copy = malloc(len + 1))) return LG_ENOMEM;
        memcpy(m->plain_copy, value, len);
        m->plain_copy[len] = 0;
        m->message = m->plain_copy;
        m->message_len = len;
        m->source = o->plain_source;
        m->source_len = strlen(o->plain_source);
        return LG_OK;
    }
    json_error_t je;
    m->obj = json_loadb(value, len, 0, &je);
    if (!m->obj) {
        if (json_error_code(&je) == json_error_out_of_memory) return LG_ENOMEM;
        bad(m, "invalid JSON at byte %d: %s", je.position, je.text);
        return LG_OK;
    }
    if (!json_is_object(m->obj)) {
        bad(m, "the value is JSON but not an object");
        json_decref(m->obj);
        m->obj = NULL;
        return LG_OK;
    }
    if (!get_string(m, o->source_field, &m->source, &m->source_len) ||
        !get_string(m, o->message_field, &m->message, &m->message_len)) {
        m->source = m->message = NULL;
        m->source_len = m->message_len = 0;
    }
    return LG_OK;
}

/* ---- Output ---------------------------------------------------------------- */

static const char *const written_fields[] = {"target_label", "stage", "confidence", "detail",
                                             "template_id", "error", "raw", "raw_bytes"};

/* The fields we add, each as ,"name":value (leading comma). */
static lg_err put_fields(const kmsg *m, const char *value, size_t len, const lg_record *rec,
                         int explain, const char *tid, lg_buf *out) {
    int is_bad = m->reason[0] != 0;
    const char *label = is_bad || !rec || !rec->label ? LG_UNCLASSIFIED : rec->label;
    lg_err e = lg_buf_append(out, ",\"target_label\":", 16);
    if (!e) e = lg_json_put_string(out, label, strlen(label));
    if (!e && is_bad) {
        e = lg_buf_append(out, ",\"error\":", 9);
        if (!e) e = lg_json_put_string(out, m->reason, strlen(m->reason));
        if (!m->obj) { /* nothing of the value survives otherwise */
            size_t n = len < KMSG_RAW_MAX ? len : KMSG_RAW_MAX;
            if (!e) e = lg_buf_append(out, ",\"raw\":", 7);
            if (!e) e = lg_json_put_string(out, value ? value : "", value ? n : 0);
            if (!e) e = lg_buf_printf(out, ",\"raw_bytes\":%zu", len);
        }
    }
    if (!e && explain) {
        const char *stage = is_bad || !rec ? "none" : lg_stage_kind_name(rec->stage);
        const char *detail = is_bad || !rec ? m->reason : rec->detail;
        e = lg_buf_printf(out, ",\"stage\":\"%s\",\"confidence\":", stage);
        if (!e) {
            if (is_bad || !rec || rec->confidence < 0) e = lg_buf_append(out, "null", 4);
            else e = lg_buf_printf(out, "%.4f", rec->confidence);
        }
        if (!e) e = lg_buf_append(out, ",\"detail\":", 10);
        if (!e) e = lg_json_put_string(out, detail, strlen(detail));
        if (!e && tid && !is_bad) {
            e = lg_buf_append(out, ",\"template_id\":", 15);
            if (!e) e = lg_json_put_string(out, tid, strlen(tid));
        }
    }
    return e;
}

/* Does the object hold a field we write? Then splicing would repeat a key. */
static int has_written_field(const kmsg *m) {
    for (size_t i = 0; i < sizeof written_fields / sizeof *written_fields; i++)
        if (json_object_get(m->obj, written_fields[i])) return 1;
    return 0;
}

/* The object minus the fields we write, serialised by jansson, closing
 * brace dropped. */
static lg_err put_object_rewritten(const kmsg *m, lg_buf *out, int *empty) {
    json_t *copy = json_copy(m->obj);
    if (!copy) return LG_ENOMEM;
    for (size_t i = 0; i < sizeof written_fields / sizeof *written_fields; i++)
        json_object_del(copy, written_fields[i]);
    *empty = json_object_size(copy) == 0;
    char *s = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    if (!s) return LG_ENOMEM;
    size_t n = strlen(s);
    lg_err e = lg_buf_append(out, s, n - 1); /* without '}' */
    free(s);
    return e;
}

lg_err kmsg_format(const kmsg_opts *o, const kmsg *m, const char *value, size_t len,
                   const lg_record *rec, int explain, const char *tid, lg_buf *out) {
    lg_err e;
    if (m->obj) {
        int empty;
        if (has_written_field(m)) {
            e = put_object_rewritten(m, out, &empty);
        } else { /* splice: the value up to its closing brace */
            size_t end = len;
            while (end > 0 && value[end - 1] != '}') end--;
            if (!end) return LG_EINTERNAL; /* a parsed object ends with '}' */
            size_t k = end - 1;
            while (k > 0 && (value[k - 1] == ' ' || value[k - 1] == '\t' ||
                             value[k - 1] == '\n' || value[k - 1] == '\r'))
                k--;
            empty = json_object_size(m->obj) == 0;
            size_t start = 0;
            while (start < k && value[start] != '{') start++;
            e = lg_buf_append(out, value + start, k - start);
        }
        if (e) return e;
        size_t mark = out->len;
        e = put_fields(m, value, len, rec, explain, tid, out);
        if (!e && empty) out->data[mark] = ' '; /* `{ "target_label"`: no comma */
        if (!e) e = lg_buf_putc(out, '}');
        return e;
    }
    e = lg_buf_putc(out, '{');
    if (!e && !m->reason[0]) { /* plain text */
        e = lg_json_put_string(out, o->source_field, strlen(o->source_field));
        if (!e) e = lg_buf_putc(out, ':');
        if (!e) e = lg_json_put_string(out, m->source, m->source_len);
        if (!e) e = lg_buf_putc(out, ',');
        if (!e) e = lg_json_put_string(out, o->message_field, strlen(o->message_field));
        if (!e) e = lg_buf_putc(out, ':');
        if (!e) e = lg_json_put_string(out, m->message, m->message_len);
        if (!e) e = put_fields(m, value, len, rec, explain, tid, out);
    } else if (!e) {
        size_t mark = out->len;
        e = put_fields(m, value, len, rec, explain, tid, out);
        if (!e) out->data[mark] = ' ';
    }
    if (!e) e = lg_buf_putc(out, '}');
    return e;
}
