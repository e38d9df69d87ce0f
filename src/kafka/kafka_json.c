/* kafka_json.c - a validating JSON scanner for the worker's hot path: one
 * pass over a value, no allocation, the named top-level members' string
 * values located (and unescaped on request). jansson parsed every value
 * before: a tree of allocations per message was half of the worker's CPU
 * (perf, docs/kafka.md "Throughput").
 *
 * Accepts what jansson's json_loadb accepts (RFC 8259; \u0000 and lone
 * surrogates refused, nesting up to 2048, nothing after the value) except
 * numbers too large for a C long long or double, which jansson refuses and
 * this scanner, like the RFC, takes: the worker copies a value's bytes, it
 * never converts them. tests/unit/kafka/test_kafka_json.c checks the two
 * agree on the rest. UTF-8 is checked before (kmsg_utf8_check). */
#include "kafka/kafka_int.h"

#include <stdint.h>
#include <string.h>

#define KJ_MAX_DEPTH 2048

/* ---- Eight bytes at a time ------------------------------------------------- */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any byte of x is zero (exact: no false positive). */
static inline uint64_t has_zero(uint64_t x) { return (x - ONES) & ~x & HIGHS; }

/* The bytes among the 8 at p that a string cannot take as they are (a
 * quote, a backslash or a control character), as the high bits of a mask:
 * 0 when none. Each test's lowest hit is exact (a borrow only makes false
 * hits above a true one), so the mask's lowest bit is the first such byte. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FIRST_HIT(m) (__builtin_ctzll(m) >> 3) /* the lowest address is the lowest byte */
#else
#define FIRST_HIT(m) 0 /* borrows run toward lower addresses: go byte by byte from here */
#endif
static inline uint64_t special8(const char *p) {
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t ctl = (x - ONES * 0x20) & ~x & HIGHS; /* a byte < 0x20 */
    return has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\')) | ctl;
}

#ifdef __SSE2__
#include <emmintrin.h>
/* The same bytes among the 16 at p, one bit each (bit i: byte i), 0 when
 * none: SSE2 is part of every x86-64. */
static inline unsigned special16(const char *p) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i q = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
    __m128i b = _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'));
    __m128i c = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x); /* x <= 0x1f, unsigned */
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), c));
}
#endif

/* p moved on to the first byte a string cannot take as it is, or to
 * where fewer than 8 bytes are left (or, on a big-endian machine, to the
 * first word that holds such a byte). */
static inline const char *skip_plain(const char *p, const char *e) {
#ifdef __SSE2__
    for (; e - p >= 16; p += 16) {
        unsigned m = special16(p);
        if (m) return p + __builtin_ctz(m);
    }
#endif
    for (; e - p >= 8; p += 8) {
        uint64_t m = special8(p);
        if (m) return p + FIRST_HIT(m);
    }
    return p;
}

static const char *ws(const char *p, const char *e) {
    /* the four are all <= ' ': most tokens (quotes, braces, digits) pass one test */
    while (p < e && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *e, unsigned *out) {
    if (e - p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return 0;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 1;
}

/* A string's body, *pp just after its opening quote: returns the byte
 * after the closing quote, or NULL with *why and *pp on the bad byte.
 * *esc: it holds escapes. */
static const char *scan_string(const char **pp, const char *e, int *esc, const char **why) {
    const char *p = *pp;
    *esc = 0;
    while (p < e) {
        p = skip_plain(p, e); /* most of a log message: to the next quote, backslash or control byte */
        if (p >= e) break;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) {
            *why = "control character in a string";
            goto fail;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        *esc = 1;
        if (++p >= e) break;
        unsigned u, lo;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': p++; break;
        case 'u':
            if (!hex4(p + 1, e, &u)) {
                *why = "invalid \\u escape";
                goto fail;
            }
            if (u == 0) {
                *why = "\\u0000 is not allowed";
                goto fail;
            }
            if (u >= 0xDC00 && u <= 0xDFFF) {
                *why = "invalid Unicode: lone low surrogate";
                goto fail;
            }
            p += 5;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (e - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, e, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    *why = "invalid Unicode: high surrogate without its low half";
                    goto fail;
                }
                p += 6;
            }
            break;
        default: *why = "invalid escape"; goto fail;
        }
    }
    *why = "premature end of input in a string";
fail:
    *pp = p;
    return NULL;
}

static int digit(const char *p, const char *e) { return p < e && *p >= '0' && *p <= '9'; }

static const char *scan_number(const char *p, const char *e) {
    if (p < e && *p == '-') p++;
    if (!digit(p, e)) return NULL;
    if (*p == '0') p++;
    else
        while (digit(p, e)) p++;
    if (p < e && *p == '.') {
        p++;
        if (!digit(p, e)) return NULL;
        while (digit(p, e)) p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (!digit(p, e)) return NULL;
        while (digit(p, e)) p++;
    }
    return p;
}

size_t kjson_unescape(const char *raw, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (raw[i] != '\\') { /* the run up to the next escape, at once */
            const char *bs = memchr(raw + i, '\\', n - i);
            size_t run = bs ? (size_t)(bs - (raw + i)) : n - i;
            memcpy(out + o, raw + i, run);
            o += run;
            i += run;
            continue;
        }
        char c = raw[i + 1];
        i += 2;
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned u = 0, lo = 0;
            hex4(raw + i, raw + n, &u);
            i += 4;
            if (u >= 0xD800 && u <= 0xDBFF) { /* scan_string checked the low half follows */
                hex4(raw + i + 2, raw + n, &lo);
                i += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (u < 0x80) {
                out[o++] = (char)u;
            } else if (u < 0x800) {
                out[o++] = (char)(0xC0 | u >> 6);
                out[o++] = (char)(0x80 | (u & 0x3F));
            } else if (u < 0x10000) {
                out[o++] = (char)(0xE0 | u >> 12);
                out[o++] = (char)(0x80 | (u >> 6 & 0x3F));
                out[o++] = (char)(0x80 | (u & 0x3F));
            } else {
                out[o++] = (char)(0xF0 | u >> 18);
                out[o++] = (char)(0x80 | (u >> 12 & 0x3F));
                out[o++] = (char)(0x80 | (u >> 6 & 0x3F));
                out[o++] = (char)(0x80 | (u & 0x3F));
            }
            break;
        }
        default: out[o++] = c; break; /* " \ / */
        }
    }
    return o;
}

/* Which of f[] a top-level key names (-1: none). */
static int match_key(const char *raw, size_t n, int esc, kjson_field *f, size_t nf) {
    char buf[256];
    if (esc) { /* unescaping never makes a string longer */
        if (n > sizeof buf) return -1;
        n = kjson_unescape(raw, n, buf);
        raw = buf;
    }
    int hit = -1;
    for (size_t i = 0; i < nf; i++) /* names are distinct; the first byte spares most memcmp calls */
        if (f[i].name_len == n && (!n || f[i].name[0] == raw[0]) && !memcmp(f[i].name, raw, n)) hit = (int)i;
    return hit;
}

int kjson_scan(const char *s, size_t len, kjson_field *f, size_t nf, size_t *members, size_t *at,
               const char **why) {
    const char *p = s, *e = s + len;
    char stack[KJ_MAX_DEPTH];
    size_t d = 0;
    int field = -1, member_value = 0, top_is_object = 0;
    *members = 0;
    for (size_t i = 0; i < nf; i++) f[i].found = 0;
    *why = NULL;
value:
    p = ws(p, e);
    if (p >= e) {
        *why = "premature end of input";
        goto fail;
    }
    {
        int is_member = member_value && field >= 0;
        member_value = 0;
        if (d == 0) top_is_object = *p == '{';
        if (*p == '"') {
            int esc;
            const char *start = p + 1, *q = start;
            if (!(p = scan_string(&q, e, &esc, why))) {
                p = q;
                goto fail;
            }
            if (is_member) {
                f[field].found = 1;
                f[field].raw = start;
                f[field].raw_len = (size_t)(p - 1 - start);
                f[field].escaped = esc;
            }
            goto after;
        }
        if (is_member) f[field].found = 2; /* not a string */
        if (*p == '{' || *p == '[') {
            if (d == KJ_MAX_DEPTH) {
                *why = "maximum parsing depth reached";
                goto fail;
            }
            char open = *p++;
            stack[d++] = open;
            p = ws(p, e);
            if (p < e && *p == (open == '{' ? '}' : ']')) {
                p++;
                d--;
                goto after;
            }
            if (open == '[') goto value;
            goto key;
        }
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *q = scan_number(p, e);
            if (!q) {
                *why = "invalid number";
                goto fail;
            }
            p = q;
            goto after;
        }
        static const char *const lits[3] = {"true", "false", "null"};
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(lits[k]);
            if ((size_t)(e - p) >= n && !memcmp(p, lits[k], n)) {
                p += n;
                goto after;
            }
        }
        *why = "invalid token";
        goto fail;
    }
key:
    p = ws(p, e);
    if (p >= e || *p != '"') {
        *why = p >= e ? "premature end of input" : "string or '}' expected";
        goto fail;
    }
    {
        int esc;
        const char *start = p + 1, *q = start;
        if (!(p = scan_string(&q, e, &esc, why))) {
            p = q;
            goto fail;
        }
        if (d == 1) {
            (*members)++;
            field = match_key(start, (size_t)(p - 1 - start), esc, f, nf);
            member_value = 1;
        }
        p = ws(p, e);
        if (p >= e || *p != ':') {
            *why = "':' expected";
            goto fail;
        }
        p++;
        goto value;
    }
after:
    p = ws(p, e);
    if (d == 0) {
        if (p != e) {
            *why = "end of file expected";
            goto fail;
        }
        *at = len;
        return top_is_object ? 0 : 2;
    }
    if (p < e && *p == ',') {
        p++;
        if (stack[d - 1] == '{') goto key;
        goto value;
    }
    if (p < e && *p == (stack[d - 1] == '{' ? '}' : ']')) {
        p++;
        d--;
        goto after;
    }
    *why = p >= e ? "premature end of input" : stack[d - 1] == '{' ? "'}' expected" : "']' expected";
fail:
    *at = (size_t)(p - s);
    return 1;
}
