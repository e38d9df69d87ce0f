/* template.c - the token template of a group of log messages: constant
 * tokens kept, variable tokens generalised to typed wildcards (number, hex,
 * IP, word), as an anchored regex for the rules engine and a readable form
 * ("File data_<num>.csv uploaded successfully by user User<num>.").
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "logify/cluster.h"

#define MAX_TOKENS 256       /* tokens per message considered */
#define MAX_GROUP 4096       /* messages of the template's group considered */
#define TEMPLATE_MAX (1 << 16)

void lg_template_init(lg_template *t) {
    memset(t, 0, sizeof *t);
    lg_buf_init(&t->regex, TEMPLATE_MAX);
    lg_buf_init(&t->readable, TEMPLATE_MAX);
}

void lg_template_free(lg_template *t) {
    if (!t) return;
    lg_buf_free(&t->regex);
    lg_buf_free(&t->readable);
}

/* ---- Tokens ----------------------------------------------------------------- */

typedef struct {
    const char *p;
    size_t len;
} tok;

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Splits into at most MAX_TOKENS tokens; returns the count (MAX_TOKENS + 1
 * when there are more). */
static size_t tokenize(const char *s, size_t len, tok *out) {
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && is_blank(s[i])) i++;
        if (i >= len) break;
        size_t st = i;
        while (i < len && !is_blank(s[i])) i++;
        if (n == MAX_TOKENS) return MAX_TOKENS + 1;
        out[n].p = s + st;
        out[n].len = i - st;
        n++;
    }
    return n;
}

/* ---- Character classes of the varying middles --------------------------------- */

static int is_number(const char *p, size_t n, int *decimal, int *sign) {
    size_t i = 0;
    if (n && p[0] == '-') {
        *sign = 1;
        i = 1;
    }
    if (i >= n || !isdigit((unsigned char)p[i])) return 0;
    while (i < n && isdigit((unsigned char)p[i])) i++;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || !isdigit((unsigned char)p[i])) return 0;
        while (i < n && isdigit((unsigned char)p[i])) i++;
        *decimal = 1;
    }
    return i == n;
}

static int is_ipv4(const char *p, size_t n) {
    int parts = 0;
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        while (i < n && isdigit((unsigned char)p[i])) i++;
        if (i == st || i - st > 3) return 0;
        parts++;
        if (i < n) {
            if (p[i] != '.') return 0;
            i++;
            if (i == n) return 0;
        }
    }
    return parts == 4;
}

/* Hex digits (dash-separated groups allowed); *digit / *letter set when a
 * decimal digit / a letter a-f is seen. A group of middles is hex only with
 * a digit somewhere ("a"/"b" are words, "b9718cd8" is hex), and dashed
 * groups only with a letter too ("2025-05-14" is a date, a word). */
static int is_hex(const char *p, size_t n, int *dash, int *digit, int *letter) {
    if (n == 0 || p[0] == '-' || p[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '-') {
            *dash = 1;
            continue;
        }
        if (!isxdigit((unsigned char)p[i])) return 0;
        if (isdigit((unsigned char)p[i])) *digit = 1;
        else *letter = 1;
    }
    return 1;
}

static int in_kind(lg_slot_kind k, char c) {
    unsigned char u = (unsigned char)c;
    switch (k) {
    case LG_SLOT_NUMBER: return isdigit(u);
    case LG_SLOT_HEX: return isxdigit(u);
    case LG_SLOT_IP: return isdigit(u) || c == '.';
    case LG_SLOT_WORD: return isdigit(u); /* "sda"/"sdb" keep "sd"; "2025-05" -> "2025-" */
    default: return 0;
    }
}

/* ---- Emitting ----------------------------------------------------------------- */

static lg_err put_escaped(lg_buf *b, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        lg_err e;
        if (strchr("\\^$.|?*+()[]{}", c) && c) {
            if ((e = lg_buf_putc(b, '\\'))) return e;
            if ((e = lg_buf_putc(b, c))) return e;
        } else if ((unsigned char)c < 0x20 || c == 0x7f) {
            if ((e = lg_buf_printf(b, "\\x%02x", (unsigned char)c))) return e;
        } else if ((e = lg_buf_putc(b, c))) {
            return e;
        }
    }
    return LG_OK;
}

/* One varying position: tokens t[0..m) (pointers into the messages). */
static lg_err put_slot(lg_template *out, tok *const *t, size_t pos, size_t m) {
    const tok *first = &t[0][pos];
    size_t pre = first->len, suf = first->len;
    /* whole tokens of one kind ("10.11.10.1" / "10.0.0.2", "0.2675" /
     * "12.5") are typed as a whole, before any common prefix or suffix */
    int wnum = 1, wdec = 0, wsign = 0, wip = 1, whex = 1, wdash = 0, wdigit = 0, wletter = 0;
    for (size_t i = 0; i < m; i++) {
        const tok *x = &t[i][pos];
        wnum = wnum && is_number(x->p, x->len, &wdec, &wsign);
        wip = wip && is_ipv4(x->p, x->len);
        whex = whex && is_hex(x->p, x->len, &wdash, &wdigit, &wletter);
    }
    if (wnum || wip || (whex && wdigit && (wletter || !wdash))) pre = suf = 0;
    for (size_t i = 1; i < m && (pre || suf); i++) {
        const tok *x = &t[i][pos];
        size_t a = 0;
        while (a < pre && a < x->len && x->p[a] == first->p[a]) a++;
        pre = a;
        size_t b = 0;
        while (b < suf && b < x->len && x->p[x->len - 1 - b] == first->p[first->len - 1 - b]) b++;
        suf = b;
    }
    /* prefix and suffix may not overlap in the shortest token */
    size_t minlen = SIZE_MAX;
    for (size_t i = 0; i < m; i++) minlen = t[i][pos].len < minlen ? t[i][pos].len : minlen;
    if (pre + suf > minlen) suf = minlen - pre;
    /* kind of the middles */
    int num = 1, dec = 0, sign = 0, ip = 1, hex = 1, dash = 0, digit = 0, letter = 0, empty = 0;
    for (int round = 0; round < 2; round++) {
        num = 1, dec = 0, sign = 0, ip = 1, hex = 1, dash = 0, digit = 0, letter = 0, empty = 0;
        for (size_t i = 0; i < m; i++) {
            const tok *x = &t[i][pos];
            const char *mp = x->p + pre;
            size_t ml = x->len - pre - suf;
            if (ml == 0) {
                empty = 1;
                continue;
            }
            num = num && is_number(mp, ml, &dec, &sign);
            ip = ip && is_ipv4(mp, ml);
            hex = hex && is_hex(mp, ml, &dash, &digit, &letter);
        }
        hex = hex && digit && (letter || !dash);
        lg_slot_kind k = num ? LG_SLOT_NUMBER : ip ? LG_SLOT_IP : hex ? LG_SLOT_HEX : LG_SLOT_WORD;
        /* give back prefix/suffix characters of the middle's kind, so that
         * "User1" / "User2" ... does not keep a digit of the number */
        size_t pre0 = pre, suf0 = suf;
        while (pre > 0 && in_kind(k, first->p[pre - 1])) pre--;
        while (suf > 0 && in_kind(k, first->p[first->len - suf])) suf--;
        if (pre == pre0 && suf == suf0) break;
    }
    lg_slot_kind k = num ? LG_SLOT_NUMBER : ip ? LG_SLOT_IP : hex ? LG_SLOT_HEX : LG_SLOT_WORD;
    lg_err e;
    if ((e = put_escaped(&out->regex, first->p, pre))) return e;
    if ((e = lg_buf_append(&out->readable, first->p, pre))) return e;
    const char *rx, *rd;
    switch (k) {
    case LG_SLOT_NUMBER:
        rx = dec ? (sign ? "-?[0-9]+(\\.[0-9]+)?" : "[0-9]+(\\.[0-9]+)?") : (sign ? "-?[0-9]+" : "[0-9]+");
        rd = "<num>";
        break;
    case LG_SLOT_IP:
        rx = "[0-9]{1,3}(\\.[0-9]{1,3}){3}";
        rd = "<ip>";
        break;
    case LG_SLOT_HEX:
        rx = dash ? "[0-9a-fA-F][0-9a-fA-F-]*" : "[0-9a-fA-F]+";
        rd = "<hex>";
        break;
    default:
        rx = "\\S+";
        rd = "<*>";
        break;
    }
    /* a token whose middle is empty in some messages: optional wildcard */
    if ((e = lg_buf_printf(&out->regex, empty ? "(%s)?" : "%s", rx))) return e;
    if ((e = lg_buf_append(&out->readable, rd, strlen(rd)))) return e;
    if ((e = put_escaped(&out->regex, first->p + first->len - suf, suf))) return e;
    return lg_buf_append(&out->readable, first->p + first->len - suf, suf);
}

/* ---- The template -------------------------------------------------------------- */

lg_err lg_template_build(const char *const *msgs, const size_t *lens, size_t n, lg_template *out,
                         lg_errmsg *err) {
    if (n == 0) return lg_fail(err, LG_EINVAL, "template: no messages");
    lg_buf_reset(&out->regex);
    lg_buf_reset(&out->readable);
    out->tokens = out->constant = out->group = 0;
    size_t hist[MAX_TOKENS + 2] = {0};
    tok *scratch = malloc(MAX_TOKENS * sizeof *scratch);
    if (!scratch) return lg_fail(err, LG_ENOMEM, "template: out of memory");
    for (size_t i = 0; i < n; i++) hist[tokenize(msgs[i], lens[i], scratch)]++;
    size_t best = 0, best_count = 0; /* most common token count; ties: fewer */
    for (size_t c = 1; c <= MAX_TOKENS; c++)
        if (hist[c] > best_count) {
            best = c;
            best_count = hist[c];
        }
    free(scratch);
    if (best == 0) return lg_fail(err, LG_ENOTFOUND, "template: no tokens");
    size_t m = hist[best] < MAX_GROUP ? hist[best] : MAX_GROUP;
    tok **t = calloc(m, sizeof *t);
    lg_err e = LG_OK;
    if (!t) return lg_fail(err, LG_ENOMEM, "template: out of memory");
    size_t got = 0;
    tok tmp[MAX_TOKENS];
    for (size_t i = 0; i < n && got < m; i++) {
        if (tokenize(msgs[i], lens[i], tmp) != best) continue;
        t[got] = malloc(best * sizeof **t);
        if (!t[got]) {
            e = lg_fail(err, LG_ENOMEM, "template: out of memory");
            goto done;
        }
        memcpy(t[got], tmp, best * sizeof **t);
        got++;
    }
    out->tokens = best;
    out->group = hist[best];
    if ((e = lg_buf_append(&out->regex, "^\\s*", 4))) goto done;
    for (size_t pos = 0; pos < best; pos++) {
        if (pos) {
            if ((e = lg_buf_append(&out->regex, "\\s+", 3))) goto done;
            if ((e = lg_buf_putc(&out->readable, ' '))) goto done;
        }
        int same = 1;
        for (size_t i = 1; i < got && same; i++)
            same = t[i][pos].len == t[0][pos].len && !memcmp(t[i][pos].p, t[0][pos].p, t[0][pos].len);
        if (same) {
            out->constant++;
            if ((e = put_escaped(&out->regex, t[0][pos].p, t[0][pos].len))) goto done;
            if ((e = lg_buf_append(&out->readable, t[0][pos].p, t[0][pos].len))) goto done;
        } else if ((e = put_slot(out, t, pos, got))) {
            goto done;
        }
    }
    e = lg_buf_append(&out->regex, "\\s*$", 4);
done:
    if (e == LG_ELIMIT) lg_fail(err, e, "template: pattern over %d bytes", TEMPLATE_MAX);
    else if (e == LG_ENOMEM) lg_fail(err, e, "template: out of memory");
    for (size_t i = 0; i < m; i++) free(t[i]);
    free(t);
    return e;
}
