/* server_json.c - the reader of POST /v1/classify bodies:
 * {"logs": [{"source": "...", "log_message": "..."}, ...]}.
 *
 * A strict RFC 8259 parser for this one shape: it validates the whole
 * document (strings, escapes, UTF-8, numbers, nesting of values it skips)
 * and decodes only the two fields it needs, into one arena, with no
 * allocation per value. It replaces jansson on this path because jansson
 * (a tree of objects, a hash table per object, an allocation per string)
 * took 62% of the server's CPU at 100 logs per request (perf, see
 * docs/server.md). Unknown keys are skipped; a repeated key keeps its last
 * value (as jansson does); "\u0000" is refused (as jansson does). */
#include "server/server_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct {
    const char *p, *end, *start;
    lg_buf *arena;
    srv_json_logs *out;
    char *err;    /* (err_cap) */
    size_t err_cap;
    int failed;
    int depth;
} parser;

/* Formats "line L, column C: msg" for the current position. */
static int fail_at(parser *ps, const char *at, const char *msg) {
    if (ps->failed) return -1;
    ps->failed = 1;
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < at && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    snprintf(ps->err, ps->err_cap, "line %zu, column %zu: %s", line, col, msg);
    return -1;
}

static void skip_ws(parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int expect(parser *ps, char c) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != c) {
        char m[48];
        snprintf(m, sizeof m, "'%c' expected", c);
        return fail_at(ps, ps->p, ps->p >= ps->end ? "unexpected end of input" : m);
    }
    ps->p++;
    return 0;
}

/* ---- Strings --------------------------------------------------------------------- */

static int hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static int put_utf8(lg_buf *b, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return lg_buf_append(b, u, n);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, <= U+10FFFF), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000;
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    unsigned cp = c & (0xFFu >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* The arena could not take a string: out of memory (o->no_memory: the
 * server answers 500, not 400), or past its cap. */
static int arena_fail(parser *ps, const char *at, int e) {
    if (e != LG_ENOMEM) return fail_at(ps, at, "string too large");
    ps->out->no_memory = 1;
    return fail_at(ps, at, "request JSON: out of memory");
}

/* Parses a string at ps->p (the opening quote). With keep, appends the
 * decoded bytes plus a NUL to the arena and returns their offset in *off
 * and length in *len. */
static int parse_string(parser *ps, int keep, size_t *off, size_t *len) {
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"') return fail_at(ps, ps->p, "string expected");
    const char *p = ps->p + 1;
    lg_buf *a = ps->arena;
    size_t start = a->len;
    for (;;) {
        const char *run = p; /* plain bytes up to a quote, backslash or control */
        while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
            if ((unsigned char)*p < 0x80) {
                p++;
                continue;
            }
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)ps->end);
            if (!n) return fail_at(ps, p, "invalid UTF-8 in a string");
            p += n;
        }
        int e;
        if (keep && p > run && (e = lg_buf_append(a, run, (size_t)(p - run)))) return arena_fail(ps, p, e);
        if (p >= ps->end) return fail_at(ps, p, "unterminated string");
        if (*p == '"') break;
        if (*p != '\\') return fail_at(ps, p, "control character in a string");
        if (ps->end - p < 2) return fail_at(ps, p, "unterminated string");
        char esc = p[1], c = 0;
        p += 2;
        switch (esc) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (ps->end - p < 4 || hex4(p, &cp)) return fail_at(ps, p - 2, "invalid \\u escape");
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return fail_at(ps, p - 6, "invalid \\u surrogate pair");
                p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail_at(ps, p - 6, "invalid \\u surrogate pair");
            }
            if (cp == 0) return fail_at(ps, p - 6, "\\u0000 is not allowed");
            if (keep && (e = put_utf8(a, cp))) return arena_fail(ps, p, e);
            continue;
        }
        default: return fail_at(ps, p - 2, "invalid escape");
        }
        if (keep && (e = lg_buf_putc(a, c))) return arena_fail(ps, p, e);
    }
    ps->p = p + 1;
    if (keep) {
        *len = a->len - start;
        *off = start;
        int e = lg_buf_putc(a, '\0');
        if (e) return arena_fail(ps, p, e);
    }
    return 0;
}

/* ---- Other values (validated and skipped) ------------------------------------------ */

static int skip_value(parser *ps);

static int skip_number(parser *ps) {
    const char *p = ps->p, *e = ps->end;
    if (p < e && *p == '-') p++;
    if (p < e && *p == '0') p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9') p++;
    else return fail_at(ps, ps->p, "invalid value");
    if (p < e && *p == '.') {
        p++;
        if (p >= e || *p < '0' || *p > '9') return fail_at(ps, p, "invalid number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || *p < '0' || *p > '9') return fail_at(ps, p, "invalid number");
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    ps->p = p;
    return 0;
}

static int skip_literal(parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n)) return fail_at(ps, ps->p, "invalid value");
    ps->p += n;
    return 0;
}

/* Calls each(ps, key_off, key_len, user) for every member of an object at
 * ps->p, or skips the members when each is NULL. */
typedef int (*member_fn)(parser *ps, const char *key, size_t key_len, void *user);

static int parse_object(parser *ps, member_fn each, void *user) {
    if (expect(ps, '{')) return -1;
    if (++ps->depth > JSON_MAX_DEPTH) return fail_at(ps, ps->p, "nested too deeply");
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        size_t mark = ps->arena->len, off = 0, len = 0;
        if (parse_string(ps, 1, &off, &len) || expect(ps, ':')) return -1;
        char key[16];
        size_t kl = len < sizeof key - 1 ? len : sizeof key - 1; /* longer keys are unknown anyway */
        memcpy(key, ps->arena->data + off, kl);
        key[kl] = '\0';
        ps->arena->len = mark; /* keys are not kept */
        if (each ? each(ps, key, len, user) : skip_value(ps)) return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (expect(ps, '}')) return -1;
        ps->depth--;
        return 0;
    }
}

static int skip_array(parser *ps) {
    if (expect(ps, '[')) return -1;
    if (++ps->depth > JSON_MAX_DEPTH) return fail_at(ps, ps->p, "nested too deeply");
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        if (skip_value(ps)) return -1;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (expect(ps, ']')) return -1;
        ps->depth--;
        return 0;
    }
}

static int skip_value(parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) return fail_at(ps, ps->p, "unexpected end of input");
    switch (*ps->p) {
    case '"': return parse_string(ps, 0, NULL, NULL);
    case '{': return parse_object(ps, NULL, NULL);
    case '[': return skip_array(ps);
    case 't': return skip_literal(ps, "true");
    case 'f': return skip_literal(ps, "false");
    case 'n': return skip_literal(ps, "null");
    default: return skip_number(ps);
    }
}

/* Kind of the value at ps->p without consuming it. */
static char peek(parser *ps) {
    skip_ws(ps);
    return ps->p < ps->end ? *ps->p : '\0';
}

/* ---- The shape ------------------------------------------------------------------- */

static void invalid(parser *ps, const char *type, const char *msg, long idx, const char *field) {
    srv_json_logs *o = ps->out;
    if (o->invalid) return;
    o->invalid = 1;
    snprintf(o->type, sizeof o->type, "%s", type);
    snprintf(o->msg, sizeof o->msg, "%s", msg);
    o->index = idx;
    snprintf(o->field, sizeof o->field, "%s", field ? field : "");
}

static int log_member(parser *ps, const char *key, size_t key_len, void *user) {
    srv_json_log *lg = user;
    int src = key_len == 6 && !strcmp(key, "source");
    int msg = key_len == 11 && !strcmp(key, "log_message");
    if (!src && !msg) return skip_value(ps);
    char k = peek(ps);
    if (k == '"') {
        size_t off, len;
        if (parse_string(ps, 1, &off, &len)) return -1;
        if (src) lg->source_off = off, lg->source_len = len, lg->has_source = 1;
        else lg->message_off = off, lg->message_len = len, lg->has_message = 1;
        return 0;
    }
    if (src && k == 'n') { /* "source": null = "" */
        lg->has_source = 0;
        return skip_value(ps);
    }
    if (skip_value(ps)) return -1;
    invalid(ps, "string_type", "Input should be a valid string", (long)ps->out->n, src ? "source" : "log_message");
    return 0;
}

static int logs_array(parser *ps) {
    srv_json_logs *o = ps->out;
    if (expect(ps, '[')) return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (o->n == o->cap) { /* every element has a slot, objects or not */
            size_t cap = o->cap ? o->cap * 2 : 16;
            srv_json_log *l = realloc(o->logs, cap * sizeof *l);
            if (!l) {
                o->no_memory = 1;
                return fail_at(ps, ps->p, "request JSON: out of memory");
            }
            o->logs = l;
            o->cap = cap;
        }
        srv_json_log *lg = &o->logs[o->n];
        memset(lg, 0, sizeof *lg);
        if (peek(ps) != '{') {
            if (skip_value(ps)) return -1;
            invalid(ps, "model_attributes_type", "Input should be an object", (long)o->n, NULL);
        } else {
            if (parse_object(ps, log_member, lg)) return -1;
            if (!lg->has_message)
                invalid(ps, "missing", "Field required", (long)o->n, "log_message");
        }
        if (++o->n > o->max_logs) {
            o->too_many = 1;
            return fail_at(ps, ps->p, "too many logs");
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        return expect(ps, ']');
    }
}

static int root_member(parser *ps, const char *key, size_t key_len, void *user) {
    (void)user;
    if (!(key_len == 4 && !strcmp(key, "logs"))) return skip_value(ps);
    if (peek(ps) != '[') {
        if (skip_value(ps)) return -1;
        invalid(ps, "list_type", "Input should be a valid list", -1, "logs");
        return 0;
    }
    ps->out->n = 0; /* a repeated "logs" key: the last one counts */
    ps->out->has_logs = 1;
    ps->out->invalid = 0;
    return logs_array(ps);
}

int srv_json_parse(const char *text, size_t len, srv_json_logs *out, char *err, size_t err_cap) {
    parser ps = {text, text + len, text, &out->arena, out, err, err_cap, 0, 0};
    out->n = 0;
    out->has_logs = 0;
    out->invalid = 0;
    out->too_many = 0;
    out->no_memory = 0;
    if (peek(&ps) != '{') {
        if (skip_value(&ps)) return -1;
        skip_ws(&ps);
        if (ps.p != ps.end) return fail_at(&ps, ps.p, "end of input expected");
        invalid(&ps, "model_attributes_type", "Input should be an object", -1, NULL);
        return 0;
    }
    if (parse_object(&ps, root_member, NULL)) return -1;
    skip_ws(&ps);
    if (ps.p != ps.end) return fail_at(&ps, ps.p, "end of input expected");
    if (!out->has_logs) invalid(&ps, "missing", "Field required", -1, "logs");
    return 0;
}

void srv_json_logs_init(srv_json_logs *o, size_t max_bytes, uint64_t max_logs) {
    memset(o, 0, sizeof *o);
    lg_buf_init(&o->arena, max_bytes);
    o->max_logs = max_logs;
}

void srv_json_logs_free(srv_json_logs *o) {
    lg_buf_free(&o->arena);
    free(o->logs);
    memset(o, 0, sizeof *o);
}
