/* csv.c - streaming CSV reader, plus CSV/JSON field writers.
 *
 * Bytes pass through a row splitter that tracks quoting exactly as a
 * strict RFC 4180 parser does. It (1) knows where each row starts, so
 * errors name the line; (2) drops blanks between a delimiter and an opening
 * quote, and after a closing quote, so `a, "b"` reads as the quoted field;
 * (3) caps field and row sizes before anything is buffered. Then either
 *  - LG_CSV_FAST: the splitter has already cut the fields (quotes removed,
 *    doubled quotes undoubled) and hands the row over; or
 *  - LG_CSV_LIBCSV: the row's bytes go to libcsv (strict mode), which does
 *    the RFC 4180 parsing.
 * The fast engine is the default because libcsv was half of the parsing
 * time (docs/csv.md); the two are checked against each other on random
 * inputs in tests/unit/core/test_csv.c and by fuzz/fuzz_csv.c. */
#include "logify/csv.h"
#include "logify/dynlib_libcsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CSV_DEFAULT_MAX_FIELD (1u << 20)
#define CSV_DEFAULT_MAX_FIELDS 1024

#define BOM_DONE 4
static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

#define MSG_BAD_QUOTE                                                                         \
    "malformed quoting (a quote inside an unquoted field, or text after a closing quote)"

typedef enum {
    SPLIT_ROW_START,   /* before the first byte of a row */
    SPLIT_FIELD_START, /* after a delimiter */
    SPLIT_UNQUOTED,
    SPLIT_QUOTED,
    SPLIT_QUOTE_SEEN,  /* a quote inside a quoted field: closing or doubled */
    SPLIT_AFTER_QUOTE  /* blanks after a closing quote */
} split_state;

struct lg_csv_reader {
    struct csv_parser parser; /* LG_CSV_LIBCSV only */
    lg_csv_limits lim;
    int fast;
    lg_csv_row_fn on_row;
    lg_csv_bad_fn on_bad;
    void *user;

    /* splitter */
    split_state st;
    int bom_state;          /* BOM bytes matched so far; BOM_DONE after */
    size_t pending_blanks;  /* blanks held at the start of a field */
    size_t field_len;       /* bytes in the current field so far */
    size_t nfields;         /* fields in this row so far (incl. the current) */
    uint64_t line;          /* current physical line */
    uint64_t row_line;      /* line where the current row started */
    int row_bad;            /* current row already found malformed */
    int oom;                /* an allocation failed: the input stops there (LG_ENOMEM) */
    int multiline;          /* current row has crossed a line break */
    int resync;             /* split_run stopped to re-read a bad row's lines */
    size_t expect;          /* fields every row must have (0: any) */
    lg_buf raw;             /* a multi-line row's bytes after its first line
                               break: re-read as rows when it turns out bad */
    char bad_msg[160];
    lg_buf pend;            /* FAST: the row's fields, NUL-terminated each;
                               LIBCSV: the row's bytes */
    size_t field_start;     /* FAST: offset of the current field in pend */

    /* row assembly */
    lg_buf rowbuf;          /* LIBCSV: field bytes from libcsv callbacks */
    size_t *offs;           /* (max_fields) */
    size_t *lens;
    char **ptrs;
    size_t nf;
    int overflow;

    lg_err cb_err;          /* error returned by a callback */
    lg_errmsg *cb_errmsg;
    uint64_t rows_seen;
};

/* ---- libcsv engine callbacks ---------------------------------------------- */

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
    lg_err e = lg_buf_append(&r->rowbuf, data, len);
    if (!e) e = lg_buf_putc(&r->rowbuf, '\0');
    if (e == LG_ENOMEM) r->oom = 1;
    if (e) {
        r->overflow = 1;
        return;
    }
    r->nf++;
}

/* Hands the assembled row (offs/lens into base) to the caller. */
static lg_err deliver(lg_csv_reader *r, char *base, lg_errmsg *err) {
    for (size_t i = 0; i < r->nf; i++) r->ptrs[i] = base + r->offs[i];
    lg_csv_row row = {r->nf, r->ptrs, r->lens, r->row_line};
    r->rows_seen++;
    lg_err e = r->on_row(r->user, &row, err);
    r->nf = 0;
    return e;
}

static void on_row_end(int c, void *user) {
    (void)c;
    lg_csv_reader *r = user;
    if (r->cb_err) return;
    if (r->oom) {
        r->cb_err = lg_fail(r->cb_errmsg, LG_ENOMEM, "out of memory reading line %llu",
                            (unsigned long long)r->row_line);
    } else if (r->overflow) {
        r->rows_seen++;
        r->cb_err = r->on_bad ? r->on_bad(r->user, r->row_line, "row too large", r->cb_errmsg)
                              : lg_fail(r->cb_errmsg, LG_EPARSE, "line %llu: row too large",
                                        (unsigned long long)r->row_line);
    } else {
        r->cb_err = deliver(r, r->rowbuf.data, r->cb_errmsg);
    }
    r->nf = 0;
    r->overflow = 0;
    lg_buf_reset(&r->rowbuf);
}

static int parser_init(lg_csv_reader *r) {
    if (lg_libcsv()->init(&r->parser, CSV_STRICT | CSV_STRICT_FINI) != 0) return -1;
    lg_libcsv()->set_space_func(&r->parser, never_space);
    lg_libcsv()->set_realloc_func(&r->parser, lg_realloc);
    return 0;
}

/* ---- Reader ------------------------------------------------------------------ */

lg_err lg_csv_reader_new(const lg_csv_limits *limits, lg_csv_row_fn on_row, lg_csv_bad_fn on_bad,
                         void *user, lg_csv_reader **out, lg_errmsg *err) {
    *out = NULL;
    lg_csv_reader *r = lg_calloc(1, sizeof *r);
    if (!r) return lg_fail(err, LG_ENOMEM, "CSV reader: out of memory");
    r->lim.max_field = limits && limits->max_field ? limits->max_field : CSV_DEFAULT_MAX_FIELD;
    r->lim.max_fields = limits && limits->max_fields ? limits->max_fields : CSV_DEFAULT_MAX_FIELDS;
    r->lim.engine = limits ? limits->engine : LG_CSV_FAST;
    r->fast = r->lim.engine == LG_CSV_FAST;
    if (!r->fast) { /* libcsv is loaded when a reader first asks for it */
        lg_err e = lg_libcsv_load(err);
        if (e) {
            free(r);
            return e;
        }
    }
    r->on_row = on_row;
    r->on_bad = on_bad;
    r->user = user;
    r->line = 1;
    size_t row_cap = r->lim.max_field * 2 + r->lim.max_fields * 4 + 64;
    lg_buf_init(&r->pend, row_cap);
    lg_buf_init(&r->rowbuf, row_cap);
    lg_buf_init(&r->raw, 2 * row_cap + 64); /* its syntax too: quotes, commas */
    /* malloc, not calloc: a field's slots are written before they are
     * read, and untouched pages cost nothing (calloc cleared the 3 x 32 KiB
     * of the default 4,096 fields, a tenth of a small templates run's faults) */
    if (r->lim.max_fields <= SIZE_MAX / sizeof(char *)) {
        r->offs = lg_malloc(r->lim.max_fields * sizeof *r->offs);
        r->lens = lg_malloc(r->lim.max_fields * sizeof *r->lens);
        r->ptrs = lg_malloc(r->lim.max_fields * sizeof *r->ptrs);
    }
    int parser_ok = r->fast || parser_init(r) == 0;
    if (!parser_ok) r->fast = 1; /* nothing to csv_free */
    if (!r->offs || !r->lens || !r->ptrs || !parser_ok) {
        lg_csv_reader_free(r);
        return lg_fail(err, LG_ENOMEM, "CSV reader: out of memory");
    }
    *out = r;
    return LG_OK;
}

void lg_csv_reader_free(lg_csv_reader *r) {
    if (!r) return;
    if (!r->fast) lg_libcsv()->free(&r->parser);
    lg_buf_free(&r->pend);
    lg_buf_free(&r->rowbuf);
    lg_buf_free(&r->raw);
    free(r->offs);
    free(r->lens);
    free(r->ptrs);
    free(r);
}

uint64_t lg_csv_rows_seen(const lg_csv_reader *r) { return r->rows_seen; }

void lg_csv_expect_fields(lg_csv_reader *r, size_t nfields) { r->expect = nfields; }

/* Reports the current row as malformed (and resets libcsv). */
static lg_err report_bad(lg_csv_reader *r, const char *msg, lg_errmsg *err) {
    r->rows_seen++;
    if (!r->fast) {
        lg_libcsv()->free(&r->parser);
        if (parser_init(r) != 0) {
            r->fast = 1;
            return lg_fail(err, LG_ENOMEM, "CSV reader: out of memory");
        }
    }
    r->nf = 0;
    r->overflow = 0;
    lg_buf_reset(&r->rowbuf);
    if (!r->on_bad)
        return lg_fail(err, LG_EPARSE, "line %llu: %s", (unsigned long long)r->row_line, msg);
    return r->on_bad(r->user, r->row_line, msg, err);
}

static void mark_bad(lg_csv_reader *r, const char *msg) {
    if (r->row_bad) return;
    r->row_bad = 1;
    snprintf(r->bad_msg, sizeof r->bad_msg, "%s", msg);
    lg_buf_reset(&r->pend);
}

/* After growing the row buffer: over its cap the row is malformed; out of
 * memory is not the row's fault: the reader stops with LG_ENOMEM (a fault
 * must not turn into a skipped row). */
static void grew(lg_csv_reader *r, lg_err e) {
    if (e == LG_ENOMEM) r->oom = 1;
    else if (e) mark_bad(r, "row too large");
}

/* Appends field bytes of the current row, unless the row is already bad. */
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
    grew(r, lg_buf_append(&r->pend, p, n));
}

/* Appends syntax (quotes, delimiters) that only libcsv needs to see. */
static inline void keep_syntax(lg_csv_reader *r, const char *p, size_t n) {
    if (r->row_bad || r->fast) return;
    grew(r, lg_buf_append(&r->pend, p, n));
}

/* Ends the current field (FAST: records it). */
static void end_field(lg_csv_reader *r) {
    if (r->row_bad || !r->fast) return;
    if (r->nf >= r->lim.max_fields) return; /* caught by new_field */
    r->offs[r->nf] = r->field_start;
    r->lens[r->nf] = r->pend.len - r->field_start;
    r->nf++;
    grew(r, lg_buf_putc(&r->pend, '\0'));
    r->field_start = r->pend.len;
}

/* A delimiter: the current field ends, a new one starts. */
static void next_field(lg_csv_reader *r) {
    end_field(r);
    keep_syntax(r, ",", 1);
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

static void reset_row(lg_csv_reader *r) {
    lg_buf_reset(&r->pend);
    lg_buf_reset(&r->raw);
    r->row_bad = 0;
    r->multiline = 0;
    r->field_len = 0;
    r->field_start = 0;
    r->nfields = 1;
    r->nf = 0;
    r->pending_blanks = 0;
}

/* The row is complete: hand it over (or report it), then reset. */
static lg_err flush_row(lg_csv_reader *r, lg_errmsg *err) {
    lg_err e = LG_OK;
    if (r->oom) { /* the row lost bytes: never deliver it */
        e = lg_fail(err, LG_ENOMEM, "out of memory reading line %llu", (unsigned long long)r->row_line);
    } else if (r->row_bad) {
        e = report_bad(r, r->bad_msg, err);
    } else if (r->fast) {
        e = deliver(r, r->pend.data, err);
    } else if (r->pend.len) {
        r->cb_err = LG_OK;
        r->cb_errmsg = err;
        size_t used = lg_libcsv()->parse(&r->parser, r->pend.data, r->pend.len, on_field, on_row_end, r);
        if (r->cb_err) e = r->cb_err;
        else if (lg_libcsv()->error(&r->parser) == CSV_ENOMEM)
            e = lg_fail(err, LG_ENOMEM, "out of memory reading line %llu", (unsigned long long)r->row_line);
        else if (used != r->pend.len || lg_libcsv()->error(&r->parser) != CSV_SUCCESS)
            e = report_bad(r,
                           lg_libcsv()->error(&r->parser) == CSV_EPARSE ? MSG_BAD_QUOTE
                                                               : lg_libcsv()->strerror(lg_libcsv()->error(&r->parser)),
                           err);
    }
    reset_row(r);
    return e;
}

/* Ends the row at a line break (or at the end of the input). */
static lg_err end_row(lg_csv_reader *r, lg_errmsg *err) {
    emit_blanks(r);
    end_field(r);
    keep_syntax(r, "\n", 1);
    r->st = SPLIT_ROW_START;
    return flush_row(r, err);
}

/* A complete row with another field count than the header's is malformed. */
static void check_count(lg_csv_reader *r) {
    if (!r->expect || r->row_bad || r->nfields == r->expect) return;
    char m[128];
    snprintf(m, sizeof m, "expected %zu fields as in the header, found %zu", r->expect, r->nfields);
    mark_bad(r, m);
}

/* ---- Resynchronising ------------------------------------------------------------------
 * A malformed row that spans lines (most often an unterminated quote) is
 * not skipped whole: only its first line is reported and skipped, and
 * reading starts again at the next line, as a new row. Each physical line
 * thus ends up in a good row or in a skipped one, and the counts add up. */

static lg_err split_run(lg_csv_reader *r, const char *p, const char *end, const char **stop,
                        lg_errmsg *err);

/* Reports the bad multi-line row by its first line, keeps [raw_from, p) of
 * it in raw and tells split_run's caller to re-read raw from a row start. */
static lg_err resync_at(lg_csv_reader *r, const char *raw_from, const char *p, const char **stop,
                        lg_errmsg *err) {
    *stop = p;
    if (raw_from && lg_buf_append(&r->raw, raw_from, (size_t)(p - raw_from)))
        return lg_fail(err, LG_ELIMIT, "line %llu: row too large", (unsigned long long)r->row_line);
    lg_err e = report_bad(r, r->bad_msg, err);
    lg_buf keep_raw = r->raw; /* reset_row must not drop it */
    lg_buf_init(&r->raw, keep_raw.max);
    reset_row(r);
    lg_buf_free(&r->raw);
    r->raw = keep_raw;
    r->st = SPLIT_ROW_START;
    r->line = r->row_line + 1;
    r->resync = 1;
    return e;
}

/* Re-reads r->raw as input (again and again while it holds bad multi-line
 * rows; each round drops at least one line, so this ends). */
static lg_err replay(lg_csv_reader *r, lg_errmsg *err) {
    lg_err e = LG_OK;
    while (!e && r->resync) {
        r->resync = 0;
        lg_buf q = r->raw;
        lg_buf_init(&r->raw, q.max);
        const char *stop;
        e = split_run(r, q.data, q.data + q.len, &stop, err);
        if (!e && r->resync && stop < q.data + q.len && /* the rest of q goes after raw */
            lg_buf_append(&r->raw, stop, (size_t)(q.data + q.len - stop)))
            e = lg_fail(err, LG_ELIMIT, "line %llu: row too large", (unsigned long long)r->row_line);
        lg_buf_free(&q);
    }
    return e;
}

/* Splits [p, end), re-reading bad multi-line rows as they turn up. */
static lg_err split(lg_csv_reader *r, const char *p, const char *end, lg_errmsg *err) {
    while (p < end) {
        const char *stop;
        lg_err e = split_run(r, p, end, &stop, err);
        if (!e && r->resync) e = replay(r, err);
        if (!e && r->oom) e = lg_fail(err, LG_ENOMEM, "out of memory reading line %llu",
                                      (unsigned long long)r->line);
        if (e) return e;
        p = stop;
    }
    return LG_OK;
}

/* The splitter proper: splits [p, end) until its end, or until a bad row
 * that spans lines must be re-read (r->resync set, *stop where it stopped;
 * the bytes to re-read are in r->raw). */
static lg_err split_run(lg_csv_reader *r, const char *p, const char *end, const char **stop,
                        lg_errmsg *err) {
    lg_err e;
    const char *raw_from = r->multiline ? p : NULL; /* this row's bytes not yet in raw */
    *stop = end;
    while (p < end) {
        if (r->row_bad && r->multiline) return resync_at(r, raw_from, p, stop, err);
        char c = *p;
        switch (r->st) {
        case SPLIT_ROW_START:
            if (c == '\n' || c == '\r') { /* blank lines are skipped */
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
            if (c == ' ') { /* held: dropped if a quote follows */
                r->pending_blanks++;
                p++;
                continue;
            }
            if (c == '"') {
                r->pending_blanks = 0;
                keep_syntax(r, p, 1);
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
            while (q < end && *q != ',' && *q != '\n' && *q != '\r' && *q != '"') q++;
            if (q > p) keep(r, p, (size_t)(q - p));
            p = q;
            if (p == end) continue;
            c = *p;
            if (c == ',') {
                next_field(r);
                r->st = SPLIT_FIELD_START;
                p++;
                continue;
            }
            if (c == '"') { /* a quote inside an unquoted field */
                mark_bad(r, MSG_BAD_QUOTE);
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
            if (*p == '\n') {
                r->line++;
                keep(r, p, 1);
                if (!r->multiline) {
                    r->multiline = 1;
                    raw_from = p + 1;
                }
            } else {
                keep_syntax(r, p, 1);
                r->st = SPLIT_QUOTE_SEEN;
            }
            p++;
            continue;
        }
        case SPLIT_QUOTE_SEEN:
            if (c == '"') { /* doubled quote: one quote of data (libcsv
                               mode: the first one went in as syntax) */
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
                next_field(r);
                r->st = SPLIT_FIELD_START;
                p++;
                continue;
            }
            if (c == '\n' || c == '\r') goto row_end;
            /* text after a closing quote (the splitter has dropped blanks,
             * so it reports this itself in both engines) */
            mark_bad(r, MSG_BAD_QUOTE);
            r->st = SPLIT_UNQUOTED;
            p++;
            continue;
        }
        continue;
    row_end:
        if (*p == '\n') r->line++;
        p++;
        check_count(r);
        if (r->row_bad && r->multiline) return resync_at(r, raw_from, p, stop, err);
        if ((e = end_row(r, err)) != LG_OK) return e;
    }
    if (r->multiline && raw_from && lg_buf_append(&r->raw, raw_from, (size_t)(end - raw_from)))
        return lg_fail(err, LG_ELIMIT, "line %llu: row too large", (unsigned long long)r->row_line);
    return LG_OK;
}

lg_err lg_csv_feed(lg_csv_reader *r, const void *data, size_t len, lg_errmsg *err) {
    const char *p = data, *end = p + len;
    /* a UTF-8 BOM at the very start is dropped, even when split across feeds */
    while (r->bom_state < 3 && p < end) {
        if ((unsigned char)*p == utf8_bom[r->bom_state]) {
            r->bom_state++;
            p++;
            continue;
        }
        size_t held = (size_t)r->bom_state; /* a BOM prefix that was data after all */
        r->bom_state = BOM_DONE;
        lg_err e = split(r, (const char *)utf8_bom, (const char *)utf8_bom + held, err);
        if (e) return e;
    }
    return split(r, p, end, err);
}

lg_err lg_csv_finish(lg_csv_reader *r, lg_errmsg *err) {
    lg_err e;
    if (r->bom_state > 0 && r->bom_state < 3) { /* input was a BOM prefix only */
        size_t held = (size_t)r->bom_state;
        r->bom_state = BOM_DONE;
        if ((e = split(r, (const char *)utf8_bom, (const char *)utf8_bom + held, err))) return e;
    }
    for (;;) {
        if (r->st == SPLIT_QUOTED) {
            mark_bad(r, "unterminated quoted field");
            if (!r->multiline) {
                r->st = SPLIT_ROW_START;
                return flush_row(r, err);
            }
        }
        /* a bad row that spans lines, unterminated or ended by the input's
         * end (a closing quote as its last byte): its later lines are read
         * again, as when more input follows it */
        if (!(r->row_bad && r->multiline)) break;
        const char *stop;
        if ((e = resync_at(r, NULL, NULL, &stop, err)) || (e = replay(r, err))) return e;
    }
    if (r->st != SPLIT_ROW_START) {
        check_count(r);
        if ((e = end_row(r, err)) != LG_OK) return e;
    }
    if (r->fast) return LG_OK;
    r->cb_err = LG_OK;
    r->cb_errmsg = err;
    if (lg_libcsv()->fini(&r->parser, on_field, on_row_end, r) != 0)
        return report_bad(r, "unterminated quoted field", err);
    return r->cb_err;
}

/* ---- Writers ------------------------------------------------------------- */

/* Whether s[0..len) holds a comma, quote, CR or LF. */
static int needs_quotes(const char *s, size_t len) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"');
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, quote)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        if (_mm_movemask_epi8(hit)) return 1;
    }
#endif
    for (; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

lg_err lg_csv_put_field(lg_buf *out, const char *s, size_t len) {
    int quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    if (!quote) quote = needs_quotes(s, len);
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
