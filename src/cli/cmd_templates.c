/* cmd_templates.c - `logify templates`: mine templates from a CSV's
 * log_message column (or from plain lines) and write every row back with
 * template_id and template (docs/templates.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "logify/cluster.h"
#include "logify/csv.h"
#include "logify/templates.h"

static const char usage_text[] =
    "usage: logify templates [INPUT|-] [options]\n"
    "  -o, --output FILE      write here (atomically) instead of stdout\n"
    "      --format csv|jsonl output format (default csv)\n"
    "      --params           add `params`: the line's variables as a JSON array\n"
    "      --summary          print the templates with their line counts, most\n"
    "                         frequent first, to stderr\n"
    "      --rules FILE       write suggested rules (a regex per template of 5+\n"
    "                         lines, coverage and precision measured on the\n"
    "                         input; labels from a target_label column): holds\n"
    "                         the messages in memory, at most 1,000,000 rows\n"
    "      --state FILE       load the miner from FILE first (if it exists) and\n"
    "                         save it there after the run (atomically)\n"
    "      --live             write each row at once with its template as known at\n"
    "                         that moment (default: rows are written at the end\n"
    "                         of the run, each with its template's final text)\n"
    "      --column NAME      the message column (default: log_message, else\n"
    "                         Content, else message; matched case-insensitively)\n"
    "      --sim X            similarity threshold in (0, 1] (default 0.5)\n"
    "      --depth N          leading tokens in the prefix tree, 0..8 (default 2)\n"
    "      --no-progress      no progress line (drawn on stderr only when it is a\n"
    "                         terminal and the rows do not go to one)\n"
    "      --word-variants N  a word that changes in a settled template starts\n"
    "                         a sibling until N exist, then it is a variable\n"
    "                         (default 3; 1 = a variable at once, as Drain)\n"
    "Input: a CSV whose header has the message column; anything else is plain\n"
    "text, one message per line (output columns: log_message, template_id,\n"
    "template). Lines and fields may hold up to 4 MiB. Rows wait for their\n"
    "final template in memory (128 MiB, LOGIFY_SPOOL_MEM), then in a temporary file.\n";

#define MAX_LINE ((size_t)4 << 20)
#define CHUNK ((size_t)64 << 10)
#define OUT_BLOCK ((size_t)64 << 10) /* output gathered before a write */
#define SPOOL_MEM ((size_t)128 << 20)
#define WHOLE_MAX ((size_t)64 << 20) /* a regular file up to this size is read at once */
#define SPOOL_REF 0x80000000u        /* spool record: a line of `base`, no payload */
#define SPOOL_VAR_SHIFT 24           /* bits 24-30 of a spooled index: the line's variant + 1 */
#define SPOOL_INDEX 0x00ffffffu      /* bits 0-23: the template (max_templates is 1 M here) */
#define RULES_MAX_ROWS 1000000
#define RULES_MIN_LINES 5

/* ---- One run ------------------------------------------------------------ */

typedef struct {
    lg_tpl_miner *miner;
    FILE *out;          /* final output */
    const char *out_name; /* its path, or "stdout", for a write error */
    int out_failed;     /* a write to out failed: the error names out, not the input */
    lg_buf mem;         /* rows waiting for their final template (not live):
                           in memory up to SPOOL_MEM bytes, then ... */
    FILE *spool;        /* ... all of them in a temporary file */
    const char *base;   /* NULL, or the whole input, read at once (kept until
                           the rows are written): a plain line inside it is
                           spooled as a reference, {index | SPOOL_REF,
                           offset, length}, not as its text */
    size_t base_len;
    size_t mem_pos;     /* reading back: position in mem */
    int jsonl, params, live;
    const char *column; /* NULL: the default names */
    /* CSV mode */
    int csv;            /* 1 once the header named the message column */
    int header_done;
    size_t msg_col;
    size_t nhead;
    char **head;        /* (nhead) header names, owned */
    uint8_t *drop;      /* (nhead) columns we rewrite (template_id, template, params) */
    lg_buf row;         /* scratch: one output row / prefix */
    lg_buf tx;          /* scratch: template text */
    char **cache;       /* (templates) after the run: a group's formatted
                           template_id and template, made on first use */
    size_t *cache_len;
    uint64_t rows, new_templates;
    /* --rules: every message, its label and template, kept for the end */
    int rules;
    long label_col;     /* target_label, or -1 */
    char **r_msg, **r_lab;
    size_t *r_len;
    uint32_t *r_tpl;
    size_t r_n, r_cap;
    size_t n_before;    /* templates loaded from the state */
    lg_progress *prog;  /* NULL: no progress line */
} run;

static lg_err keep_for_rules(run *r, const char *msg, size_t len, const char *lab, size_t lab_len,
                             uint32_t index, lg_errmsg *err);

static int is_ours(const char *name) {
    return !strcmp(name, "template_id") || !strcmp(name, "template") || !strcmp(name, "params");
}

/* Column index of the message; -1 if absent. */
static long find_column(const run *r, char **names, size_t n) {
    static const char *defaults[] = {"log_message", "content", "message"};
    if (r->column) {
        for (size_t i = 0; i < n; i++)
            if (!strcasecmp(names[i], r->column)) return (long)i;
        return -1;
    }
    for (size_t d = 0; d < 3; d++)
        for (size_t i = 0; i < n; i++)
            if (!strcasecmp(names[i], defaults[d])) return (long)i;
    return -1;
}

/* The row's fields as output text up to (and with) the separator before
 * template_id. */
static lg_err put_prefix(run *r, lg_buf *b, char **f, const size_t *lens, size_t n) {
    lg_err e = LG_OK;
    if (r->jsonl) {
        e = lg_buf_putc(b, '{');
        for (size_t i = 0; i < n && !e; i++) {
            if (r->drop[i]) continue;
            e = lg_json_put_string(b, r->head[i], strlen(r->head[i]));
            if (!e) e = lg_buf_putc(b, ':');
            if (!e) e = lg_json_put_string(b, f[i], lens[i]);
            if (!e) e = lg_buf_putc(b, ',');
        }
    } else {
        for (size_t i = 0; i < n && !e; i++) {
            if (r->drop[i]) continue;
            e = lg_csv_put_field(b, f[i], lens[i]);
            if (!e) e = lg_buf_putc(b, ',');
        }
    }
    return e;
}

/* Appends `ID,TEMPLATE` (csv) or `"template_id":ID,"template":TEMPLATE`
 * (jsonl) for template `index` to b. */
static lg_err put_template(run *r, lg_buf *b, uint32_t index) {
    char id[17];
    lg_tpl_format_id(lg_tpl_id(r->miner, index), id);
    lg_buf_reset(&r->tx);
    lg_err e = lg_tpl_text(r->miner, index, &r->tx);
    if (!e && r->jsonl) e = lg_buf_append(b, "\"template_id\":\"", 15);
    if (!e) e = lg_buf_append(b, id, 16);
    if (!e) e = lg_buf_append(b, r->jsonl ? "\",\"template\":" : ",", r->jsonl ? 13 : 1);
    if (e) return e;
    if (r->jsonl) return lg_json_put_string(b, r->tx.data ? r->tx.data : "", r->tx.len);
    return lg_csv_put_field(b, r->tx.data ? r->tx.data : "", r->tx.len);
}

/* Appends template_id, template (and params) and ends the row. After the
 * run (drain_spool) a group's formatted template is made once (cache). */
static lg_err put_suffix(run *r, lg_buf *b, uint32_t index, const char *msg, size_t len) {
    lg_err e;
    if (r->cache) {
        size_t g = lg_tpl_group(r->miner, index);
        if (!r->cache[g]) {
            lg_buf one;
            lg_buf_init(&one, (size_t)64 << 20);
            if ((e = put_template(r, &one, index))) {
                lg_buf_free(&one);
                return e;
            }
            r->cache[g] = one.data ? one.data : lg_strdup("");
            r->cache_len[g] = one.len;
            if (!r->cache[g]) return LG_ENOMEM;
        }
        e = lg_buf_append(b, r->cache[g], r->cache_len[g]);
    } else {
        e = put_template(r, b, index);
    }
    if (r->jsonl) {
        if (!e && r->params) e = lg_buf_append(b, ",\"params\":", 10);
        if (!e && r->params) e = lg_tpl_params_json(r->miner, index, msg, len, b);
        if (!e) e = lg_buf_append(b, "}\n", 2);
    } else {
        if (!e && r->params) {
            lg_buf_reset(&r->tx);
            e = lg_tpl_params_json(r->miner, index, msg, len, &r->tx);
            if (!e) e = lg_buf_putc(b, ',');
            if (!e) e = lg_csv_put_field(b, r->tx.data ? r->tx.data : "", r->tx.len);
        }
        if (!e) e = lg_buf_putc(b, '\n');
    }
    return e;
}

static lg_err write_out(run *r, const void *p, size_t n, lg_errmsg *err) {
    if (n && fwrite(p, 1, n, r->out) != n) {
        r->out_failed = 1;
        return lg_fail(err, LG_EIO, "writing %s: %s", r->out_name, strerror(errno));
    }
    return LG_OK;
}

/* ---- The spool ------------------------------------------------------------ */

/* Appends to the spool: memory first, a temporary file once that is full. */
static lg_err spool_put(run *r, const void *p, size_t n, lg_errmsg *err) {
    if (!r->spool && lg_buf_append(&r->mem, p, n) == LG_OK) return LG_OK;
    if (!r->spool) {
        if (!(r->spool = tmpfile())) return lg_fail(err, LG_EIO, "cannot create a spool file: %s", strerror(errno));
        setvbuf(r->spool, NULL, _IOFBF, 1 << 20);
        if (r->mem.len && fwrite(r->mem.data, 1, r->mem.len, r->spool) != r->mem.len)
            return lg_fail(err, LG_EIO, "writing the spool file: %s", strerror(errno));
        lg_buf_free(&r->mem);
    }
    if (n && fwrite(p, 1, n, r->spool) != n) return lg_fail(err, LG_EIO, "writing the spool file: %s", strerror(errno));
    return LG_OK;
}

/* A regular file's size tells what the in-memory spool will hold (its
 * rows again, a little larger): reserving that at once spares the copies
 * of growing, and 2 MiB pages (transparent huge pages, asked for with
 * madvise; ignored where the kernel has them off) spare most of the page
 * faults of filling it, which were a tenth of the command's time. */
static void spool_reserve(run *r, FILE *in) {
    struct stat st;
    if (r->live || r->base || fstat(fileno(in), &st) || !S_ISREG(st.st_mode) || st.st_size <= 0) return;
    size_t want = (size_t)st.st_size + (size_t)st.st_size / 4 + 4096;
    if (want > r->mem.max) want = r->mem.max;
    if (lg_buf_reserve(&r->mem, want)) return;
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t a = ((uintptr_t)r->mem.data + huge - 1) & ~(huge - 1);
    uintptr_t b = ((uintptr_t)r->mem.data + r->mem.cap) & ~(huge - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_HUGEPAGE);
#endif
}

/* A regular file of at most WHOLE_MAX bytes (not --live) is read at once
 * into r->base (freed by the caller): its plain lines are then spooled as
 * references (take_row), which spares the 64 KiB read chunk and the spool
 * of row texts, ~60 fresh pages of a 2,000-line file. Returns the bytes
 * read (0: not read whole; the chunked loop reads it). */
static size_t read_whole(run *r, FILE *in) {
    struct stat st;
    if (r->live || fstat(fileno(in), &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > WHOLE_MAX)
        return 0;
    char *buf = malloc((size_t)st.st_size);
    if (!buf) return 0;
    size_t n = fread(buf, 1, (size_t)st.st_size, in);
    if (!n) {
        free(buf);
        return 0;
    }
    r->base = buf;
    r->base_len = n;
    return n;
}

/* Reads n bytes back (1), or 0 at the end. */
static int spool_get(run *r, void *dst, size_t n) {
    if (r->spool) return fread(dst, 1, n, r->spool) == n;
    if (r->mem.len - r->mem_pos < n) return 0;
    if (n) memcpy(dst, r->mem.data + r->mem_pos, n);
    r->mem_pos += n;
    return 1;
}

/* One message with its row's fields. */
static lg_err take_row(run *r, char **f, const size_t *lens, size_t n, const char *msg, size_t mlen,
                       lg_errmsg *err) {
    lg_tpl_result res;
    lg_err e = lg_tpl_add(r->miner, msg, mlen, &res, err);
    if (e) return e;
    if (res.index > SPOOL_INDEX || res.variant >= 0x7f)
        return lg_fail(err, LG_ELIMIT, "row %llu: more than %u templates", (unsigned long long)r->rows + 1,
                       SPOOL_INDEX);
    /* the template as spooled: the line's word variant goes with it
     * (lg_tpl_split_words may split the template at the end) */
    uint32_t spooled = res.index | (uint32_t)(res.variant + 1) << SPOOL_VAR_SHIFT;
    if (r->rules) {
        long lc = r->csv ? r->label_col : -1;
        e = keep_for_rules(r, msg, mlen, lc >= 0 ? f[lc] : NULL, lc >= 0 ? lens[lc] : 0, spooled, err);
        if (e) return e;
    }
    r->rows++;
    r->new_templates += (uint64_t)res.is_new;
    if (r->live) {
        lg_buf_reset(&r->row);
        e = put_prefix(r, &r->row, f, lens, n);
        if (e) return lg_fail(err, e, "row %llu: too large", (unsigned long long)r->rows);
        e = put_suffix(r, &r->row, res.index, msg, mlen);
        if (e) return lg_fail(err, e, "row %llu: too large", (unsigned long long)r->rows);
        return write_out(r, r->row.data, r->row.len, err);
    }
    /* a plain line of the input read whole: its place only (fresh memory
     * costs ~2 us a page here, and the row is formatted once, at the end) */
    if (r->base && !r->csv && !r->spool && msg >= r->base && mlen <= r->base_len &&
        (size_t)(msg - r->base) <= r->base_len - mlen) {
        uint32_t ref[3] = {spooled | SPOOL_REF, (uint32_t)(msg - r->base), (uint32_t)mlen};
        if (lg_buf_append(&r->mem, ref, sizeof ref) == LG_OK) return LG_OK;
    }
    /* the message again only when params are wanted (they are taken
     * under the final template) */
    if (!r->params) mlen = 0;
    if (!r->spool) { /* in memory: the prefix written straight into the spool */
        size_t at = r->mem.len;
        uint32_t hdr[3] = {spooled, 0, (uint32_t)mlen};
        e = lg_buf_append(&r->mem, hdr, sizeof hdr);
        if (!e) e = put_prefix(r, &r->mem, f, lens, n);
        if (!e) e = lg_buf_append(&r->mem, msg, mlen);
        if (!e) {
            hdr[1] = (uint32_t)(r->mem.len - at - sizeof hdr - mlen);
            memcpy(r->mem.data + at, hdr, sizeof hdr);
            return LG_OK;
        }
        r->mem.len = at; /* full: this row and the rest go to the spool file */
    }
    lg_buf_reset(&r->row);
    e = put_prefix(r, &r->row, f, lens, n);
    if (e) return lg_fail(err, e, "row %llu: too large", (unsigned long long)r->rows);
    uint32_t hdr[3] = {spooled, (uint32_t)r->row.len, (uint32_t)mlen};
    e = spool_put(r, hdr, sizeof hdr, err);
    if (!e) e = spool_put(r, r->row.data ? r->row.data : "", r->row.len, err);
    if (!e) e = spool_put(r, msg, mlen, err);
    return e;
}

static lg_err write_header(run *r, lg_errmsg *err) {
    if (r->jsonl) return LG_OK;
    lg_buf_reset(&r->row);
    lg_err e = LG_OK;
    for (size_t i = 0; i < r->nhead && !e; i++) {
        if (r->drop[i]) continue;
        e = lg_csv_put_field(&r->row, r->head[i], strlen(r->head[i]));
        if (!e) e = lg_buf_putc(&r->row, ',');
    }
    if (!e) e = lg_buf_append(&r->row, "template_id,template", 20);
    if (!e && r->params) e = lg_buf_append(&r->row, ",params", 7);
    if (!e) e = lg_buf_putc(&r->row, '\n');
    if (e) return lg_fail(err, e, e == LG_ENOMEM ? "templates: the output header: out of memory" : "templates: the output header is too large");
    return write_out(r, r->row.data, r->row.len, err);
}

static lg_err set_header(run *r, char **names, const size_t *lens, size_t n) {
    r->head = calloc(n ? n : 1, sizeof *r->head);
    r->drop = calloc(n ? n : 1, 1);
    if (!r->head || !r->drop) return LG_ENOMEM;
    r->nhead = n;
    for (size_t i = 0; i < n; i++) {
        r->head[i] = lg_strndup(names[i], lens[i]);
        if (!r->head[i]) return LG_ENOMEM;
        r->drop[i] = (uint8_t)is_ours(r->head[i]);
    }
    return LG_OK;
}

/* --rules: keeps the row's message, label and template. */
static lg_err keep_for_rules(run *r, const char *msg, size_t len, const char *lab, size_t lab_len,
                             uint32_t index, lg_errmsg *err) {
    if (r->r_n == RULES_MAX_ROWS)
        return lg_fail(err, LG_ELIMIT, "--rules holds the messages in memory: at most %d rows", RULES_MAX_ROWS);
    if (r->r_n == r->r_cap) {
        size_t nc = r->r_cap ? r->r_cap * 2 : 1024;
        char **m = realloc(r->r_msg, nc * sizeof *m), **l = m ? realloc(r->r_lab, nc * sizeof *l) : NULL;
        if (m) r->r_msg = m;
        if (l) r->r_lab = l;
        size_t *n = l ? realloc(r->r_len, nc * sizeof *n) : NULL;
        if (n) r->r_len = n;
        uint32_t *t = n ? realloc(r->r_tpl, nc * sizeof *t) : NULL;
        if (!t) return lg_fail(err, LG_ENOMEM, "templates: rows kept for --rules: out of memory");
        r->r_tpl = t;
        r->r_cap = nc;
    }
    r->r_msg[r->r_n] = lg_strndup(msg, len);
    r->r_lab[r->r_n] = lab ? lg_strndup(lab, lab_len) : NULL;
    if (!r->r_msg[r->r_n] || (lab && !r->r_lab[r->r_n])) {
        free(r->r_msg[r->r_n]);
        free(r->r_lab[r->r_n]);
        return lg_fail(err, LG_ENOMEM, "templates: rows kept for --rules: out of memory");
    }
    r->r_len[r->r_n] = len;
    r->r_tpl[r->r_n++] = index;
    return LG_OK;
}

static lg_err on_csv_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    run *r = user;
    if (!r->header_done) {
        r->header_done = 1;
        if (set_header(r, row->fields, row->lens, row->nfields)) return lg_fail(err, LG_ENOMEM, "templates: the CSV header: out of memory");
        long c = find_column(r, r->head, r->nhead);
        if (c < 0) return lg_fail(err, LG_ENOTFOUND, "no message column in the header");
        r->msg_col = (size_t)c;
        r->label_col = -1;
        for (size_t i = 0; i < r->nhead; i++)
            if (!strcmp(r->head[i], "target_label") && (size_t)c != i) r->label_col = (long)i;
        r->drop[c] = 0;
        return write_header(r, err);
    }
    if (row->nfields != r->nhead)
        return lg_fail(err, LG_EPARSE, "line %llu: %zu fields, the header has %zu", (unsigned long long)row->line,
                       row->nfields, r->nhead);
    return take_row(r, row->fields, row->lens, row->nfields, row->fields[r->msg_col], row->lens[r->msg_col], err);
}

/* ---- Input: CSV or plain lines ----------------------------------------- */

typedef struct {
    const run *r;
    int found;
} probe;

static lg_err on_probe(void *user, const lg_csv_row *row, lg_errmsg *err) {
    probe *p = user;
    p->found = find_column(p->r, row->fields, row->nfields) >= 0;
    return LG_ELIMIT; /* the header is all we need */
}

/* Decides from the first line whether the input is a CSV whose header
 * names the message column (*found); fails only when out of memory (the
 * answer is then unknown: never taken for "plain text"). */
static lg_err header_names_message(const run *r, const char *line, size_t len, int *found,
                                   lg_errmsg *err) {
    lg_csv_limits lim = {MAX_LINE, 4096, LG_CSV_FAST};
    probe p = {r, 0};
    lg_csv_reader *rd;
    *found = 0;
    lg_err e = lg_csv_reader_new(&lim, on_probe, NULL, &p, &rd, NULL);
    if (e) return lg_fail(err, LG_ENOMEM, "templates: reading the header: out of memory");
    e = lg_csv_feed(rd, line, len, NULL);
    if (e == LG_OK) e = lg_csv_finish(rd, NULL);
    lg_csv_reader_free(rd);
    if (e == LG_ENOMEM) return lg_fail(err, e, "templates: reading the header: out of memory");
    *found = p.found;
    return LG_OK;
}

/* Plain text: one message per line (a trailing CR dropped). */
static lg_err plain_line(run *r, const char *p, size_t n, lg_errmsg *err) {
    if (n && p[n - 1] == '\r') n--;
    char *f[1] = {(char *)p};
    size_t l[1] = {n};
    return take_row(r, f, l, 1, p, n, err);
}

typedef struct {
    run *r;
    lg_csv_reader *csv;
    lg_buf line;     /* plain mode: the unfinished line; before the mode is
                        known: the first line */
    int mode;        /* 0 undecided, 1 csv, 2 plain */
    uint64_t lineno;
    int bom_checked;
} input;

static lg_err plain_feed(input *in, const char *p, size_t n, lg_errmsg *err) {
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (nl && !in->line.len && take <= MAX_LINE) { /* a whole line in the chunk: no copy */
            in->lineno++;
            lg_err e = plain_line(in->r, p, take, err);
            if (e) return e;
            p = nl + 1;
            n -= take + 1;
            continue;
        }
        lg_err be = lg_buf_append(&in->line, p, take);
        if (be == LG_ENOMEM) return lg_fail(err, be, "line %llu: out of memory", (unsigned long long)in->lineno + 1);
        if (be)
            return lg_fail(err, LG_ELIMIT, "line %llu: longer than %zu bytes", (unsigned long long)in->lineno + 1,
                           MAX_LINE);
        if (!nl) break;
        in->lineno++;
        lg_err e = plain_line(in->r, in->line.data ? in->line.data : "", in->line.len, err);
        if (e) return e;
        lg_buf_reset(&in->line);
        p = nl + 1;
        n -= take + 1;
    }
    return LG_OK;
}

static lg_err decide(input *in, lg_errmsg *err) {
    run *r = in->r;
    const char *p = in->line.data ? in->line.data : "";
    size_t n = in->line.len;
    int found;
    lg_err he = header_names_message(r, p, n, &found, err);
    if (he) return he;
    if (found) {
        in->mode = 1;
        r->csv = 1;
        lg_csv_limits lim = {MAX_LINE, 4096, LG_CSV_FAST};
        lg_err e = lg_csv_reader_new(&lim, on_csv_row, NULL, r, &in->csv, err);
        if (!e) e = lg_csv_feed(in->csv, p, n, err);
        lg_buf_reset(&in->line);
        return e;
    }
    if (r->column) return lg_fail(err, LG_ENOTFOUND, "the first line is not a CSV header with a column '%s'", r->column);
    in->mode = 2;
    static char name[] = "log_message";
    char *names[1] = {name};
    size_t lens[1] = {sizeof name - 1};
    if (set_header(r, names, lens, 1)) return lg_fail(err, LG_ENOMEM, "templates: the header: out of memory");
    lg_err e = write_header(r, err);
    if (e) return e;
    /* the first line (and what came after it) through the plain path */
    size_t skip = n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3) ? 3 : 0;
    lg_buf first = in->line;
    lg_buf_init(&in->line, MAX_LINE);
    e = plain_feed(in, first.data ? first.data + skip : "", first.len - skip, err);
    lg_buf_free(&first);
    return e;
}

static lg_err input_feed(input *in, const char *p, size_t n, lg_errmsg *err) {
    if (in->mode == 1) return lg_csv_feed(in->csv, p, n, err);
    if (in->mode == 2) return plain_feed(in, p, n, err);
    const char *nl = memchr(p, '\n', n);
    size_t take = nl ? (size_t)(nl - p) + 1 : n;
    lg_err be = lg_buf_append(&in->line, p, take);
    if (be == LG_ENOMEM) return lg_fail(err, be, "line 1: out of memory");
    if (be) return lg_fail(err, LG_ELIMIT, "line 1: longer than %zu bytes", MAX_LINE);
    if (!nl) return LG_OK;
    lg_err e = decide(in, err);
    if (!e && take < n) e = input_feed(in, p + take, n - take, err);
    return e;
}

static lg_err input_finish(input *in, lg_errmsg *err) {
    if (in->mode == 0) {
        if (in->line.len == 0) return LG_OK; /* empty input: no output at all */
        lg_err e = decide(in, err);
        if (e) return e;
    }
    if (in->mode == 1) return lg_csv_finish(in->csv, err);
    if (in->line.len) {
        in->lineno++;
        lg_err e = plain_line(in->r, in->line.data, in->line.len, err);
        lg_buf_reset(&in->line);
        return e;
    }
    return LG_OK;
}

/* ---- After the run: spooled rows, summary ------------------------------ */

/* The final template of a spooled (index, variant) */
static uint32_t spooled_template(const run *r, uint32_t s) {
    int variant = (int)((s & ~SPOOL_REF) >> SPOOL_VAR_SHIFT) - 1;
    return (uint32_t)lg_tpl_resolve(r->miner, s & SPOOL_INDEX, variant);
}

static lg_err drain_spool(run *r, lg_errmsg *err) {
    if (r->spool && (fflush(r->spool) != 0 || fseek(r->spool, 0, SEEK_SET) != 0))
        return lg_fail(err, LG_EIO, "spool file: %s", strerror(errno));
    size_t nt = lg_tpl_count(r->miner);
    r->cache = calloc(nt ? nt : 1, sizeof *r->cache);
    r->cache_len = calloc(nt ? nt : 1, sizeof *r->cache_len);
    if (!r->cache || !r->cache_len) return lg_fail(err, LG_ENOMEM, "templates: the output cache: out of memory");
    lg_buf msg, pre;
    lg_buf_init(&msg, MAX_LINE + 1);
    lg_buf_init(&pre, MAX_LINE + 1);
    lg_err e = LG_OK;
    uint32_t hdr[3];
    /* rows are gathered in r->row and written OUT_BLOCK bytes at a time
     * (a write call per row cost more than the rows' text) */
    lg_buf_reset(&r->row);
    /* room for a block and a row past it at once: growing it row by row
     * copied it at every doubling */
    if (lg_buf_reserve(&r->row, 2 * OUT_BLOCK)) return lg_fail(err, LG_ENOMEM, "templates: the output row: out of memory");
    uint64_t done = 0;
    lg_progress_phase(r->prog, "writing", "rows", r->rows, 0);
    while (!e && spool_get(r, hdr, sizeof hdr)) {
        const char *p, *m;
        if (++done % 4096 == 0) lg_progress_set(r->prog, done, 0);
        if (hdr[0] & SPOOL_REF) { /* a plain line of the input: its row made now */
            char *f[1] = {(char *)r->base + hdr[1]};
            size_t l[1] = {hdr[2]};
            e = put_prefix(r, &r->row, f, l, 1);
            if (!e) e = put_suffix(r, &r->row, spooled_template(r, hdr[0]), f[0], l[0]);
            if (e) e = lg_fail(err, e, e == LG_ENOMEM ? "templates: an output row: out of memory" : "templates: an output row is too large");
            else if (r->row.len >= OUT_BLOCK) {
                e = write_out(r, r->row.data, r->row.len, err);
                lg_buf_reset(&r->row);
            }
            continue;
        }
        if (!r->spool) { /* in memory: read in place */
            if (r->mem.len - r->mem_pos < (size_t)hdr[1] + hdr[2]) {
                e = lg_fail(err, LG_EIO, "spool: short read");
                break;
            }
            p = r->mem.data + r->mem_pos;
            m = p + hdr[1];
            r->mem_pos += (size_t)hdr[1] + hdr[2];
        } else {
            lg_buf_reset(&pre);
            lg_buf_reset(&msg);
            if (lg_buf_reserve(&pre, hdr[1]) || lg_buf_reserve(&msg, hdr[2])) {
                e = lg_fail(err, LG_ENOMEM, "templates: the output row: out of memory");
                break;
            }
            if (!spool_get(r, pre.data, hdr[1]) || !spool_get(r, msg.data, hdr[2])) {
                e = lg_fail(err, LG_EIO, "spool file: short read");
                break;
            }
            p = pre.data;
            m = msg.data;
        }
        e = lg_buf_append(&r->row, p, hdr[1]);
        if (!e) e = put_suffix(r, &r->row, spooled_template(r, hdr[0]), m, hdr[2]);
        if (e) e = lg_fail(err, e, e == LG_ENOMEM ? "templates: an output row: out of memory" : "templates: an output row is too large");
        else if (r->row.len >= OUT_BLOCK) {
            e = write_out(r, r->row.data, r->row.len, err);
            lg_buf_reset(&r->row);
        }
    }
    if (!e) e = write_out(r, r->row.data, r->row.len, err);
    lg_buf_reset(&r->row);
    lg_buf_free(&pre);
    if (!e && r->spool && ferror(r->spool)) e = lg_fail(err, LG_EIO, "spool file: %s", strerror(errno));
    lg_buf_free(&msg);
    return e;
}

/* --rules: a rule per template group (lg_cluster_template_rules, as `logify
 * cluster` does), written atomically to path. */
static int write_rules(run *r, const char *path) {
    int has_labels = 0, rc = CLI_FAIL;
    for (size_t i = 0; i < r->r_n && !has_labels; i++) has_labels = r->r_lab[i] && r->r_lab[i][0];
    lg_suggested_rule *rules = NULL;
    size_t n_rules = 0;
    lg_buf y;
    lg_buf_init(&y, (size_t)256 << 20);
    cli_outfile of = {0};
    lg_errmsg err = {{0}};
    for (size_t i = 0; i < r->r_n; i++) r->r_tpl[i] = spooled_template(r, r->r_tpl[i]);
    lg_suggest_input in = {(const char *const *)r->r_msg, r->r_len,
                           has_labels ? (const char *const *)r->r_lab : NULL, r->r_n, NULL, 0,
                           RULES_MIN_LINES, 0, NULL};
    if (lg_cluster_template_rules(r->miner, r->r_tpl, NULL, &in, &rules, &n_rules, &err) ||
        lg_suggested_rules_yaml(rules, n_rules, r->r_n, has_labels, &y, &err)) {
        cli_error("--rules: %s", err.msg);
        goto done;
    }
    if (cli_outfile_open(&of, path) != CLI_OK) goto done;
    if (fwrite(y.data ? y.data : "", 1, y.len, of.f) != y.len) {
        cli_error("writing %s: %s", path, strerror(errno));
        goto done;
    }
    rc = cli_outfile_commit(&of);
done:
    if (of.f || of.tmp_path) cli_outfile_abort(&of);
    lg_suggested_rules_free(rules, n_rules);
    lg_buf_free(&y);
    return rc;
}

static const lg_tpl_miner *sort_miner;
static int by_lines(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint64_t lx = lg_tpl_lines(sort_miner, x), ly = lg_tpl_lines(sort_miner, y);
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static void print_summary(run *r, double secs) {
    size_t n = lg_tpl_count(r->miner);
    fprintf(stderr, "logify: %llu lines in %.3f s (%.0f lines/s), %zu templates (%llu new)\n",
            (unsigned long long)r->rows, secs, secs > 0 ? (double)r->rows / secs : 0.0, n,
            (unsigned long long)r->new_templates);
    uint32_t *ix = malloc((n ? n : 1) * sizeof *ix);
    if (!ix) return;
    for (size_t i = 0; i < n; i++) ix[i] = (uint32_t)i;
    sort_miner = r->miner;
    qsort(ix, n, sizeof *ix, by_lines);
    for (size_t i = 0; i < n; i++) {
        char id[17];
        lg_tpl_format_id(lg_tpl_id(r->miner, ix[i]), id);
        lg_buf_reset(&r->tx);
        lg_tpl_text(r->miner, ix[i], &r->tx);
        fprintf(stderr, "%10llu %s %s\n", (unsigned long long)lg_tpl_lines(r->miner, ix[i]), id,
                r->tx.data ? r->tx.data : "");
    }
    free(ix);
}

/* ---- The command ---------------------------------------------------------- */

int cmd_templates(int argc, char **argv) {
    enum { O_FORMAT = 256, O_PARAMS, O_SUMMARY, O_STATE, O_LIVE, O_COLUMN, O_SIM, O_DEPTH, O_WORDS, O_RULES,
           O_NO_PROGRESS };
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, O_FORMAT},
        {"params", no_argument, 0, O_PARAMS},   {"summary", no_argument, 0, O_SUMMARY},
        {"state", required_argument, 0, O_STATE}, {"rules", required_argument, 0, O_RULES}, {"live", no_argument, 0, O_LIVE},
        {"column", required_argument, 0, O_COLUMN}, {"sim", required_argument, 0, O_SIM},
        {"depth", required_argument, 0, O_DEPTH}, {"word-variants", required_argument, 0, O_WORDS},
        {"no-progress", no_argument, 0, O_NO_PROGRESS}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    run r = {0};
    lg_tpl_opts to = {0};
    to.depth = -1;
    const char *output = NULL, *state = NULL, *rules_path = NULL;
    int summary = 0, no_progress = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "csv")) r.jsonl = 0;
            else if (!strcmp(optarg, "jsonl")) r.jsonl = 1;
            else return cli_usage_error(usage_text, "templates: --format must be csv or jsonl");
            break;
        case O_PARAMS: r.params = 1; break;
        case O_SUMMARY: summary = 1; break;
        case O_STATE: state = optarg; break;
        case O_RULES: rules_path = optarg; break;
        case O_LIVE: r.live = 1; break;
        case O_COLUMN: r.column = optarg; break;
        case O_SIM:
            if (cli_parse_double(optarg, &to.sim) || !(to.sim > 0 && to.sim <= 1))
                return cli_usage_error(usage_text, "templates: --sim must be in (0, 1]");
            break;
        case O_DEPTH: {
            long v;
            if (cli_parse_long(optarg, 0, 8, &v)) return cli_usage_error(usage_text, "templates: --depth must be 0..8");
            to.depth = (int)v;
            break;
        }
        case O_WORDS: {
            long v;
            if (cli_parse_long(optarg, 1, 64, &v))
                return cli_usage_error(usage_text, "templates: --word-variants must be 1..64");
            to.word_variants = (int)v;
            break;
        }
        case O_NO_PROGRESS: no_progress = 1; break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "templates: unknown option");
        }
    }
    if (optind < argc - 1) return cli_usage_error(usage_text, "templates: expected at most one input");
    const char *inpath = optind < argc ? argv[optind] : "-";
    int tuned = to.depth >= 0 || to.sim > 0 || to.word_variants > 0;
    if (to.depth < 0) to.depth = 2;

    int rc = CLI_FAIL;
    lg_errmsg err = {{0}};
    FILE *in = NULL;
    cli_outfile of = {0};
    input inp = {0};
    char *chunk = NULL;
    lg_buf_init(&r.row, (size_t)64 << 20);
    /* LOGIFY_SPOOL_MEM (bytes): the spool's memory part, for the tests of its file part */
    const char *sm = getenv("LOGIFY_SPOOL_MEM");
    size_t spool_mem = SPOOL_MEM;
    if (sm && lg_parse_size(sm, &spool_mem) != 0) spool_mem = SPOOL_MEM;
    lg_buf_init(&r.mem, spool_mem);
    lg_buf_init(&r.tx, (size_t)64 << 20);
    lg_buf_init(&inp.line, MAX_LINE);
    inp.r = &r;
    r.rules = rules_path != NULL;
    r.label_col = -1;

    lg_err e = LG_ENOTFOUND;
    if (state) {
        e = lg_tpl_load(state, &r.miner, &err);
        if (e && e != LG_ENOTFOUND) {
            cli_error("%s (nothing was written)", err.msg);
            goto done;
        }
        if (!e && tuned) fprintf(stderr, "logify: templates: --sim/--depth/--word-variants ignored: %s keeps its own\n", state);
    }
    if (e && lg_tpl_miner_new(&to, &r.miner, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    r.n_before = lg_tpl_count(r.miner);
    in = strcmp(inpath, "-") ? fopen(inpath, "rb") : stdin;
    if (!in) {
        cli_error("%s: %s", inpath, strerror(errno));
        goto done;
    }
    if (output) {
        if (cli_outfile_open(&of, output) != CLI_OK) goto done;
        r.out = of.f;
        r.out_name = output;
    } else {
        r.out = stdout;
        r.out_name = "stdout";
    }
    /* rows leave in OUT_BLOCK writes of their own (drain_spool): through a
     * stdio buffer each went out as two write calls */
    if (!r.live) setvbuf(r.out, NULL, _IONBF, 0);
    size_t whole = read_whole(&r, in);
    spool_reserve(&r, in);
    chunk = malloc(CHUNK);
    if (!chunk) {
        cli_error("templates: read buffer: out of memory");
        goto done;
    }
    double t0 = lg_now();
    size_t n;
    e = LG_OK;
    r.prog = cli_progress_start("templates", no_progress, !output);
    lg_progress_phase(r.prog, NULL, "rows", 0, cli_file_size(in));
    uint64_t bytes = whole;
    if (whole) { /* then the chunked loop reads what the file grew by */
        e = input_feed(&inp, r.base, whole, &err);
        lg_progress_set(r.prog, r.rows, bytes);
    }
    while (!e && (n = fread(chunk, 1, CHUNK, in)) > 0) {
        e = input_feed(&inp, chunk, n, &err);
        bytes += n;
        lg_progress_set(r.prog, r.rows, bytes);
    }
    if (!e && ferror(in)) e = lg_fail(&err, LG_EIO, "reading: %s", strerror(errno));
    if (!e) e = input_finish(&inp, &err);
    /* rows not yet written: a word turned <*> too early may split its template */
    if (!e && !r.live) lg_tpl_split_words(r.miner);
    if (!e && !r.live) e = drain_spool(&r, &err);
    if (e) {
        if (r.out_failed)
            cli_error("%s", err.msg);
        else
            cli_error("%s: %s", strcmp(inpath, "-") ? inpath : "stdin", err.msg);
        goto done;
    }
    if (!output && fflush(stdout) != 0) {
        cli_error("writing stdout: %s", strerror(errno));
        goto done;
    }
    if (output && cli_outfile_commit(&of) != CLI_OK) goto done;
    cli_progress_end(r.prog);
    r.prog = NULL;
    if (rules_path && write_rules(&r, rules_path) != CLI_OK) goto done;
    if (state && lg_tpl_save(r.miner, state, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (summary) print_summary(&r, lg_now() - t0);
    rc = CLI_OK;
done:
    cli_progress_end(r.prog);
    if (of.f || of.tmp_path) cli_outfile_abort(&of);
    if (in && in != stdin) fclose(in);
    if (r.spool) fclose(r.spool);
    lg_buf_free(&r.mem);
    free((char *)r.base);
    free(chunk);
    lg_csv_reader_free(inp.csv);
    lg_buf_free(&inp.line);
    for (size_t i = 0; i < r.nhead; i++) free(r.head[i]);
    free(r.head);
    free(r.drop);
    if (r.cache)
        for (size_t i = 0; i < lg_tpl_count(r.miner); i++) free(r.cache[i]);
    free(r.cache);
    free(r.cache_len);
    for (size_t i = 0; i < r.r_n; i++) {
        free(r.r_msg[i]);
        free(r.r_lab[i]);
    }
    free(r.r_msg), free(r.r_lab), free(r.r_len), free(r.r_tpl);
    lg_buf_free(&r.row);
    lg_buf_free(&r.tx);
    lg_tpl_miner_free(r.miner);
    return rc;
}
