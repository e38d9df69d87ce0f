/* server_head.c - the check of a request head before libmicrohttpd sees it.
 *
 * libmicrohttpd 0.9.75 (Debian 12) answers some bad heads itself, before any
 * of our callbacks runs, and badly: a Content-Length of -1 or of 20 digits
 * made it send the status line and headers twice, then an HTML body; a
 * request line or head too large for its memory pool got an HTML 414 / 431
 * (issue 14, item 9). The front door (server_front.c) peeks at each new
 * connection's head and gives it to srv_head_check; a head found bad is
 * answered by us, with one response and a JSON {"detail": ...} body, and
 * never reaches the library. The limits sit well inside what the library
 * accepts with its default 32 KiB per-connection pool (measured: a 31 KB
 * header line, about 400 header lines), so a head we pass is never one it
 * refuses:
 *   request line > SRV_LINE_MAX bytes            414 URI Too Long
 *   head > SRV_HEAD_MAX bytes, > SRV_FIELDS_MAX
 *   header lines                                 431 Request Header Fields Too Large
 *   a request line that is not METHOD SP TARGET SP HTTP/d.d,
 *   a header line without a colon                400
 *   a version other than HTTP/1.0 and HTTP/1.1   505
 *   Content-Length not one or more digits, or
 *   twice with different values                  400
 *   Content-Length above 2^63 - 1 (the library
 *   cannot hold it)                              413
 * A Content-Length that is well formed but above --max-upload is left to
 * server.c, which answers 413 after the 401 / 404 / 405 checks as before.
 * Leading empty lines are skipped and bare LF line ends accepted, as the
 * library does; folded header lines (starting with a blank) are allowed.
 * Everything else (methods, paths, authentication) is left to server.c. */
#include "server/server_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

__attribute__((format(printf, 3, 4))) static srv_head_verdict bad(srv_head_result *r, unsigned status,
                                                                   const char *fmt, ...) {
    r->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->detail, sizeof r->detail, fmt, ap);
    va_end(ap);
    return SRV_HEAD_BAD;
}

/* Offset of the first byte after the leading empty lines. */
static size_t skip_empty_lines(const char *b, size_t n) {
    size_t i = 0;
    while (i < n && (b[i] == '\n' || (b[i] == '\r' && i + 1 < n && b[i + 1] == '\n')))
        i += b[i] == '\r' ? 2 : 1;
    return i;
}

/* Length of the line at b[0..n) without its CR LF (or LF). */
static size_t line_len(const char *b, size_t n) {
    const char *nl = memchr(b, '\n', n);
    size_t k = nl ? (size_t)(nl - b) : n;
    if (k && b[k - 1] == '\r') k--;
    return k;
}

static srv_head_verdict check_request_line(const char *l, size_t n, srv_head_result *r) {
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)l[i])) i++;
    size_t mlen = i;
    if (!mlen || i >= n || l[i] != ' ') return bad(r, 400, "malformed request line");
    size_t t0 = ++i;
    while (i < n && l[i] != ' ' && (unsigned char)l[i] > 0x20 && l[i] != 0x7f) i++;
    size_t tlen = i - t0;
    if (!tlen || i >= n || l[i] != ' ') return bad(r, 400, "malformed request line");
    i++;
    const char *v = l + i;
    size_t vl = n - i;
    if (vl != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9')
        return bad(r, 400, "malformed request line");
    if (memcmp(v, "HTTP/1.1", 8) && memcmp(v, "HTTP/1.0", 8))
        return bad(r, 505, "HTTP version not supported (HTTP/1.0 and HTTP/1.1 are)");
    snprintf(r->method, sizeof r->method, "%.*s", (int)(mlen < sizeof r->method ? mlen : sizeof r->method - 1), l);
    snprintf(r->path, sizeof r->path, "%.*s", (int)(tlen < sizeof r->path ? tlen : sizeof r->path - 1), l + t0);
    return SRV_HEAD_OK;
}

/* One Content-Length value (blanks around it trimmed by the caller). */
static srv_head_verdict check_length(const char *v, size_t n, uint64_t max_upload, int *seen,
                                     uint64_t *value, srv_head_result *r) {
    if (!n) return bad(r, 400, "malformed Content-Length header: empty");
    uint64_t x = 0;
    int over = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return bad(r, 400, "malformed Content-Length header: not a non-negative decimal number");
        unsigned d = (unsigned)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10) over = 1;
        else x = x * 10 + d;
    }
    if (*seen && (over || x != *value))
        return bad(r, 400, "two different Content-Length headers");
    *seen = 1;
    *value = x;
    if (over || x > (uint64_t)INT64_MAX) {
        return bad(r, 413, "request body larger than %llu bytes", (unsigned long long)max_upload);
    }
    return SRV_HEAD_OK;
}

static srv_head_verdict check_fields(const char *b, size_t n, uint64_t max_upload, srv_head_result *r) {
    size_t i = 0, fields = 0;
    int seen_len = 0;
    uint64_t len_value = 0;
    while (i < n) {
        size_t k = line_len(b + i, n - i);
        const char *l = b + i;
        const char *nl = memchr(b + i, '\n', n - i);
        i = nl ? (size_t)(nl - b) + 1 : n;
        if (!k) break; /* the empty line: end of the head */
        if (l[0] == ' ' || l[0] == '\t') {
            if (!fields) return bad(r, 400, "malformed header line (a continuation with no field)");
            continue;
        }
        if (++fields > SRV_FIELDS_MAX) {
            return bad(r, 431, "more than %u header fields", SRV_FIELDS_MAX);
        }
        const char *colon = memchr(l, ':', k);
        if (!colon || colon == l) return bad(r, 400, "malformed header line (no field name and colon)");
        if (colon - l == 14 && !strncasecmp(l, "Content-Length", 14)) {
            const char *v = colon + 1, *e = l + k;
            while (v < e && (*v == ' ' || *v == '\t')) v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
            if (check_length(v, (size_t)(e - v), max_upload, &seen_len, &len_value, r) == SRV_HEAD_BAD)
                return SRV_HEAD_BAD;
        }
    }
    return SRV_HEAD_OK;
}

srv_head_verdict srv_head_check(const char *b, size_t n, uint64_t max_upload, size_t *scanned,
                                srv_head_result *r) {
    memset(r, 0, sizeof *r);
    size_t s = skip_empty_lines(b, n);
    /* the end of the head: an empty line, searched from where the last call stopped */
    size_t from = *scanned > s + 2 ? *scanned - 2 : s;
    size_t end = 0;
    for (size_t i = from; i < n; i++) {
        if (b[i] != '\n' || i == s) continue;
        if (b[i - 1] == '\n' || (b[i - 1] == '\r' && i >= s + 2 && b[i - 2] == '\n')) {
            end = i + 1;
            break;
        }
    }
    *scanned = n;
    if (!end) {
        const char *nl = memchr(b + s, '\n', n - s);
        size_t first = nl ? line_len(b + s, n - s) : n - s;
        if (first > SRV_LINE_MAX) {
            return bad(r, 414, "request line longer than %u bytes", SRV_LINE_MAX);
        }
        if (n >= SRV_HEAD_MAX) {
            return bad(r, 431, "request head larger than %u bytes", SRV_HEAD_MAX);
        }
        return SRV_HEAD_PARTIAL;
    }
    r->len = end;
    size_t k = line_len(b + s, end - s);
    if (k > SRV_LINE_MAX) {
        return bad(r, 414, "request line longer than %u bytes", SRV_LINE_MAX);
    }
    if (check_request_line(b + s, k, r) == SRV_HEAD_BAD) return SRV_HEAD_BAD;
    const char *nl = memchr(b + s, '\n', end - s);
    size_t f0 = (size_t)(nl - b) + 1;
    return check_fields(b + f0, end - f0, max_upload, r);
}

/* (server_internal.h) Copies a client-controlled string for the log: printable ASCII only. */
void srv_log_safe(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src && *src && i + 1 < cap; src++)
        dst[i++] = (*src >= 0x21 && *src < 0x7f && *src != '"') ? *src : '?';
    dst[i] = '\0';
}
