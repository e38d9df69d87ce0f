/* server_head.c - the check of request heads and the framing of request
 * bodies before libmicrohttpd sees them.
 *
 * libmicrohttpd 0.9.75 (Debian 12) answers some bad heads itself, before any
 * of our callbacks runs, and badly: a Content-Length of -1 or of 20 digits
 * made it send the status line and headers twice, then an HTML body; a
 * request line or head too large for its memory pool got an HTML 414 / 431
 * (issue 14, item 9). The front door (server_front.c) checks each
 * connection's first head, and the pump (server_pump.c) every later one on
 * a kept-alive connection, with srv_head_check; a head found bad is
 * answered by us, with one response and a JSON {"detail": ...} body, and
 * never reaches the library. The limits sit well inside what the library
 * accepts with its default 32 KiB per-connection pool (measured: a 31 KB
 * header line, about 400 header lines), so a head we pass is never one it
 * refuses:
 *   request line > SRV_LINE_MAX bytes            414 URI Too Long
 *   head > SRV_HEAD_MAX bytes, > SRV_FIELDS_MAX
 *   header lines                                 431 Request Header Fields Too Large
 *   a request line that is not METHOD SP TARGET SP HTTP/d.d,
 *   a header line without a colon, a NUL byte   400
 *   a version other than HTTP/1.0 and HTTP/1.1   505
 *   Content-Length not one or more digits (the
 *   first one: nothing after them either, as the
 *   library reads it), twice with different
 *   values, or folded                            400
 *   Content-Length above 2^63 - 1 (the library
 *   cannot hold it)                              413
 *   Transfer-Encoding twice, folded, or beside
 *   a Content-Length                             400
 *   Transfer-Encoding other than "chunked"       501 (the library would read
 *                                                the body until the close)
 * A Content-Length that is well formed but above --max-upload is left to
 * server.c, which answers 413 after the 401 / 404 / 405 checks as before.
 * Leading empty lines are skipped and bare LF line ends accepted, as the
 * library does; folded header lines (starting with a blank) are allowed,
 * except after the fields that frame the body or end the connection.
 * Everything else (methods, paths, authentication) is left to server.c.
 *
 * srv_body_scan follows a body after its head, as the library reads it
 * (Content-Length bytes; or chunks: hex size, optional ;extension, CRLF or
 * LF, data, CRLF or LF, then trailer lines up to an empty one), so that the
 * pump knows where the next head starts and never takes body bytes for a
 * head. Chunk framing the library would refuse is refused here first.
 * srv_bad_head_answer / srv_bad_head_log make, count and log the answer to
 * a bad head, for the front door and the pump alike. */
#include "server/server_internal.h"

#include <arpa/inet.h>
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
    r->close = v[7] == '0'; /* HTTP/1.0 closes unless asked to keep alive */
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

/* Whether the comma-separated list v[0..n) holds token tok (any case). */
static int has_token(const char *v, size_t n, const char *tok) {
    size_t tl = strlen(tok), i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t j = i;
        while (j < n && v[j] != ',') j++;
        size_t e = j;
        while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - i == tl && !strncasecmp(v + i, tok, tl)) return 1;
        i = j;
    }
    return 0;
}

typedef enum { F_OTHER = 0, F_LENGTH, F_TE, F_CONNECTION } field_kind;

/* r->close holds, on entry, whether the version closes by default (1.0). */
static srv_head_verdict check_fields(const char *b, size_t n, uint64_t max_upload, srv_head_result *r) {
    static const char *const names[] = {"", "Content-Length", "Transfer-Encoding", "Connection"};
    size_t i = 0, fields = 0;
    int seen_len = 0, seen_te = 0, seen_conn = 0, http10 = r->close;
    field_kind prev = F_OTHER;
    uint64_t len_value = 0;
    while (i < n) {
        size_t k = line_len(b + i, n - i);
        const char *l = b + i;
        const char *nl = memchr(b + i, '\n', n - i);
        i = nl ? (size_t)(nl - b) + 1 : n;
        if (!k) break; /* the empty line: end of the head */
        if (l[0] == ' ' || l[0] == '\t') {
            if (!fields) return bad(r, 400, "malformed header line (a continuation with no field)");
            /* the library glues a folded line to the value: refused where it frames the body */
            if (prev != F_OTHER) return bad(r, 400, "folded %s header", names[prev]);
            continue;
        }
        if (++fields > SRV_FIELDS_MAX) {
            return bad(r, 431, "more than %u header fields", SRV_FIELDS_MAX);
        }
        const char *colon = memchr(l, ':', k);
        if (!colon || colon == l) return bad(r, 400, "malformed header line (no field name and colon)");
        /* the value as the library sees it: leading blanks skipped, trailing ones kept */
        const char *v = colon + 1, *raw_end = l + k, *e;
        while (v < raw_end && (*v == ' ' || *v == '\t')) v++;
        for (e = raw_end; e > v && (e[-1] == ' ' || e[-1] == '\t'); e--) {}
        size_t name = (size_t)(colon - l);
        prev = F_OTHER;
        if (name == 14 && !strncasecmp(l, "Content-Length", 14)) {
            prev = F_LENGTH;
            if (!seen_len && e != raw_end)
                return bad(r, 400, "malformed Content-Length header: blanks after the number");
            if (check_length(v, (size_t)(e - v), max_upload, &seen_len, &len_value, r) == SRV_HEAD_BAD)
                return SRV_HEAD_BAD;
        } else if (name == 17 && !strncasecmp(l, "Transfer-Encoding", 17)) {
            prev = F_TE;
            if (seen_te++) return bad(r, 400, "more than one Transfer-Encoding header");
            if (e != raw_end || e - v != 7 || strncasecmp(v, "chunked", 7))
                return bad(r, 501, "Transfer-Encoding other than chunked is not supported");
        } else if (name == 10 && !strncasecmp(l, "Connection", 10)) {
            prev = F_CONNECTION;
            if (!seen_conn++) { /* the library reads the first one */
                if (has_token(v, (size_t)(e - v), "close")) r->close = 1;
                else if (http10 && has_token(v, (size_t)(e - v), "keep-alive")) r->close = 0;
            }
        }
    }
    if (seen_te && seen_len) return bad(r, 400, "both Transfer-Encoding and Content-Length");
    r->chunked = seen_te;
    r->length = seen_len ? len_value : 0;
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
    if (memchr(b + s, '\0', end - s)) return bad(r, 400, "NUL byte in the request head");
    if (check_request_line(b + s, k, r) == SRV_HEAD_BAD) return SRV_HEAD_BAD;
    const char *nl = memchr(b + s, '\n', end - s);
    size_t f0 = (size_t)(nl - b) + 1;
    return check_fields(b + f0, end - f0, max_upload, r);
}

/* ---- Bodies ------------------------------------------------------------------------ */

void srv_body_start(srv_body *b, const srv_head_result *r) {
    memset(b, 0, sizeof *b);
    b->close = r->close;
    if (r->chunked) b->st = SRV_BODY_CHUNK_SIZE;
    else if (r->length) {
        b->st = SRV_BODY_LENGTH;
        b->left = r->length;
    } else b->st = b->close ? SRV_BODY_REST : SRV_BODY_NONE;
}

static void body_done(srv_body *b) {
    int close = b->close;
    memset(b, 0, sizeof *b);
    b->close = close;
    b->st = close ? SRV_BODY_REST : SRV_BODY_NONE;
}

/* One byte of a chunk size line, chunk end or trailer; 0, or -1 when bad. */
static int body_byte(srv_body *b, char c, srv_head_result *r) {
    switch (b->st) {
    case SRV_BODY_CHUNK_SIZE: {
        if (++b->line > SRV_CHUNK_LINE_MAX) {
            bad(r, 400, "malformed chunked body: chunk size line longer than %u bytes", SRV_CHUNK_LINE_MAX);
            return -1;
        }
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d >= 0) {
            if (b->left > (UINT64_MAX >> 4)) {
                bad(r, 413, "chunk size too large");
                return -1;
            }
            b->left = b->left << 4 | (unsigned)d;
            b->digits++;
            return 0;
        }
        if (!b->digits || (c != ';' && c != '\r' && c != '\n')) break;
        if (c == ';') b->st = SRV_BODY_CHUNK_EXT;
        else if (c == '\r') b->st = SRV_BODY_CHUNK_SIZE_CR;
        else goto size_done;
        return 0;
    }
    case SRV_BODY_CHUNK_EXT:
        if (++b->line > SRV_CHUNK_LINE_MAX) {
            bad(r, 400, "malformed chunked body: chunk size line longer than %u bytes", SRV_CHUNK_LINE_MAX);
            return -1;
        }
        if (c == '\n') goto size_done;
        return 0;
    case SRV_BODY_CHUNK_SIZE_CR:
        if (c == '\n') goto size_done;
        break;
    case SRV_BODY_CHUNK_END:
        if (c == '\r') b->st = SRV_BODY_CHUNK_END_CR;
        else if (c == '\n') b->st = SRV_BODY_CHUNK_SIZE;
        else break;
        return 0;
    case SRV_BODY_CHUNK_END_CR:
        if (c != '\n') break;
        b->st = SRV_BODY_CHUNK_SIZE;
        return 0;
    case SRV_BODY_TRAILER:
        if (++b->line > SRV_TRAILER_MAX) {
            bad(r, 431, "trailer section larger than %u bytes", SRV_TRAILER_MAX);
            return -1;
        }
        if (!c) {
            bad(r, 400, "NUL byte in the trailer section");
            return -1;
        }
        if (c == '\n') {
            if (!b->col || (b->col == 1 && b->cr)) { /* the empty line: the end */
                body_done(b);
                return 0;
            }
            if (!b->colon && !b->folded) {
                bad(r, 400, "malformed trailer line (no field name and colon)");
                return -1;
            }
            if (!b->folded && ++b->fields > SRV_FIELDS_MAX) {
                bad(r, 431, "more than %u trailer fields", SRV_FIELDS_MAX);
                return -1;
            }
            b->col = 0;
            b->colon = b->folded = b->cr = 0;
            return 0;
        }
        if (!b->col && (c == ' ' || c == '\t')) {
            if (!b->fields) {
                bad(r, 400, "malformed trailer line (a continuation with no field)");
                return -1;
            }
            b->folded = 1;
        }
        if (c == ':' && b->col) b->colon = 1;
        b->cr = c == '\r';
        b->col++;
        return 0;
    default: return 0;
    }
    bad(r, 400, "malformed chunked body");
    return -1;
size_done:
    b->line = b->digits = 0;
    if (b->left) b->st = SRV_BODY_CHUNK_DATA;
    else b->st = SRV_BODY_TRAILER; /* the last chunk: trailer lines up to an empty one */
    return 0;
}

size_t srv_body_scan(srv_body *b, const char *p, size_t n, srv_head_result *r, srv_head_verdict *v) {
    *v = SRV_HEAD_OK;
    size_t i = 0;
    while (i < n) {
        switch (b->st) {
        case SRV_BODY_NONE:
        case SRV_BODY_REST: return i;
        case SRV_BODY_LENGTH:
        case SRV_BODY_CHUNK_DATA: {
            size_t k = n - i < b->left ? n - i : (size_t)b->left;
            i += k;
            b->left -= k;
            if (!b->left) {
                if (b->st == SRV_BODY_LENGTH) body_done(b);
                else b->st = SRV_BODY_CHUNK_END;
            }
            break;
        }
        default:
            if (body_byte(b, p[i], r)) {
                *v = SRV_HEAD_BAD;
                return i;
            }
            i++;
        }
    }
    return i;
}

/* ---- Answers to bad heads (the front door's and the pump's) ------------------------- */

static const char *reason(unsigned status) {
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

void srv_bad_head_log(lg_server *s, const struct sockaddr_storage *addr, const char *id, const srv_head_result *r,
                   size_t out, double secs) {
    unsigned status = r->status;
    srv_metrics_request(&s->metrics, SRV_R_OTHER, status, secs, 0, out);
    if (!s->o.access_log) return;
    char remote[INET6_ADDRSTRLEN] = "-", method[sizeof r->method], path[sizeof r->path];
    if (addr->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, remote, sizeof remote);
    else if (addr->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, remote,
                  sizeof remote);
    srv_log_safe(method, sizeof method, r->method[0] ? r->method : "-");
    srv_log_safe(path, sizeof path, r->path[0] ? r->path : "-");
    lg_log(LG_LOG_INFO, "access id=%s remote=%s method=%s path=%s status=%u in=0 out=%zu ms=%.2f end=bad-head",
           id, remote, method, path, status, out, secs * 1e3);
}

void srv_bad_head_answer(lg_server *s, unsigned status, const char *detail, char *id, size_t idcap, lg_buf *out) {
    uint64_t n = __atomic_add_fetch(&s->next_id, 1, __ATOMIC_RELAXED);
    snprintf(id, idcap, "%08x-%08llx", s->nonce, (unsigned long long)n);
    lg_buf body;
    lg_buf_init(&body, 1024);
    lg_err e = lg_buf_append(&body, "{\"detail\":", 10);
    if (!e) e = lg_json_put_string(&body, detail, strlen(detail));
    if (!e) e = lg_buf_putc(&body, '}');
    lg_buf_printf(out,
                  "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                  "X-Request-Id: %s\r\nConnection: close\r\n\r\n",
                  status, reason(status), e ? 0 : body.len, id);
    if (!e) lg_buf_append(out, body.data, body.len);
    lg_buf_free(&body);
}

/* (server_internal.h) Copies a client-controlled string for the log: printable ASCII only. */
void srv_log_safe(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src && *src && i + 1 < cap; src++)
        dst[i++] = (*src >= 0x21 && *src < 0x7f && *src != '"') ? *src : '?';
    dst[i] = '\0';
}
