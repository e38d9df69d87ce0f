/* templates_state.c - the template miner's state file: save (atomically) and load,
 * so a stream can be mined in pieces with the same ids (like Drain3's
 * persistence). JSON lines:
 *
 *   {"format":"logify-templates","version":1,"depth":2,"max_children":100,
 *    "max_tokens":256,"word_variants":3,"templates":N,"sim":0.5}
 *   {"id":"<16 hex>","lines":N,"wild_path":0,"keys":[0,1],"root":R,"span":[lo,hi],
 *    "text":"<first line>","tokens":[[off,len,wild],...],
 *    "template":"<text with <*>>"}                                  (N lines)
 *
 * `text` is the line that started the template (`text_hex` instead when it
 * is not valid UTF-8); `tokens` index into it; `keys` the tokens keyed in
 * the tree (`wild_path`: which of those levels are <*>); `template` is for people
 * and is checked against the rebuilt template on load. `root` is the
 * index (0-based, line order) of the older template whose group this one
 * joined (itself when alone); `span` the variable-length run shown as one
 * <*> ([0,0]: none). Anything else is
 * an error naming the file and line; the miner is not touched.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logify/jsonguard.h"
#include "templates/templates_int.h"

#define STATE_FORMAT "logify-templates"
#define STATE_VERSION 1
#define STATE_MAX_LINE ((size_t)64 << 20)

/* ---- Save ------------------------------------------------------------- */

static json_t *tpl_json(const lg_tpl_miner *m, size_t i, lg_buf *scratch) {
    const tpl *t = &m->t[i];
    char id[17];
    lg_tpl_format_id(t->id, id);
    json_t *o = json_object();
    json_t *toks = json_array();
    if (!o || !toks) {
        json_decref(o);
        json_decref(toks);
        return NULL;
    }
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "lines", json_integer((json_int_t)t->lines));
    json_object_set_new(o, "wild_path", json_integer(t->wild_path));
    json_t *keys = json_array();
    for (uint32_t j = 0; j < t->nkey; j++) json_array_append_new(keys, json_integer(t->kpos[j]));
    json_object_set_new(o, "keys", keys);
    json_object_set_new(o, "root", json_integer(tpl_root(m, (uint32_t)i)));
    json_object_set_new(o, "span", json_pack("[ii]", (int)t->span_lo, (int)t->span_hi));
    json_t *text = json_stringn(t->text, t->text_len);
    if (text) json_object_set_new(o, "text", text);
    else { /* not UTF-8: hex */
        static const char hx[] = "0123456789abcdef";
        lg_buf_reset(scratch);
        for (uint32_t k = 0; k < t->text_len; k++) {
            unsigned char c = (unsigned char)t->text[k];
            char two[2] = {hx[c >> 4], hx[c & 15]};
            if (lg_buf_append(scratch, two, 2)) { /* out of memory: no line cut short */
                json_decref(o);
                json_decref(toks);
                return NULL;
            }
        }
        json_object_set_new(o, "text_hex", json_stringn(scratch->data ? scratch->data : "", scratch->len));
    }
    for (uint32_t k = 0; k < t->n; k++) {
        uint32_t len = t->end[k] - t->off[k];
        int wild = t->len[k] == TPL_WILD ? 1 + t->shape[k] : 0; /* 2: <*> shown with its shape */
        json_array_append_new(toks, json_pack("[IIi]", (json_int_t)t->off[k], (json_int_t)len, wild));
    }
    json_object_set_new(o, "tokens", toks);
    lg_buf_reset(scratch);
    lg_err re = tpl_render(t, scratch);
    if (re == LG_ENOMEM) { /* not a line without its "template" */
        json_decref(o);
        return NULL;
    }
    if (re == LG_OK) {
        json_t *tx = json_stringn(scratch->data ? scratch->data : "", scratch->len);
        if (tx) json_object_set_new(o, "template", tx);
    }
    return o;
}

static int dump_line(FILE *f, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    if (!s) return -1;
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(s);
    return rc;
}

lg_err lg_tpl_save(const lg_tpl_miner *m, const char *path, lg_errmsg *err) {
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return lg_fail(err, LG_ENOMEM, "templates state: out of memory");
    snprintf(tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        lg_err e = lg_fail(err, LG_EIO, "%s: cannot create a temporary file: %s", path, strerror(errno));
        free(tmp);
        return e;
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int en = errno; /* ENOMEM: fdopen could not allocate its FILE */
        close(fd);
        unlink(tmp);
        free(tmp);
        return en == ENOMEM ? lg_fail(err, LG_ENOMEM, "%s: out of memory", path)
                            : lg_fail(err, LG_EIO, "%s: cannot open", path);
    }
    lg_buf scratch;
    lg_buf_init(&scratch, (size_t)256 << 20);
    unsigned long mark = lg_json_alloc_mark(); /* a key Jansson's dump dropped (jsonguard.h) */
    json_t *h = json_pack("{sssisisisisisI}", "format", STATE_FORMAT, "version", STATE_VERSION, "depth",
                          m->opts.depth, "max_children", (int)m->opts.max_children, "max_tokens",
                          (int)m->opts.max_tokens, "word_variants", m->opts.word_variants, "templates",
                          (json_int_t)m->n_t);
    if (h && json_object_set_new(h, "sim", json_real(m->opts.sim))) {
        json_decref(h);
        h = NULL;
    }
    int bad = dump_line(f, h);
    for (size_t i = 0; i < m->n_t && !bad; i++) bad = dump_line(f, tpl_json(m, i, &scratch));
    lg_buf_free(&scratch);
    if (!bad && lg_json_alloc_failed_since(mark)) { /* a line may lack a key */
        bad = 1;
        errno = ENOMEM;
    }
    if (fflush(f) != 0 || ferror(f)) bad = 1;
    if (fsync(fileno(f)) != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (!bad) {
        mode_t mask = umask(0);
        umask(mask);
        chmod(tmp, 0666 & ~mask);
        if (rename(tmp, path) != 0) bad = 1;
    }
    if (bad) {
        int en = errno;
        unlink(tmp);
        free(tmp);
        return lg_fail(err, en == ENOMEM ? LG_ENOMEM : LG_EIO,
                       "%s: cannot write the template state: %s", path, strerror(en));
    }
    free(tmp);
    return LG_OK;
}

/* ---- Load ------------------------------------------------------------- */

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Reads one template line into the miner. */
static lg_err load_tpl(lg_tpl_miner *m, json_t *o, const char **why, lg_buf *scratch) {
    const char *id_s = json_string_value(json_object_get(o, "id"));
    json_t *jl = json_object_get(o, "lines"), *jw = json_object_get(o, "wild_path");
    json_t *jt = json_object_get(o, "text"), *jh = json_object_get(o, "text_hex");
    json_t *toks = json_object_get(o, "tokens");
    json_t *jr = json_object_get(o, "root"), *js = json_object_get(o, "span");
    json_t *jshown = json_object_get(o, "template");
    const char *shown = json_string_value(jshown);
    size_t shown_len = json_string_length(jshown);
    *why = "a field is missing or has the wrong type";
    if (!id_s || strlen(id_s) != 16 || !json_is_integer(jl) || json_integer_value(jl) < 0 ||
        !json_is_integer(jw) || json_integer_value(jw) < 0 || json_integer_value(jw) > 0xffff ||
        !json_is_array(toks) || !(json_is_string(jt) || json_is_string(jh)) || !json_is_integer(jr) ||
        json_integer_value(jr) < 0 || (size_t)json_integer_value(jr) > m->n_t || json_array_size(js) != 2 ||
        !json_is_integer(json_array_get(js, 0)) || !json_is_integer(json_array_get(js, 1)))
        return LG_EPARSE;
    uint32_t root = (uint32_t)json_integer_value(jr);
    json_int_t span_lo = json_integer_value(json_array_get(js, 0)), span_hi = json_integer_value(json_array_get(js, 1));
    if (root < m->n_t && m->t[root].root != root) return *why = "root is not a group's first template", LG_EPARSE;
    uint64_t id = 0;
    for (int k = 0; k < 16; k++) {
        int v = hexval(id_s[k]);
        if (v < 0) return *why = "bad id", LG_EPARSE;
        id = id << 4 | (uint64_t)v;
    }
    if (!id) return *why = "bad id", LG_EPARSE;
    const char *text;
    size_t tlen;
    if (json_is_string(jt)) {
        text = json_string_value(jt);
        tlen = json_string_length(jt);
    } else {
        const char *hx = json_string_value(jh);
        size_t hl = json_string_length(jh);
        if (hl % 2) return *why = "bad text_hex", LG_EPARSE;
        lg_buf_reset(scratch);
        for (size_t k = 0; k < hl; k += 2) {
            int a = hexval(hx[k]), b = hexval(hx[k + 1]);
            if (a < 0 || b < 0) return *why = "bad text_hex", LG_EPARSE;
            if (lg_buf_putc(scratch, (char)(a << 4 | b))) return LG_ENOMEM;
        }
        text = scratch->data ? scratch->data : "";
        tlen = scratch->len;
    }
    size_t n = json_array_size(toks);
    if (n > m->opts.max_tokens || tlen >= UINT32_MAX) return *why = "too many tokens", LG_EPARSE;
    uint32_t *arr = malloc((2 * n + 1) * sizeof *arr + n + 1);
    if (!arr) return LG_ENOMEM;
    uint8_t *wild = (uint8_t *)(arr + 2 * n + 1);
    uint32_t prev_end = 0;
    uint32_t wp = (uint32_t)json_integer_value(jw);
    for (size_t k = 0; k < n; k++) {
        json_t *a = json_array_get(toks, k);
        json_t *x0 = json_array_get(a, 0), *x1 = json_array_get(a, 1), *x2 = json_array_get(a, 2);
        if (!json_is_array(a) || json_array_size(a) != 3 || !json_is_integer(x0) || !json_is_integer(x1) ||
            !json_is_integer(x2)) {
            free(arr);
            return *why = "a token is not [offset, length, wild]", LG_EPARSE;
        }
        json_int_t off = json_integer_value(x0), len = json_integer_value(x1), w = json_integer_value(x2);
        if (off < prev_end || len < 0 || (size_t)(off + len) > tlen || w < 0 || w > 2) {
            free(arr);
            return *why = "a token lies outside the text", LG_EPARSE;
        }
        arr[k] = (uint32_t)off;
        arr[n + k] = (uint32_t)len;
        wild[k] = (uint8_t)w;
        prev_end = (uint32_t)(off + len);
    }
    /* the keyed tokens: increasing positions, constant unless keyed as <*> */
    json_t *jk = json_object_get(o, "keys");
    uint32_t kpos[8], nkey = (uint32_t)json_array_size(jk);
    int bad = !json_is_array(jk) || nkey > (uint32_t)m->opts.depth || (wp >> nkey);
    for (uint32_t j = 0; j < nkey && !bad; j++) {
        json_t *x = json_array_get(jk, j);
        json_int_t p = json_integer_value(x);
        bad = !json_is_integer(x) || p < 0 || (size_t)p >= n || (j && p <= (json_int_t)kpos[j - 1]) ||
              (!(wp & (1u << j)) && wild[p]);
        if (!bad) kpos[j] = (uint32_t)p;
    }
    if (bad) {
        free(arr);
        return *why = "keys or wild_path do not fit the tokens", LG_EPARSE;
    }
    uint32_t index;
    lg_err e = tpl_insert(m, text, tlen, arr, arr + n, wild, n, kpos, nkey, wp, id,
                          (uint64_t)json_integer_value(jl), &index);
    free(arr);
    if (e == LG_EPARSE) *why = "an id appears twice";
    if (e == LG_ELIMIT) *why = "more templates than max_templates";
    if (e) return e;
    tpl *t = &m->t[index];
    t->root = root;
    if (span_hi) {
        if (span_lo < 0 || span_hi <= span_lo || (uint64_t)span_hi > t->n) return *why = "bad span", LG_EPARSE;
        int any_wild = 0; /* a list's run may hold constants (templates_merge.c), not only them */
        for (json_int_t k = span_lo; k < span_hi; k++) any_wild |= t->len[k] == TPL_WILD;
        if (!any_wild) return *why = "span over constant tokens only", LG_EPARSE;
        t->span_lo = (uint32_t)span_lo;
        t->span_hi = (uint32_t)span_hi;
    }
    if (shown) {
        lg_buf_reset(scratch);
        if (tpl_render(t, scratch) == LG_OK &&
            (scratch->len != shown_len || memcmp(scratch->data ? scratch->data : "", shown, shown_len)))
            return *why = "template text does not match its tokens", LG_EPARSE;
    }
    return LG_OK;
}

lg_err lg_tpl_load(const char *path, lg_tpl_miner **out, lg_errmsg *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return lg_fail(err, LG_ENOTFOUND, "%s: no such file", path);
        return lg_fail(err, LG_EIO, "%s: %s", path, strerror(errno));
    }
    lg_tpl_miner *m = NULL;
    lg_buf line, scratch;
    lg_buf_init(&line, STATE_MAX_LINE);
    lg_buf_init(&scratch, STATE_MAX_LINE);
    lg_err e = LG_OK;
    uint64_t lineno = 0, expect = 0, got = 0;
    int c = 0;
    while (!e && c != EOF) {
        lg_buf_reset(&line);
        while ((c = getc(f)) != EOF && c != '\n')
            if ((e = lg_buf_putc(&line, (char)c))) {
                e = e == LG_ENOMEM ? lg_fail(err, e, "%s: out of memory", path)
                                   : lg_fail(err, LG_EPARSE, "%s:%llu: line too long: not a Logify "
                                             "template state", path, (unsigned long long)lineno + 1);
                break;
            }
        if (e) break;
        if (c == EOF && line.len == 0) break;
        lineno++;
        json_error_t je;
        int oom;
        json_t *o = lg_json_loadb(line.data ? line.data : "", line.len, JSON_ALLOW_NUL, &je, &oom);
        if (oom) { /* a value may have lost a byte (jsonguard.h) */
            e = lg_fail(err, LG_ENOMEM, "%s: out of memory", path);
            break;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            e = lg_fail(err, LG_EPARSE, "%s:%llu: not a Logify template state (not a JSON object)", path,
                        (unsigned long long)lineno);
            break;
        }
        if (lineno == 1) {
            const char *fmt = json_string_value(json_object_get(o, "format"));
            json_t *v = json_object_get(o, "version"), *n = json_object_get(o, "templates");
            lg_tpl_opts op = {0};
            op.depth = (int)json_integer_value(json_object_get(o, "depth"));
            op.sim = json_number_value(json_object_get(o, "sim"));
            op.max_children = (size_t)json_integer_value(json_object_get(o, "max_children"));
            op.max_tokens = (size_t)json_integer_value(json_object_get(o, "max_tokens"));
            op.word_variants = (int)json_integer_value(json_object_get(o, "word_variants"));
            if (!fmt || strcmp(fmt, STATE_FORMAT))
                e = lg_fail(err, LG_EPARSE, "%s:1: not a Logify template state (format is not \"%s\")", path,
                            STATE_FORMAT);
            else if (json_integer_value(v) != STATE_VERSION)
                e = lg_fail(err, LG_EPARSE, "%s:1: template state version %lld, this Logify reads %d", path,
                            (long long)json_integer_value(v), STATE_VERSION);
            else if (!json_is_integer(n) || json_integer_value(n) < 0 || !json_is_integer(json_object_get(o, "depth")) ||
                     op.sim <= 0 || op.max_children < 2 || op.max_tokens < 2 || op.word_variants < 1)
                e = lg_fail(err, LG_EPARSE, "%s:1: damaged template state header", path);
            else {
                expect = (uint64_t)json_integer_value(n);
                lg_errmsg em;
                if (lg_tpl_miner_new(&op, &m, &em)) e = lg_fail(err, LG_EPARSE, "%s:1: %s", path, em.msg);
            }
        } else {
            const char *why = "";
            lg_err le = load_tpl(m, o, &why, &scratch);
            if (le == LG_ENOMEM) e = lg_fail(err, le, "%s: out of memory", path);
            else if (le)
                e = lg_fail(err, LG_EPARSE, "%s:%llu: damaged template state: %s", path,
                            (unsigned long long)lineno, why);
            got++;
        }
        json_decref(o);
    }
    if (!e && ferror(f)) e = lg_fail(err, LG_EIO, "%s: %s", path, strerror(errno));
    if (!e && !m) e = lg_fail(err, LG_EPARSE, "%s: empty file: not a Logify template state", path);
    if (!e && got != expect)
        e = lg_fail(err, LG_EPARSE, "%s: damaged template state: %llu templates, the header says %llu", path,
                    (unsigned long long)got, (unsigned long long)expect);
    fclose(f);
    lg_buf_free(&line);
    lg_buf_free(&scratch);
    if (e) {
        lg_tpl_miner_free(m);
        return e;
    }
    *out = m;
    return LG_OK;
}
