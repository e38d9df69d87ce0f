/* csv.c - streaming CSV reader on libcsv, plus CSV/JSON field writers.
 *
 * Bytes pass first through a small row splitter that tracks quoting the
 * way libcsv does. It (1) knows where each row starts, so errors can name
 * the line; (2) drops blanks between a delimiter and an opening quote, and
 * after a closing quote, so `a, "b"` reads as the quoted field; (3) caps
 * field and row sizes before libcsv buffers anything. Each complete row is
 * then handed to libcsv (strict mode), which does the RFC 4180 parsing. */
#include "logify/csv.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#define CSV_DEFAULT_MAX_FIELD (1u << 20)
#define CSV_DEFAULT_MAX_FIELDS 1024

typedef enum {
    SPLIT_ROW_START,   /* before the first byte of a row */
    SPLIT_FIELD_START, /* after a delimiter */
    SPLIT_UNQUOTED,
    SPLIT_QUOTED,
    SPLIT_QUOTE_SEEN,  /* a quote inside a quoted field: closing or doubled */
    SPLIT_AFTER_QUOTE  /* blanks after a closing quote */
} split_state;

struct lg_csv_reader {
    struct csv_parser parser;
    lg_csv_limits lim;
    lg_csv_row_fn on_row;
    lg_csv_bad_fn on_bad;
    void *user;

    /* splitter */
    split_state st;
    int bom_checked;
    size_t pending_blanks;  /* blanks held at the start of a field */
    size_t field_len;       /* bytes in the current field so far */
    size_t nfields;         /* delimiters seen in this row + 1 */
    uint64_t line;          /* current physical line */
    uint64_t row_line;      /* line where the current row started */
    int row_bad;            /* current row already reported as malformed */
    char bad_msg[160];
    lg_buf pend;            /* the current row's bytes, for libcsv */

    /* row assembly from libcsv callbacks */
    lg_buf rowbuf;          /* field bytes, each NUL-terminated */
    size_t *offs;           /* (max_fields) */
    size_t *lens;
    char **ptrs;
    size_t nf;
    int overflow;

    lg_err cb_err;          /* error returned by a callback */
    lg_errmsg *cb_errmsg;
    uint64_t rows_seen;
};

static int never_space(unsigned char c) {
    (void)c;
    return 0;
}

static void on_field(void *data, size_t len, void *user) {
    lg_csv_reader *r = user;
    if (r->nf >= r->lim.max_fields) {
        r->overflow = 1;
        return;
    }
    r->offs[r->nf] = r->rowbuf.len;
    r->lens[r->nf] = len;
    if (lg_buf_append(&r->rowbuf, data, len) || lg_buf_putc(&r->rowbuf, '\0')) {
        r->overflow = 1;
        return;
    }
    r->nf++;
}

static void on_row_end(int c, void *user) {
    (void)c;
    lg_csv_reader *r = user;
    if (r->cb_err) return;
    r->rows_seen++;
    if (r->overflow) {
        r->cb_err = LG_ELIMIT;
        if (r->on_bad)
            r->cb_err = r->on_bad(r->user, r->row_line, "row too large", r->cb_errmsg);
        else
            lg_fail(r->cb_errmsg, LG_EPARSE, "line %llu: row too large",
                    (unsigned long long)r->row_line);
    } else {
        for (size_t i = 0; i < r->nf; i++) r->ptrs[i] = r->rowbuf.data + r->offs[i];
        lg_csv_row row = {r->nf, r->ptrs, r->lens, r->row_line};
        r->cb_err = r->on_row(r->user, &row, r->cb_errmsg);
    }
    r->nf = 0;
    r->overflow = 0;
    lg_buf_reset(&r->rowbuf);
}

lg_err lg_csv_reader_new(const lg_csv_limits *limits, lg_csv_row_fn on_row, lg_csv_bad_fn on_bad,
                         void *user, lg_csv_reader **out, lg_errmsg *err) {
    *out = NULL;
    lg_csv_reader *r = calloc(1, sizeof *r);
    if (!r) return lg_fail(err, LG_ENOMEM, "out of memory");
    r->lim.max_field = limits && limits->max_field ? limits->max_field : CSV_DEFAULT_MAX_FIELD;
    r->lim.max_fields = limits && limits->max_fields ? limits->max_fields : CSV_DEFAULT_MAX_FIELDS;
    r->on_row = on_row;
    r->on_bad = on_bad;
    r->user = user;
    r->line = 1;
    size_t row_cap = r->lim.max_field * 2 + r->lim.max_fields * 4 + 64;
    lg_buf_init(&r->pend, row_cap);
    lg_buf_init(&r->rowbuf, row_cap);
    r->offs = calloc(r->lim.max_fields, sizeof *r->offs);
    r->lens = calloc(r->lim.max_fields, sizeof *r->lens);
    r->ptrs = calloc(r->lim.max_fields, sizeof *r->ptrs);
    if (!r->offs || !r->lens || !r->ptrs ||
        csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        lg_csv_reader_free(r);
        return lg_fail(err, LG_ENOMEM, "out of memory");
    }
    csv_set_space_func(&r->parser, never_space);
    *out = r;
    return LG_OK;
}

void lg_csv_reader_free(lg_csv_reader *r) {
    if (!r) return;
    csv_free(&r->parser);
    lg_buf_free(&r->pend);
    lg_buf_free(&r->rowbuf);
    free(r->offs);
    free(r->lens);
    free(r->ptrs);
    free(r);
}

uint64_t lg_csv_rows_seen(const lg_csv_reader *r) { return r->rows_seen; }

/* Reports the current row as malformed and resets libcsv. */
static lg_err report_bad(lg_csv_reader *r, const char *msg, lg_errmsg *err) {
    r->rows_seen++;
    csv_free(&r->parser);
    if (csv_init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return lg_fail(err, LG_ENOMEM, "out of memory");
    csv_set_space_func(&r->parser, never_space);
    r->nf = 0;
    r->overflow = 0;
    lg_buf_reset(&r->rowbuf);
    if (!r->on_bad)
        return lg_fail(err, LG_EPARSE, "line %llu: %s", (unsigned long long)r->row_line, msg);
    return r->on_bad(r->user, r->row_line, msg, err);
}

/* Hands the buffered row to libcsv (or reports it when already bad). */
static lg_err flush_row(lg_csv_reader *r, lg_errmsg *err) {
    lg_err e = LG_OK;
    if (r->row_bad) {
        e = report_bad(r, r->bad_msg, err);
    } else if (r->pend.len) {
        r->cb_err = LG_OK;
        r->cb_errmsg = err;
        size_t used = csv_parse(&r->parser, r->pend.data, r->pend.len, on_field, on_row_end, r);
        if (r->cb_err) e = r->cb_err;
        else if (used != r->pend.len || csv_error(&r->parser) != CSV_SUCCESS) {
            e = report_bad(r, csv_error(&r->parser) == CSV_EPARSE
                                  ? "malformed quoting (a quote inside an unquoted field, or "
                                    "text after a closing quote)"
                                  : csv_strerror(csv_error(&r->parser)),
                           err);
        }
    }
    lg_buf_reset(&r->pend);
    r->row_bad = 0;
    r->field_len = 0;
    r->nfields = 1;
    r->pending_blanks = 0;
    return e;
}

static void mark_bad(lg_csv_reader *r, const char *msg) {
    if (r->row_bad) return;
    r->row_bad = 1;
    snprintf(r->bad_msg, sizeof r->bad_msg, "%s", msg);
    lg_buf_reset(&r->pend);
}

/* Appends bytes of the current row, unless the row is already bad. */
static inline void keep(lg_csv_reader *r, const char *p, size_t n) {
    if (r->row_bad) return;
    r->field_len += n;
    if (r->field_len > r->lim.max_field) {
        char m[120];
        snprintf(m, sizeof m, "field longer than %zu bytes (an unterminated quote?)",
                 r->lim.max_field);
        mark_bad(r, m);
        return;
    }
    if (lg_buf_append(&r->pend, p, n) != LG_OK) mark_bad(r, "row too large");
}

static inline void new_field(lg_csv_reader *r) {
    if (++r->nfields > r->lim.max_fields) {
        char m[120];
        snprintf(m, sizeof m, "more than %zu fields", r->lim.max_fields);
        mark_bad(r, m);
    }
    r->field_len = 0;
}

static const char blanks[] = "                                ";

static inline void emit_blanks(lg_csv_reader *r) {
    while (r->pending_blanks) {
        size_t n = r->pending_blanks < sizeof blanks - 1 ? r->pending_blanks : sizeof blanks - 1;
        keep(r, blanks, n);
        r->pending_blanks -= n;
    }
}

lg_err lg_csv_feed(lg_csv_reader *r, const void *data, size_t len, lg_errmsg *err) {
    const char *p = data, *end = p + len;
    lg_err e;
    if (!r->bom_checked && len) {
        /* a BOM can be split across feeds only in pathological callers;
         * we check the first feed that has bytes */
        r->bom_checked = 1;
        if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3;
    }
    while (p < end) {
        char c = *p;
        switch (r->st) {
        case SPLIT_ROW_START:
            if (c == '\n' || c == '\r') {
                if (c == '\n') r->line++;
                p++;
                continue;
            }
            r->row_line = r->line;
            r->nfields = 1;
            r->field_len = 0;
            r->st = SPLIT_FIELD_START;
            /* fall through */
        case SPLIT_FIELD_START:
            if (c == ' ' || c == '\t') {
                if (c == '\t') { /* tabs are kept as data unless before a quote */
                    emit_blanks(r);
                    keep(r, p, 1);
                    r->st = SPLIT_UNQUOTED;
                } else {
                    r->pending_blanks++;
                }
                p++;
                continue;
            }
            if (c == '"') {
                r->pending_blanks = 0;
                keep(r, p, 1);
                r->st = SPLIT_QUOTED;
                p++;
                continue;
            }
            emit_blanks(r);
            r->st = SPLIT_UNQUOTED;
            /* fall through */
        case SPLIT_UNQUOTED: {
            /* fast path: copy the run of ordinary bytes */
            const char *q = p;
            while (q < end && *q != ',' && *q != '\n' && *q != '\r') q++;
            if (q > p) keep(r, p, (size_t)(q - p));
            p = q;
            if (p == end) continue;
            c = *p;
            if (c == ',') {
                keep(r, p, 1);
                new_field(r);
                r->st = SPLIT_FIELD_START;
                p++;
                continue;
            }
            goto row_end;
        }
        case SPLIT_QUOTED: {
            const char *q = p;
            while (q < end && *q != '"' && *q != '\n') q++;
            if (q > p) keep(r, p, (size_t)(q - p));
            p = q;
            if (p == end) continue;
            if (*p == '\n') r->line++;
            else r->st = SPLIT_QUOTE_SEEN;
            keep(r, p, 1);
            p++;
            continue;
        }
        case SPLIT_QUOTE_SEEN:
            if (c == '"') { /* doubled quote */
                keep(r, p, 1);
                r->st = SPLIT_QUOTED;
                p++;
                continue;
            }
            /* the quote closed the field */
            /* fall through */
        case SPLIT_AFTER_QUOTE:
            if (c == ' ' || c == '\t') { /* blanks after a closing quote: dropped */
                r->st = SPLIT_AFTER_QUOTE;
                p++;
                continue;
            }
            if (c == ',') {
                keep(r, p, 1);
                new_field(r);
                r->st = SPLIT_FIELD_START;
                p++;
                continue;
            }
            if (c == '\n' || c == '\r') goto row_end;
            /* text after a closing quote: libcsv (strict) reports it */
            keep(r, p, 1);
            r->st = SPLIT_UNQUOTED;
            p++;
            continue;
        }
        continue;
    row_end:
        emit_blanks(r);
        if (!r->row_bad) {
            if ((e = lg_buf_putc(&r->pend, '\n')) != LG_OK) mark_bad(r, "row too large");
        }
        if (*p == '\n') r->line++;
        p++;
        r->st = SPLIT_ROW_START;
        if ((e = flush_row(r, err)) != LG_OK) return e;
    }
    return LG_OK;
}

lg_err lg_csv_finish(lg_csv_reader *r, lg_errmsg *err) {
    lg_err e;
    if (r->st == SPLIT_QUOTED) {
        mark_bad(r, "unterminated quoted field");
        r->st = SPLIT_ROW_START;
        return flush_row(r, err);
    }
    if (r->st != SPLIT_ROW_START) {
        emit_blanks(r);
        if (!r->row_bad && lg_buf_putc(&r->pend, '\n') != LG_OK) mark_bad(r, "row too large");
        r->st = SPLIT_ROW_START;
        if ((e = flush_row(r, err)) != LG_OK) return e;
    }
    r->cb_err = LG_OK;
    r->cb_errmsg = err;
    if (csv_fini(&r->parser, on_field, on_row_end, r) != 0)
        return report_bad(r, "unterminated quoted field", err);
    return r->cb_err;
}

/* ---- Writers ------------------------------------------------------------- */

lg_err lg_csv_put_field(lg_buf *out, const char *s, size_t len) {
    int quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') quote = 1;
    if (!quote) return lg_buf_append(out, s, len);
    lg_err e = lg_buf_reserve(out, len + 2);
    if (e) return e;
    out->data[out->len++] = '"';
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') {
            if ((e = lg_buf_append(out, s + start, i + 1 - start))) return e;
            start = i; /* the quote is written again: doubled */
        }
    }
    if ((e = lg_buf_append(out, s + start, len - start))) return e;
    return lg_buf_putc(out, '"');
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;
        if (c == 0xF4 && s[1] >= 0x90) return 0;
        return 4;
    }
    return 0;
}

lg_err lg_json_put_string(lg_buf *out, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    lg_err e = lg_buf_putc(out, '"');
    size_t i = 0;
    while (!e && i < len) {
        size_t start = i;
        while (i < len && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\') i++;
        if (i > start && (e = lg_buf_append(out, s + start, i - start))) break;
        if (i >= len) break;
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            e = lg_buf_append(out, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            if (c == '\n') e = lg_buf_append(out, "\\n", 2);
            else if (c == '\t') e = lg_buf_append(out, "\\t", 2);
            else if (c == '\r') e = lg_buf_append(out, "\\r", 2);
            else e = lg_buf_append(out, esc, 6);
            i++;
        } else {
            size_t n = utf8_seq(u + i, len - i);
            if (n) e = lg_buf_append(out, s + i, n);
            else e = lg_buf_append(out, "\\ufffd", 6);
            i += n ? n : 1;
        }
    }
    if (!e) e = lg_buf_putc(out, '"');
    return e;
}
