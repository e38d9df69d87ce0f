/* common.c - error names, lg_fail, the log sink, the capped buffer and
 * small helpers shared by every module. */
#include "logify/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *lg_strerror(lg_err e) {
    switch (e) {
    case LG_OK: return "ok";
    case LG_ENOMEM: return "out of memory";
    case LG_EIO: return "input/output error";
    case LG_EPARSE: return "malformed input";
    case LG_EINVAL: return "invalid argument";
    case LG_ECOMPILE: return "pattern does not compile";
    case LG_ELIMIT: return "size limit exceeded";
    case LG_ENOTFOUND: return "not found";
    case LG_EMODEL: return "invalid model";
    case LG_ENET: return "network error";
    case LG_EUNSUPPORTED: return "not supported";
    case LG_EINTERNAL: return "internal error";
    case LG_ECANCELED: return "canceled";
    }
    return "unknown error";
}

lg_err lg_fail(lg_errmsg *err, lg_err code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- Logging ------------------------------------------------------------ */

static lg_log_fn log_sink;       /* process-wide; set before threads start */
static void *log_user;
static lg_log_level log_min = LG_LOG_WARN;

void lg_log_set_sink(lg_log_fn fn, void *user) {
    log_sink = fn;
    log_user = user;
}

void lg_log_set_level(lg_log_level min_level) { log_min = min_level; }

void lg_log(lg_log_level level, const char *fmt, ...) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_sink) {
        log_sink(level, msg, log_user);
        return;
    }
    if (level < log_min) return;
    fprintf(stderr, "logify: %s: %s\n", names[level], msg);
}

/* ---- lg_buf -------------------------------------------------------------- */

void lg_buf_init(lg_buf *b, size_t max) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void lg_buf_free(lg_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

lg_err lg_buf_reserve(lg_buf *b, size_t n) {
    if (n > b->max || b->len > b->max - n) return LG_ELIMIT;
    size_t need = b->len + n + 1; /* room for the NUL */
    if (need <= b->cap) return LG_OK;
    size_t ncap = b->cap ? b->cap : 256;
    while (ncap < need) ncap *= 2;
    char *p = lg_realloc(b->data, ncap);
    if (!p) return LG_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return LG_OK;
}

lg_err lg_buf_append_slow(lg_buf *b, const void *p, size_t n) {
    lg_err e = lg_buf_reserve(b, n);
    if (e) return e;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return LG_OK;
}

lg_err lg_buf_printf(lg_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return LG_EINTERNAL;
    if ((size_t)n < sizeof tmp) return lg_buf_append(b, tmp, (size_t)n);
    lg_err e = lg_buf_reserve(b, (size_t)n);
    if (e) return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LG_OK;
}

const char *lg_buf_cstr(lg_buf *b) { return b->data ? b->data : ""; }

/* ---- Allocation --------------------------------------------------------------- */

static lg_allocator alloc_fns = {malloc, calloc, realloc};

void lg_set_allocator(const lg_allocator *a) {
    lg_allocator libc = {malloc, calloc, realloc};
    alloc_fns = a ? *a : libc;
}

void *lg_malloc(size_t n) { return alloc_fns.malloc_fn(n); }
void *lg_calloc(size_t n, size_t size) { return alloc_fns.calloc_fn(n, size); }
void *lg_realloc(void *p, size_t n) { return alloc_fns.realloc_fn(p, n); }

/* ---- Helpers --------------------------------------------------------------- */

char *lg_strdup(const char *s) { return s ? lg_strndup(s, strlen(s)) : NULL; }

char *lg_strndup(const char *s, size_t n) {
    if (!s) return NULL;
    char *p = lg_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

int lg_parse_size(const char *s, size_t *out) {
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10), mul = 1;
    if (errno) return -1;
    if (*end == 'k' || *end == 'K') mul = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M') mul = 1ull << 20, end++;
    else if (*end == 'g' || *end == 'G') mul = 1ull << 30, end++;
    if (*end == 'B' || *end == 'b') end++;
    if (*end || v == 0 || v > (1ull << 40) / mul) return -1;
    *out = (size_t)(v * mul);
    return 0;
}

lg_err lg_read_file(const char *path, size_t max, char **out, size_t *out_len, lg_errmsg *err) {
    *out = NULL;
    if (out_len) *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) /* ENOMEM: stdio's FILE could not be allocated, the file may well exist */
        return lg_fail(err, errno == ENOMEM ? LG_ENOMEM : LG_ENOTFOUND, "%s: %s", path, strerror(errno));
    lg_buf b;
    lg_buf_init(&b, max);
    char chunk[65536];
    size_t n;
    lg_err e = LG_OK;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if ((e = lg_buf_append(&b, chunk, n)) != LG_OK) break;
    }
    if (!e && ferror(f)) e = lg_fail(err, LG_EIO, "%s: read error", path);
    else if (e == LG_ELIMIT) lg_fail(err, e, "%s: larger than %zu bytes", path, max);
    else if (e) lg_fail(err, e, "%s: %s", path, lg_strerror(e));
    fclose(f);
    if (e) {
        lg_buf_free(&b);
        return e;
    }
    if (!b.data && (e = lg_buf_append(&b, "", 0)) != LG_OK) return lg_fail(err, e, "%s: out of memory", path);
    *out = b.data;
    if (out_len) *out_len = b.len;
    return LG_OK;
}

uint64_t lg_fnv1a64(const void *p, size_t n, uint64_t seed) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

double lg_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
