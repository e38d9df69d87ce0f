/* tokenize.c - the template miner's preprocessor: splits a log line into
 * tokens and marks the ones that are variables. One set of rules for every
 * system (no per-system masks); docs/templates.md lists them with reasons.
 *
 * Splitting: blanks always; inside a blank-delimited chunk, field
 * separators `=` `,` `;` `|` brackets and quotes, and `:` after a key that
 * holds no digit (`port:22` splits, `10:20:30` and `fe80::1` do not). A
 * chunk that is a URL or a Windows path is never split. Leading opening
 * brackets/quotes and trailing closing ones (and a trailing `.` `:` `!` `?`)
 * are glue, not part of a token. A chunk of punctuation only (`-`, `->`) is
 * a constant token.
 *
 * Variables: a token holding a digit (numbers, hex ids, IPs, times, dates,
 * durations `12ms`, sizes `4KB`, `blk_-123`, UUIDs), except a word of 2+
 * letters ending in one digit (`ssh2`, `utf8`, `ipv4`: names, not values);
 * a run of 8+ hex letters; a path (`/x`, `~/x`, `C:\x`, `a/b/c`); a URL;
 * an e-mail-like `a@b`; a host or file name (`www.example.com`,
 * `chrome.exe`: dotted, ending in 2-4 lowercase letters). Everything else is a constant candidate that the
 * miner may still generalise.
 */
#include <stdlib.h>
#include <string.h>

#include "logify/templates.h"

#define DEFAULT_MAX_TOKENS 256

/* ---- Character classes ------------------------------------------------ */

static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_alpha(unsigned char c) { return (c | 32) >= 'a' && (c | 32) <= 'z'; }
static int is_hex(unsigned char c) { return is_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'f'); }
static int is_open(unsigned char c) { return c == '(' || c == '[' || c == '{' || c == '<' || c == '"' || c == '\''; }
static int is_close(unsigned char c) {
    return c == ')' || c == ']' || c == '}' || c == '>' || c == '"' || c == '\'' || c == ',' || c == ';' ||
           c == '.' || c == ':' || c == '!' || c == '?';
}
/* separators inside a chunk (':' is decided apart) */
static int is_sep(unsigned char c) {
    return c == '=' || c == ',' || c == ';' || c == '|' || c == '(' || c == ')' || c == '[' || c == ']' ||
           c == '{' || c == '}' || c == '"' || c == '\'' || c == '<' || c == '>';
}
/* bytes >= 0x80 (UTF-8 letters, binary) count as word bytes */
static int is_word(unsigned char c) { return is_digit(c) || is_alpha(c) || c == '_' || c >= 0x80; }

/* ---- Variable recognition --------------------------------------------- */

static int has_sub(const char *s, size_t n, const char *pat) {
    size_t k = strlen(pat);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, pat, k)) return 1;
    return 0;
}

/* The whole chunk is one variable that must not be split: a URL, a
 * Windows path. */
static int chunk_is_atom(const char *s, size_t n) {
    if (has_sub(s, n, "://")) return 1;
    if (n >= 3 && is_alpha((unsigned char)s[0]) && s[1] == ':' && s[2] == '\\') return 1;
    return 0;
}

/* A host or file name: dotted segments of letters, '-' or '_', the last
 * of 2-4 lowercase letters (www.example.com, chrome.exe, app.log), so that
 * class and method names (java.io.IOException, NameSystem.delete) stay
 * words. */
static int is_host_or_file(const char *s, size_t n) {
    size_t dots = 0, seg = 0, last = 0;
    int lower_last = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!seg) return 0;
            dots++;
            seg = 0;
            lower_last = 1;
            continue;
        }
        if (!is_alpha(c) && c != '-' && c != '_') return 0;
        if (!(c >= 'a' && c <= 'z')) lower_last = 0;
        seg++;
        last = seg;
    }
    return dots >= 1 && seg >= 2 && last <= 4 && lower_last;
}

static int token_is_var(const char *s, size_t n) {
    size_t digits = 0, alpha = 0, hexl = 0, slash = 0, at = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c)) digits++;
        else if (is_alpha(c)) {
            alpha++;
            if (is_hex(c)) hexl++;
        } else if (c == '/' || c == '\\') slash++;
        else if (c == '@') at++;
    }
    if (digits) {
        /* ssh2, utf8, ipv4, md5: a name, not a value */
        if (digits == 1 && alpha >= 2 && alpha == n - 1 && n <= 6 && is_digit((unsigned char)s[n - 1]))
            return 0;
        return 1;
    }
    if (alpha >= 8 && hexl == alpha && alpha == n) return 1; /* deadbeefcafe */
    if (n > 1 && (s[0] == '/' || (s[0] == '~' && s[1] == '/'))) return 1;
    if (slash >= 2) return 1; /* a/b/c */
    if (has_sub(s, n, "://") || (n >= 3 && s[1] == ':' && s[2] == '\\')) return 1;
    if (at == 1 && s[0] != '@' && s[n - 1] != '@') return 1;
    return is_host_or_file(s, n);
}

/* ---- Splitting -------------------------------------------------------- */

static lg_err push(lg_tpl_tokens *t, size_t off, size_t len, int var) {
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 32;
        lg_tpl_token *p = realloc(t->tok, nc * sizeof *p);
        if (!p) return LG_ENOMEM;
        t->tok = p;
        t->cap = nc;
    }
    t->tok[t->n++] = (lg_tpl_token){(uint32_t)off, (uint32_t)len, (uint8_t)var};
    return LG_OK;
}

/* Splits the core [a, b) of a chunk at its separators. */
static lg_err split_core(const char *s, size_t a, size_t b, size_t max, lg_tpl_tokens *t) {
    size_t start = a;
    int piece_digit = 0;
    for (size_t i = a; i <= b; i++) {
        int cut = 0;
        if (i == b) cut = 1;
        else {
            unsigned char c = (unsigned char)s[i];
            if (is_sep(c)) cut = 1;
            else if (c == ':' && i > start && !piece_digit && !(i + 1 < b && s[i + 1] == ':')) cut = 1;
            else if (is_digit(c)) piece_digit = 1;
        }
        if (!cut) continue;
        if (i > start) {
            if (t->n + 1 >= max) return LG_ELIMIT;
            lg_err e = push(t, start, i - start, token_is_var(s + start, i - start));
            if (e) return e;
        }
        start = i + 1;
        piece_digit = 0;
    }
    return LG_OK;
}

lg_err lg_tpl_tokenize(const char *line, size_t len, size_t max_tokens, lg_tpl_tokens *out) {
    size_t max = max_tokens ? max_tokens : DEFAULT_MAX_TOKENS;
    if (max < 2) max = 2;
    if (len > UINT32_MAX) len = UINT32_MAX;
    out->n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && is_blank((unsigned char)line[i])) i++;
        if (i == len) break;
        size_t cs = i;
        while (i < len && !is_blank((unsigned char)line[i])) i++;
        size_t ce = i, a = cs, b = ce;
        size_t before = out->n;
        lg_err e = LG_OK;
        int wordy = 0;
        for (size_t k = cs; k < ce && !wordy; k++) wordy = is_word((unsigned char)line[k]);
        if (!wordy) { /* "-", "->", "|": punctuation as a constant token */
            if (out->n + 1 >= max) e = LG_ELIMIT;
            else e = push(out, cs, ce - cs, 0);
        } else {
            while (a < b && is_open((unsigned char)line[a])) a++;
            while (b > a && is_close((unsigned char)line[b - 1])) b--;
            if (chunk_is_atom(line + a, b - a)) {
                if (out->n + 1 >= max) e = LG_ELIMIT;
                else e = push(out, a, b - a, 1);
            } else {
                e = split_core(line, a, b, max, out);
            }
        }
        if (e == LG_ELIMIT) {
            /* the rest of the line, from this chunk on, is one variable */
            out->n = before;
            size_t end = len;
            while (end > cs && is_blank((unsigned char)line[end - 1])) end--;
            return push(out, cs, end - cs, 1);
        }
        if (e) return e;
    }
    return LG_OK;
}

void lg_tpl_tokens_free(lg_tpl_tokens *t) {
    if (!t) return;
    free(t->tok);
    memset(t, 0, sizeof *t);
}
