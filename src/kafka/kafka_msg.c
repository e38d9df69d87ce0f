/* kafka_msg.c - a Kafka value in, a labelled output value out.
 *
 * Input: a JSON object with the source and message fields (names
 * configurable; every other field kept), or plain text with a fixed source.
 * Output for a good JSON object: its own bytes with the new fields spliced
 * in before the closing brace, so numbers, escapes and key order come out
 * exactly as they went in (kafka_json.c validates it in one pass, without
 * building a tree); an object that already has one of the fields we write
 * is re-serialised by jansson with those fields replaced. A bad value gets
 * "error" (the reason) and "raw" (its first bytes) instead. */
#include "kafka/kafka_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/csv.h"
#include "logify/jsonguard.h"

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
        uint64_t x;
        uint64_t y;
        while (len - i >= 16 && (memcpy(&x, u + i, 8), memcpy(&y, u + i + 8, 8), !((x | y) & 0x8080808080808080ull)))
            i += 16; /* ASCII, 16 bytes a test */
        while (len - i >= 8 && (memcpy(&x, u + i, 8), !(x & 0x8080808080808080ull))) i += 8;
        if (i >= len) break;
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

/* The fields the worker writes, with their lengths (not counted again for
 * every message). */
#define WRITTEN(s) {s, sizeof s - 1}
static const struct {
    const char *name;
    size_t len;
} written_fields[] = {WRITTEN("target_label"), WRITTEN("stage"), WRITTEN("confidence"), WRITTEN("detail"),
                      WRITTEN("template_id"), WRITTEN("error"), WRITTEN("raw"), WRITTEN("raw_bytes")};
#define N_WRITTEN (sizeof written_fields / sizeof *written_fields)

void kmsg_clear(kmsg *m) {
    if (m->owned) free(m->copy);
    memset(m, 0, sizeof *m);
}

/* A found field's value into dst, NUL-terminated; returns its length. */
static size_t take(const kjson_field *f, char *dst) {
    size_t n = f->escaped ? kjson_unescape(f->raw, f->raw_len, dst) : f->raw_len;
    if (!f->escaped) memcpy(dst, f->raw, n);
    dst[n] = 0;
    return n;
}

/* Where the strings go: room, or a new allocation of n bytes. */
static char *strings(kmsg *m, char *room, size_t n) {
    m->owned = !room;
    return m->copy = room ? room : malloc(n);
}

lg_err kmsg_parse(const kmsg_opts *o, const char *value, size_t len, kmsg *m, char *room) {
    m->is_obj = m->empty = m->has_written = m->owned = 0;
    m->source = m->message = m->copy = NULL;
    m->source_len = m->message_len = 0;
    m->reason[0] = 0;
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
        const char *nul = memchr(value, 0, len);
        if (nul) {
            bad(m, "NUL byte at %zu", (size_t)(nul - value));
            return LG_OK;
        }
        if (!strings(m, room, len + 1)) return LG_ENOMEM;
        memcpy(m->copy, value, len);
        m->copy[len] = 0;
        m->message = m->copy;
        m->message_len = len;
        m->source = o->plain_source;
        m->source_len = strlen(o->plain_source);
        return LG_OK;
    }
    kjson_field f[2 + N_WRITTEN];
    f[0].name = o->source_field;
    f[1].name = o->message_field;
    f[0].name_len = strlen(f[0].name);
    f[1].name_len = strlen(f[1].name);
    for (size_t i = 0; i < N_WRITTEN; i++) {
        f[2 + i].name = written_fields[i].name;
        f[2 + i].name_len = written_fields[i].len;
    }
    size_t members, at;
    const char *why;
    int r = kjson_scan(value, len, f, 2 + N_WRITTEN, &members, &at, &why);
    if (r == 1) {
        bad(m, "invalid JSON at byte %zu: %s", at, why);
        return LG_OK;
    }
    if (r == 2) {
        bad(m, "the value is JSON but not an object");
        return LG_OK;
    }
    m->is_obj = 1;
    m->empty = members == 0;
    for (size_t i = 2; i < 2 + N_WRITTEN; i++) m->has_written |= f[i].found != 0;
    for (int i = 0; i < 2; i++) {
        if (f[i].found != 1) {
            bad(m, f[i].found ? "field '%s' is not a string" : "missing field '%s'", f[i].name);
            return LG_OK;
        }
    }
    /* the strings unescaped are never longer than the value */
    if (!strings(m, room, f[0].raw_len + f[1].raw_len + 2)) return LG_ENOMEM;
    char *src = m->copy, *msg;
    m->source_len = take(&f[0], src);
    msg = src + m->source_len + 1;
    m->message_len = take(&f[1], msg);
    m->source = src;
    m->message = msg;
    /* a \u0000 is refused by the scan: the strings hold no NUL */
    return LG_OK;
}

/* ---- Output ---------------------------------------------------------------- */

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
        if (!m->is_obj) { /* nothing of the value survives otherwise */
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

/* The object minus the fields we write, serialised by jansson, closing
 * brace dropped (the rare path: an input that has one of our fields).
 * LG_EINVAL: jansson cannot hold it (a number beyond a double). */
static lg_err put_object_rewritten(const char *value, size_t len, lg_buf *out, int *empty) {
    json_error_t je;
    int oom; /* logify/jsonguard.h: a lost byte is no output */
    json_t *obj = lg_json_loadb(value, len, JSON_DECODE_INT_AS_REAL, &je, &oom);
    if (!obj) return oom ? LG_ENOMEM : LG_EINVAL;
    for (size_t i = 0; i < N_WRITTEN; i++) json_object_del(obj, written_fields[i].name);
    *empty = json_object_size(obj) == 0;
    char *s = lg_json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s) return LG_ENOMEM;
    size_t n = strlen(s);
    lg_err e = lg_buf_append(out, s, n - 1); /* without '}' */
    free(s);
    return e;
}

lg_err kmsg_format(const kmsg_opts *o, const kmsg *m, const char *value, size_t len,
                   const lg_record *rec, int explain, const char *tid, lg_buf *out) {
    lg_err e;
    if (m->is_obj) {
        int empty = m->empty;
        size_t start_len = out->len;
        if (m->has_written) {
            e = put_object_rewritten(value, len, out, &empty);
            if (e == LG_EINVAL) { /* cannot rewrite it: Unclassified, saying why */
                kmsg b;
                memset(&b, 0, sizeof b);
                /* a bad message keeps its own reason first (cut if need be) */
                char why[LG_DETAIL_MAX + 128];
                snprintf(why, sizeof why, "%s%sthe object has a field logify writes and a number too large "
                                          "to rewrite it", m->reason, m->reason[0] ? "; " : "");
                snprintf(b.reason, sizeof b.reason, "%.*s", (int)sizeof b.reason - 1, why);
                out->len = start_len;
                return kmsg_format(o, &b, value, len, NULL, explain, NULL, out);
            }
        } else { /* splice: the value up to its closing brace */
            size_t end = len;
            while (end > 0 && value[end - 1] != '}') end--;
            if (!end) return LG_EINTERNAL; /* a valid object ends with '}' */
            size_t k = end - 1;
            while (k > 0 && (value[k - 1] == ' ' || value[k - 1] == '\t' ||
                             value[k - 1] == '\n' || value[k - 1] == '\r'))
                k--;
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
