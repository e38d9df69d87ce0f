/* svg.c - text made safe for an SVG (XML) document (include/logify/svg.h):
 * a UTF-8 decoder that takes only well-formed sequences (no overlongs, no
 * surrogates, nothing above U+10FFFF, not U+FFFE/U+FFFF) and escapes the XML specials. */
#include "logify/svg.h"

#include <string.h>

#define REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */
#define ELLIPSIS "\xE2\x80\xA6"    /* U+2026 */

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when the
 * bytes there are not one. */
static size_t utf8_len(const unsigned char *s) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, min = 0x10000;
    else return 0;
    unsigned cp = c & (0xFF >> (n + 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the NUL */
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0; /* not XML characters either */
    return n;
}

size_t lg_svg_chars(const char *s) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
        size_t k = utf8_len(p);
        p += k ? k : 1;
    }
    return n;
}

lg_err lg_svg_text(lg_buf *b, const char *s, size_t max_chars) {
    size_t total = max_chars ? lg_svg_chars(s) : 0;
    size_t keep = max_chars && total > max_chars ? max_chars - 1 : (size_t)-1;
    lg_err e = LG_OK;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t n = 0; *p && !e; n++) {
        if (n == keep) return lg_buf_append(b, ELLIPSIS, 3);
        size_t k = utf8_len(p);
        if (!k) { /* an invalid byte */
            e = lg_buf_append(b, REPLACEMENT, 3);
            p++;
            continue;
        }
        switch (*p) {
        case '&': e = lg_buf_append(b, "&amp;", 5); break;
        case '<': e = lg_buf_append(b, "&lt;", 4); break;
        case '>': e = lg_buf_append(b, "&gt;", 4); break;
        case '"': e = lg_buf_append(b, "&quot;", 6); break;
        case '\'': e = lg_buf_append(b, "&#39;", 5); break;
        default:
            if (*p < 0x20 || *p == 0x7F) e = lg_buf_append(b, REPLACEMENT, 3);
            else e = lg_buf_append(b, p, k);
        }
        p += k;
    }
    return e;
}
