/* csv.h - streaming CSV reader (libcsv underneath) and CSV/JSON field
 * writers.
 *
 * The reader is push-driven: feed it bytes as they arrive (file chunks,
 * an HTTP upload) and it calls back once per complete row, so memory stays
 * constant in the size of the input. It accepts RFC 4180 (quotes, doubled
 * quotes, embedded commas and newlines, CRLF or LF), a UTF-8 BOM, and what
 * users' files really look like: blanks between a comma and an opening
 * quote (`a, "b"`) or after a closing quote are dropped, so the field is
 * the quoted text. Unquoted fields keep their bytes exactly.
 */
#ifndef LOGIFY_CSV_H
#define LOGIFY_CSV_H

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_csv_reader lg_csv_reader;

/* A parsed row, valid only during the callback. */
typedef struct {
    size_t nfields;
    char **fields;        /* (nfields) NUL-terminated views */
    const size_t *lens;   /* (nfields) byte lengths */
    uint64_t line;        /* physical line (1-based) where the row starts */
} lg_csv_row;

/* Called for each good row. Return LG_OK to go on; anything else stops the
 * reader, and lg_csv_feed/lg_csv_finish return it (with err filled by the
 * callback). */
typedef lg_err (*lg_csv_row_fn)(void *user, const lg_csv_row *row, lg_errmsg *err);

/* Called for each malformed row (bad quoting, field or row over the cap).
 * `msg` names the problem, `line` the row's first line. Return LG_OK to skip
 * the row and go on, or an error (fill err) to stop. When NULL, a malformed
 * row stops the reader with LG_EPARSE. */
typedef lg_err (*lg_csv_bad_fn)(void *user, uint64_t line, const char *msg, lg_errmsg *err);

/* Which parser turns a row's bytes into fields. Both accept the same
 * inputs and give the same rows (tests/unit/core/test_csv.c checks this on
 * random inputs); see docs/csv.md for the measurement behind the default. */
typedef enum {
    LG_CSV_FAST = 0,   /* the row splitter extracts fields itself (default) */
    LG_CSV_LIBCSV = 1  /* each row is handed to libcsv in strict mode */
} lg_csv_engine;

typedef struct {
    size_t max_field;  /* bytes in one field (default 1 MiB) */
    size_t max_fields; /* fields in one row (default 1024) */
    lg_csv_engine engine;
} lg_csv_limits;

/* limits may be NULL for the defaults. Caller frees with lg_csv_reader_free. */
lg_err lg_csv_reader_new(const lg_csv_limits *limits, lg_csv_row_fn on_row, lg_csv_bad_fn on_bad,
                         void *user, lg_csv_reader **out, lg_errmsg *err);
void lg_csv_reader_free(lg_csv_reader *r);

/* Feeds the next bytes of the input. */
lg_err lg_csv_feed(lg_csv_reader *r, const void *data, size_t len, lg_errmsg *err);
/* Ends the input: the last row may lack a newline; an unterminated quoted
 * field is a malformed row. */
lg_err lg_csv_finish(lg_csv_reader *r, lg_errmsg *err);

/* From now on a row with another number of fields is malformed (the
 * caller sets it from the header). Such a row spanning several lines, like
 * any malformed row that does, is reported by its first line only, and the
 * lines after it are read again as rows: every physical line ends up in a
 * good row or a reported one. */
void lg_csv_expect_fields(lg_csv_reader *r, size_t nfields);

/* Rows reported so far (good + malformed). */
uint64_t lg_csv_rows_seen(const lg_csv_reader *r);

/* ---- Writing ----------------------------------------------------------- */

/* Appends one CSV field, quoted only when needed (a comma, quote, CR or LF
 * inside, or a blank at either end), with quotes doubled. */
lg_err lg_csv_put_field(lg_buf *out, const char *s, size_t len);

/* Appends s as a JSON string literal (with the quotes). Valid UTF-8 is kept;
 * each invalid byte becomes U+FFFD, so the output is always valid JSON. */
lg_err lg_json_put_string(lg_buf *out, const char *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
