/* llm_text.c - the LLM stage's text work that needs no network: masked
 * message templates (the cache key), parsing and validating the model's
 * answers, UTF-8 cleaning, snippets and key scrubbing for details.
 *
 * Parsing is strict about *what* a label may be (one of the allowed labels,
 * compared case- and blank-insensitively) and lenient about *how* it is
 * wrapped (quotes, JSON, <category> tags, code fences): a log line that
 * talks the model into saying something else yields NULL, never a label
 * outside the set. */
#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "llm/llm_int.h"

/* ---- Templates -------------------------------------------------------------- */

static int is_hex(int c) {
    return isxdigit(c) != 0;
}
static int is_alnum(int c) {
    return isalnum(c) != 0 || c == '_';
}

/* Length of a UUID (8-4-4-4-12 hex) at s, else 0. */
static size_t match_uuid(const unsigned char *s, size_t len) {
    static const int groups[] = {8, 4, 4, 4, 12};
    size_t i = 0;
    for (int g = 0; g < 5; g++) {
        for (int k = 0; k < groups[g]; k++, i++)
            if (i >= len || !is_hex(s[i])) return 0;
        if (g < 4) {
            if (i >= len || s[i] != '-') return 0;
            i++;
        }
    }
    return (i < len && is_alnum(s[i])) ? 0 : i;
}

/* Length of an IPv4 address (with an optional :port) at s, else 0. */
static size_t match_ipv4(const unsigned char *s, size_t len) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t d = 0;
        while (i < len && isdigit(s[i]) && d < 4)
            i++, d++;
        if (d == 0 || d > 3) return 0;
        if (part < 3) {
            if (i >= len || s[i] != '.') return 0;
            i++;
        }
    }
    if (i < len && isdigit(s[i])) return 0;
    if (i + 1 < len && s[i] == ':' && isdigit(s[i + 1])) {
        i++;
        while (i < len && isdigit(s[i]))
            i++;
    }
    return (i < len && is_alnum(s[i])) ? 0 : i;
}

/* Length of a hex id at s: 0x-prefixed, or >= 8 hex digits holding both a
 * digit and a letter, standing alone; else 0. */
static size_t match_hex(const unsigned char *s, size_t len) {
    size_t i = 0;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && is_hex(s[2])) {
        i = 2;
        while (i < len && is_hex(s[i]))
            i++;
        return (i < len && is_alnum(s[i])) ? 0 : i;
    }
    int digit = 0, letter = 0;
    while (i < len && is_hex(s[i])) {
        if (isdigit(s[i]))
            digit = 1;
        else
            letter = 1;
        i++;
    }
    if (i < 8 || !digit || !letter || (i < len && is_alnum(s[i]))) return 0;
    return i;
}

lg_err lg_llm_template(const char *msg, size_t len, lg_buf *out) {
    const unsigned char *s = (const unsigned char *)msg;
    size_t start = out->len;
    lg_err e = LG_OK;
    size_t i = 0;
    while (i < len && !e) {
        unsigned char c = s[i];
        if (isspace(c) || c == '\0') {
            while (i < len && (isspace(s[i]) || s[i] == '\0'))
                i++;
            if (out->len > start) e = lg_buf_putc(out, ' ');
            continue;
        }
        int boundary = i == 0 || !is_alnum(s[i - 1]);
        size_t m;
        if (boundary && (m = match_uuid(s + i, len - i)) > 0) {
            e = lg_buf_append(out, "<UUID>", 6);
            i += m;
        } else if (boundary && (m = match_ipv4(s + i, len - i)) > 0) {
            e = lg_buf_append(out, "<IP>", 4);
            i += m;
        } else if (boundary && (m = match_hex(s + i, len - i)) > 0) {
            e = lg_buf_append(out, "<HEX>", 5);
            i += m;
        } else if (isdigit(c)) {
            /* 42, 3.14, 1,000, 12:30:01 */
            while (i < len && isdigit(s[i]))
                i++;
            while (i + 1 < len && (s[i] == '.' || s[i] == ',' || s[i] == ':') &&
                   isdigit(s[i + 1])) {
                i++;
                while (i < len && isdigit(s[i]))
                    i++;
            }
            e = lg_buf_append(out, "<N>", 3);
        } else {
            e = lg_buf_putc(out, (char)c);
            i++;
        }
    }
    while (!e && out->len > start && out->data[out->len - 1] == ' ')
        out->data[--out->len] = '\0';
    if (!e && !out->data) e = lg_buf_append(out, "", 0);
    return e;
}

/* ---- Labels ------------------------------------------------------------------- */

/* Blanks, underscores and hyphens do not count when comparing labels. */
static int is_blankish(unsigned char c) {
    return isspace(c) || c == '_' || c == '-';
}

/* Equal ignoring ASCII case and blank-ish characters. */
static int label_eq(const char *a, size_t alen, const char *b) {
    size_t i = 0, j = 0, blen = strlen(b);
    for (;;) {
        while (i < alen && is_blankish((unsigned char)a[i]))
            i++;
        while (j < blen && is_blankish((unsigned char)b[j]))
            j++;
        if (i == alen || j == blen) return i == alen && j == blen;
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[j])) return 0;
        i++, j++;
    }
}

const char *lg_llm_match_label(const char *answer, size_t len, char *const *labels, size_t n) {
    size_t nonblank = 0;
    for (size_t i = 0; i < len; i++)
        nonblank += !is_blankish((unsigned char)answer[i]);
    if (!nonblank) return NULL;
    for (size_t i = 0; i < n; i++)
        if (label_eq(answer, len, labels[i])) return labels[i];
    return NULL;
}

/* Narrows [*s, *s + *len) past surrounding blanks. */
static void trim(const char **s, size_t *len) {
    while (*len && isspace((unsigned char)**s))
        (*s)++, (*len)--;
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

/* Drops a Markdown code fence around the text (```json ... ```). */
static void strip_fences(const char **s, size_t *len) {
    trim(s, len);
    if (*len >= 3 && !memcmp(*s, "```", 3)) {
        const char *nl = memchr(*s, '\n', *len);
        size_t skip = nl ? (size_t)(nl - *s) + 1 : 3;
        *s += skip;
        *len -= skip;
        trim(s, len);
        if (*len >= 3 && !memcmp(*s + *len - 3, "```", 3)) *len -= 3;
        trim(s, len);
    }
}

/* A case-insensitive memmem for short ASCII needles. */
static const char *find_ci(const char *s, size_t len, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; m <= len && i <= len - m; i++)
        if (!strncasecmp(s + i, needle, m)) return s + i;
    return NULL;
}

/* Skips a reasoning model's <think>...</think> preamble, then fences. */
static void strip_wrappers(const char **s, size_t *len) {
    trim(s, len);
    if (*len >= 7 && !strncasecmp(*s, "<think>", 7)) {
        const char *end = find_ci(*s, *len, "</think>");
        if (end) {
            *len -= (size_t)(end + 8 - *s);
            *s = end + 8;
        }
    }
    strip_fences(s, len);
}

/* Matches one answer item after peeling wrappers: "label:" prefixes,
 * quotes, backticks, Markdown bold and a final full stop. */
static const char *match_loose(const char *s, size_t len, char *const *labels, size_t n) {
    trim(&s, &len);
    static const char *const prefixes[] = {"label:", "category:", "answer:"};
    for (size_t p = 0; p < sizeof prefixes / sizeof *prefixes; p++) {
        size_t m = strlen(prefixes[p]);
        if (len >= m && !strncasecmp(s, prefixes[p], m)) {
            s += m;
            len -= m;
            trim(&s, &len);
            break;
        }
    }
    for (int round = 0; round < 4; round++) {
        if (len && s[len - 1] == '.') len--;
        trim(&s, &len);
        if (len >= 4 && !memcmp(s, "**", 2) && !memcmp(s + len - 2, "**", 2)) {
            s += 2;
            len -= 4;
        } else if (len >= 2 && (s[0] == '"' || s[0] == '\'' || s[0] == '`') && s[len - 1] == s[0]) {
            s++;
            len -= 2;
        } else {
            break;
        }
    }
    return lg_llm_match_label(s, len, labels, n);
}

/* The label string held by a JSON item: a string, or an object's "label"
 * (or "category") member. */
static const char *item_text(json_t *v, size_t *len) {
    if (json_is_object(v)) {
        json_t *l = json_object_get(v, "label");
        if (!json_is_string(l)) l = json_object_get(v, "category");
        v = l;
    }
    if (!json_is_string(v)) return NULL;
    *len = json_string_length(v);
    return json_string_value(v);
}

const char *lg_llm_parse_single(const char *content, size_t len, char *const *labels, size_t n) {
    const char *s = content;
    strip_wrappers(&s, &len);
    const char *open = find_ci(s, len, "<category>");
    if (open) {
        size_t skip = (size_t)(open - s) + 10;
        s += skip;
        len -= skip;
        const char *close = find_ci(s, len, "</category>");
        if (close) len = (size_t)(close - s);
        trim(&s, &len);
    }
    if (len && s[0] == '{') {
        json_t *root = json_loadb(s, len, 0, NULL);
        size_t l = 0;
        const char *t = root ? item_text(root, &l) : NULL;
        const char *hit = t ? match_loose(t, l, labels, n) : NULL;
        json_decref(root);
        return hit;
    }
    return match_loose(s, len, labels, n);
}

/* Parses s as JSON; failing that, the span from its first '{' or '[' to
 * the last matching closer (answers wrapped in prose). */
static json_t *load_lenient(const char *s, size_t len) {
    json_t *root = json_loadb(s, len, 0, NULL);
    if (root) return root;
    const char *o = memchr(s, '{', len), *a = memchr(s, '[', len);
    const char *start = o && (!a || o < a) ? o : a;
    if (!start) return NULL;
    char closer = *start == '{' ? '}' : ']';
    const char *end = s + len;
    while (end > start && end[-1] != closer)
        end--;
    if (end <= start) return NULL;
    return json_loadb(start, (size_t)(end - start), 0, NULL);
}

lg_err lg_llm_parse_batch(const char *content, size_t len, size_t n, char *const *labels,
                          size_t n_labels, const char **out, char (*raw)[LG_LLM_RAW_MAX]) {
    const char *s = content;
    strip_wrappers(&s, &len);
    json_t *root = load_lenient(s, len);
    json_t *list = NULL;
    if (json_is_array(root)) {
        list = root;
    } else if (json_is_object(root)) {
        static const char *const keys[] = {"labels", "categories", "results", "answers"};
        for (size_t k = 0; k < sizeof keys / sizeof *keys && !list; k++)
            if (json_is_array(json_object_get(root, keys[k])))
                list = json_object_get(root, keys[k]);
        if (!list && json_object_size(root) == 1) { /* {"whatever": [...]} */
            json_t *only = json_object_iter_value(json_object_iter(root));
            if (json_is_array(only)) list = only;
        }
    }
    if (!list || json_array_size(list) != n) {
        json_decref(root);
        return LG_EPARSE;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        const char *t = item_text(json_array_get(list, i), &l);
        out[i] = t ? match_loose(t, l, labels, n_labels) : NULL;
        if (raw) {
            if (t)
                llm_snippet(t, l, raw[i], LG_LLM_RAW_MAX);
            else
                snprintf(raw[i], LG_LLM_RAW_MAX, "(not a string)");
        }
    }
    json_decref(root);
    return LG_OK;
}

/* ---- UTF-8, snippets, scrubbing ---------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t len) {
    unsigned char c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (n > len) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

lg_err llm_utf8_clean(const char *s, size_t len, size_t max, lg_buf *out) {
    const unsigned char *u = (const unsigned char *)s;
    if (len > max) {
        len = max;
        while (len && (u[len] & 0xC0) == 0x80)
            len--; /* do not cut a sequence */
    }
    lg_err e = LG_OK;
    size_t i = 0;
    while (i < len && !e) {
        size_t n = utf8_seq(u + i, len - i);
        if (n == 0) {
            e = lg_buf_append(out, "\xEF\xBF\xBD", 3);
            i++;
        } else if (u[i] == 0) {
            e = lg_buf_putc(out, ' ');
            i++;
        } else {
            e = lg_buf_append(out, s + i, n);
            i += n;
        }
    }
    if (!e && !out->data) e = lg_buf_append(out, "", 0);
    return e;
}

void llm_snippet(const char *s, size_t len, char *dst, size_t cap) {
    if (!cap) return;
    const unsigned char *u = (const unsigned char *)s;
    size_t j = 0;
    size_t room = cap - 1;
    int cut = 0;
    for (size_t i = 0; i < len; i++) {
        if (j >= room) {
            cut = 1;
            break;
        }
        unsigned char c = u[i];
        dst[j++] = (c < 0x20 || c == 0x7F) ? ' ' : (char)c;
    }
    if (cut && room > 3) {
        j = room - 3;
        while (j && ((unsigned char)dst[j] & 0xC0) == 0x80)
            j--; /* whole characters */
        memcpy(dst + j, "...", 3);
        j += 3;
    }
    dst[j] = '\0';
}

void llm_scrub(char *s, const char *key) {
    if (!s || !key) return;
    size_t klen = strlen(key);
    if (klen < 4) return;
    char *p;
    while ((p = strstr(s, key)) != NULL) {
        memcpy(p, "***", 3);
        memmove(p + 3, p + klen, strlen(p + klen) + 1);
    }
}
