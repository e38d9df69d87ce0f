/* templates_tokenize.c - the template miner's preprocessor: splits a log line into
 * tokens and marks the ones that are variables. One set of rules for every
 * system (no per-system masks); docs/templates.md lists them with reasons.
 *
 * Splitting: blanks always; inside a blank-delimited chunk, field
 * separators `=` `,` `;` `|` `#` brackets and quotes, and `:` after a key that
 * holds no digit (`port:22` splits, `10:20:30` and `fe80::1` do not). A
 * chunk that is a URL or a Windows path is never split. Leading opening
 * brackets/quotes and trailing closing ones (and a trailing `.` `:` `!` `?`)
 * are glue, not part of a token, and so is the slash of `/10.0.0.1` (an
 * address as Java prints it). A chunk of punctuation only (`-`, `->`) is
 * a constant token.
 *
 * Variables: a token holding a number (numbers, hex ids, IPs, times, dates,
 * durations `12ms`, sizes `4KB`, `blk_-123`, UUIDs): a run of 2+ digits or
 * a digit not right after a letter; a single digit after a letter is part
 * of a name (`ssh2`, `utf8`, `ipv4`, `jk2_init`, `u0`), and so are digits
 * between letters in a token with a letter no hex number has (`Brcm43xx`,
 * `IO80211AWDL`);
 * a run of 8+ hex letters; a path (`/x`, `~/x`, `C:\x`, `a/b/c`); a URL;
 * an e-mail-like `a@b`; a host or file name (`www.example.com`,
 * `chrome.exe`: dotted, ending in 2-4 lowercase letters, no camelCase
 * segment: `workerEnv.init` is a method). Everything else is a constant candidate that the
 * miner may still generalise.
 */
#include <stdlib.h>
#include <string.h>

#include "templates/templates_int.h" /* and through it logify/templates.h */

#define DEFAULT_MAX_TOKENS 256

/* ---- Character classes ------------------------------------------------ */

enum {
    C_BLANK = 1, C_DIGIT = 2, C_ALPHA = 4, C_HEX = 8, C_OPEN = 16, C_CLOSE = 32, C_SEP = 64, C_WORD = 128,
    C_MARK = 256 /* / \\ @ ~: paths, e-mails */
};
#define C_SPLIT (C_SEP | C_CLOSE) /* a chunk without these is one token ('.' and ':' are CLOSE) */

/* one table lookup per byte; bytes >= 0x80 (UTF-8 letters, binary) are
 * word bytes; ':' separates only after a key (split_core decides) */
enum { W_LO = C_ALPHA | C_WORD, W_HEX = C_ALPHA | C_HEX | C_WORD };
static const uint16_t cls_table[256] = {
    [' '] = C_BLANK, ['\t'] = C_BLANK, ['\r'] = C_BLANK, ['\n'] = C_BLANK, ['\v'] = C_BLANK, ['\f'] = C_BLANK,
    ['0' ... '9'] = C_DIGIT | C_HEX | C_WORD,
    ['a' ... 'f'] = W_HEX, ['A' ... 'F'] = W_HEX, ['g' ... 'z'] = W_LO, ['G' ... 'Z'] = W_LO,
    ['_'] = C_WORD, [0x80 ... 0xff] = C_WORD,
    ['('] = C_OPEN | C_SEP, ['['] = C_OPEN | C_SEP, ['{'] = C_OPEN | C_SEP, ['<'] = C_OPEN | C_SEP,
    ['"'] = C_OPEN | C_CLOSE | C_SEP, ['\''] = C_OPEN | C_CLOSE | C_SEP,
    [')'] = C_CLOSE | C_SEP, [']'] = C_CLOSE | C_SEP, ['}'] = C_CLOSE | C_SEP, ['>'] = C_CLOSE | C_SEP,
    [','] = C_CLOSE | C_SEP, [';'] = C_CLOSE | C_SEP,
    ['.'] = C_CLOSE, [':'] = C_CLOSE, ['!'] = C_CLOSE, ['?'] = C_CLOSE,
    ['='] = C_SEP, ['|'] = C_SEP, ['#'] = C_SEP,
    ['/'] = C_MARK, ['\\'] = C_MARK, ['@'] = C_MARK, ['~'] = C_MARK,
};

#define CLS(c) (cls[(unsigned char)(c)])

/* ---- Variable recognition --------------------------------------------- */

/* "://" somewhere in s (a URL) */
static int has_scheme(const char *s, size_t n) {
    const char *p = s, *end = s + n;
    while ((p = memchr(p, ':', (size_t)(end - p))) && end - p >= 3) {
        if (p[1] == '/' && p[2] == '/') return 1;
        p++;
    }
    return 0;
}

/* The whole chunk is one variable that must not be split: a URL, a
 * Windows path. */
static int chunk_is_atom(const char *s, size_t n) {
    if (has_scheme(s, n)) return 1;
    if (n >= 3 && ((s[0] | 32) >= 'a' && (s[0] | 32) <= 'z') && s[1] == ':' && s[2] == '\\') return 1;
    return 0;
}

/* A host or file name: dotted segments of letters, '-' or '_', the first
 * of 2 or more, the last of 2-4 lowercase letters (www.example.com,
 * chrome.exe, app.log; not n.sid), so that
 * class and method names (java.io.IOException, NameSystem.delete) stay
 * words. */
static int is_host_or_file(const char *s, size_t n) {
    size_t dots = 0, seg = 0;
    int lower_last = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (!seg || (!dots && seg < 2)) return 0; /* n.sid, e.g: a field name, an abbreviation */
            dots++;
            seg = 0;
            lower_last = 1;
            continue;
        }
        if (!((c | 32) >= 'a' && (c | 32) <= 'z') && c != '-' && c != '_') return 0;
        if (!(c >= 'a' && c <= 'z')) {
            if (seg && c >= 'A' && c <= 'Z') return 0; /* camelCase: workerEnv.init, a method */
            lower_last = 0;
        }
        seg++;
    }
    return dots >= 1 && seg >= 2 && seg <= 4 && lower_last;
}

/* a letter that no hex number holds (g-z, G-Z) */
static int has_name_letter(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(s[i] | 32);
        if (c >= 'g' && c <= 'z') return 1;
    }
    return 0;
}

static int token_is_var(const uint16_t *cls, const char *s, size_t n) {
    size_t alpha = 0, hexl = 0, slash = 0, at = 0, dots = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        uint16_t k = cls[c];
        if (k & C_DIGIT) {
            /* a number, or digits inside a value (blk_-42, 10ms, R02-M1):
             * a run of two or more digits, or a digit not right after a
             * letter; a single digit after a letter is part of a name
             * (ssh2, utf8, ipv4, jk2_init, u0) */
            size_t j = i;
            while (j < n && (CLS(s[j]) & C_DIGIT)) j++;
            int after_letter = i > 0 && (CLS(s[i - 1]) & C_ALPHA);
            /* digits between letters in a name that is not hex
             * (Brcm43xx, IO80211AWDL): part of the name */
            if (after_letter && j < n && (CLS(s[j]) & C_ALPHA) && has_name_letter(s, n)) {
                i = j - 1;
                continue;
            }
            if (j - i >= 2 || !after_letter) return 1;
            i = j - 1;
        } else if (k & C_ALPHA) {
            alpha++;
            if (k & C_HEX) hexl++;
        } else if (c == '/' || c == '\\') slash++;
        else if (c == '@') at++;
        else if (c == '.') dots++;
    }
    if (alpha >= 8 && hexl == alpha && alpha == n) return 1; /* deadbeefcafe */
    if (n > 1 && (s[0] == '/' || (s[0] == '~' && s[1] == '/'))) return 1;
    if (slash >= 2) return 1; /* a/b/c */
    if (at == 1 && s[0] != '@' && s[n - 1] != '@') return 1;
    return dots && is_host_or_file(s, n);
}

/* ---- Numbers inside a value -------------------------------------------- */

#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_ALPHA(c) (((c) | 32) >= 'a' && ((c) | 32) <= 'z')
#define IS_HEXL(c) (((c) | 32) >= 'a' && ((c) | 32) <= 'f')

/* The end of the number starting at s[i], or i when none starts there:
 * digits with '.' between digits (1.5, 10.0.0.1), a sign before them at
 * the start or after a byte that is not a letter or digit (blk_-42),
 * 0x and hex digits. */
static size_t num_end(const char *s, size_t n, size_t i) {
    size_t j = i;
    if ((s[j] == '-' || s[j] == '+') && j + 1 < n && IS_DIGIT(s[j + 1]) &&
        (j == 0 || !(IS_DIGIT(s[j - 1]) || IS_ALPHA(s[j - 1]))))
        j++;
    if (j >= n || !IS_DIGIT(s[j])) return i;
    if (s[j] == '0' && j + 2 < n && (s[j + 1] | 32) == 'x' && (IS_DIGIT(s[j + 2]) || IS_HEXL(s[j + 2]))) {
        for (j += 2; j < n && (IS_DIGIT(s[j]) || IS_HEXL(s[j]));) j++;
        return j;
    }
    for (;;) {
        while (j < n && IS_DIGIT(s[j])) j++;
        if (j + 1 < n && s[j] == '.' && IS_DIGIT(s[j + 1])) {
            j++;
            continue;
        }
        return j;
    }
}

int tpl_shape_ok(const char *s, size_t n) {
    int numbers = 0, letters = 0, name_letter = 0, underscore = 0, after_num = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '/' || c == '\\' || c == '@') return 0; /* paths, URLs, addresses */
        size_t e = num_end(s, n, i);
        if (e > i) {
            numbers++;
            after_num = 1;
            i = e;
            continue;
        }
        if (IS_ALPHA(c)) {
            size_t j = i;
            int allhex = 1;
            for (; j < n && IS_ALPHA(s[j]); j++) allhex &= IS_HEXL(s[j]);
            if (after_num && allhex && j < n && IS_DIGIT(s[j])) return 0; /* 3fa9, 550e8400: hex */
            letters = 1;
            name_letter |= !allhex;
            after_num = 0;
            i = j;
            continue;
        }
        underscore |= c == '_';
        after_num = 0;
        i++;
    }
    return numbers && (letters ? name_letter : underscore);
}

int tpl_shape_eq(const char *a, size_t na, const char *b, size_t nb) {
    if (na == nb) { /* the usual case: digits changed in place (blk_-42, blk_-97) */
        size_t k = 0;
        while (k < na && (a[k] == b[k] || (IS_DIGIT(a[k]) && IS_DIGIT(b[k])))) k++;
        if (k == na) return 1; /* the same bytes around the same digit places */
    }
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        size_t ea = num_end(a, na, i), eb = num_end(b, nb, j);
        if ((ea > i) != (eb > j)) return 0;
        if (ea > i) {
            i = ea, j = eb;
            continue;
        }
        if (a[i] != b[j]) return 0;
        i++, j++;
    }
    return i == na && j == nb;
}

lg_err tpl_shape_render(const char *s, size_t n, lg_buf *out) {
    lg_err e = LG_OK;
    size_t lit = 0;
    for (size_t i = 0; i < n && !e;) {
        size_t end = num_end(s, n, i);
        if (end == i) {
            i++;
            continue;
        }
        e = lg_buf_append(out, s + lit, i - lit);
        if (!e) e = lg_buf_append(out, "<*>", 3);
        i = lit = end;
    }
    return e ? e : lg_buf_append(out, s + lit, n - lit);
}

/* ---- Splitting -------------------------------------------------------- */

__attribute__((noinline)) static lg_err grow(lg_tpl_tokens *t) {
    size_t nc = t->cap ? t->cap * 2 : 32;
    lg_tpl_token *p = realloc(t->tok, nc * sizeof *p);
    if (!p) return LG_ENOMEM;
    t->tok = p;
    t->cap = nc;
    return LG_OK;
}

/* Inline: a call per token was a twentieth of the command's time. */
static inline lg_err push(lg_tpl_tokens *t, size_t off, size_t len, int var) {
    if (__builtin_expect(t->n == t->cap, 0) && grow(t)) return LG_ENOMEM;
    t->tok[t->n++] = (lg_tpl_token){(uint32_t)off, (uint32_t)len, (uint8_t)var};
    return LG_OK;
}

/* Splits the core [a, b) of a chunk at its separators. */
static lg_err split_core(const uint16_t *cls, const char *s, size_t a, size_t b, size_t max,
                         lg_tpl_tokens *t) {
    size_t start = a;
    int piece_digit = 0;
    for (size_t i = a; i <= b; i++) {
        int cut = 0;
        if (i == b) cut = 1;
        else {
            unsigned char c = (unsigned char)s[i];
            uint16_t k = cls[c];
            if (k & C_SEP) cut = 1;
            else if (c == ':' && i > start && !piece_digit && !(i + 1 < b && s[i + 1] == ':')) cut = 1;
            else if (k & C_DIGIT) piece_digit = 1;
        }
        if (!cut) continue;
        if (i > start) {
            if (t->n + 1 >= max) return LG_ELIMIT;
            lg_err e = push(t, start, i - start, token_is_var(cls, s + start, i - start));
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
    const uint16_t *cls = cls_table;
    size_t i = 0;
    while (i < len) {
        while (i < len && (CLS(line[i]) & C_BLANK)) i++;
        if (i == len) break;
        size_t cs = i;
        unsigned acc = 0, all = ~0u; /* the classes met in the chunk; those of every byte */
        while (i < len && !((acc |= CLS(line[i])) & C_BLANK)) all &= CLS(line[i++]);
        acc &= ~(unsigned)C_BLANK;
        int wordy = acc & C_WORD;
        size_t ce = i, a = cs, b = ce;
        size_t before = out->n;
        lg_err e = LG_OK;
        if (wordy && !(acc & (C_SPLIT | C_OPEN))) { /* the common case: one plain token */
            if (out->n + 1 >= max) e = LG_ELIMIT;
            else if (!(acc & (C_DIGIT | C_MARK))) /* letters only: a word, unless 8+ hex letters */
                e = push(out, cs, ce - cs, ce - cs >= 8 && (all & C_HEX) && (all & C_ALPHA));
            else e = push(out, cs, ce - cs, token_is_var(cls, line + cs, ce - cs));
        } else if (!wordy) { /* "-", "->", "|": punctuation as a constant token */
            if (out->n + 1 >= max) e = LG_ELIMIT;
            else e = push(out, cs, ce - cs, 0);
        } else {
            while (a < b && (CLS(line[a]) & C_OPEN)) a++;
            while (b > a && (CLS(line[b - 1]) & C_CLOSE)) b--;
            /* Java's /10.0.0.1:50010: the slash is glue, the address the value */
            if (b - a > 1 && line[a] == '/' && (CLS(line[a + 1]) & C_DIGIT) && !memchr(line + a + 1, '/', b - a - 1))
                a++;
            if (chunk_is_atom(line + a, b - a)) {
                if (out->n + 1 >= max) e = LG_ELIMIT;
                else e = push(out, a, b - a, 1);
            } else {
                e = split_core(cls, line, a, b, max, out);
            }
        }
        if (e == LG_ELIMIT) {
            /* the rest of the line, from this chunk on, is one variable */
            out->n = before;
            size_t end = len;
            while (end > cs && (CLS(line[end - 1]) & C_BLANK)) end--;
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
