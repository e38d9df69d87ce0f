/* common.h - error codes, error messages, logging and a capped growable
 * buffer: the pieces every Logify module uses.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 *  - every public symbol starts with lg_ / LG_;
 *  - a function that can fail returns lg_err (LG_OK == 0) and writes a
 *    human-readable detail into an optional caller-supplied lg_errmsg;
 *  - no module calls exit(); only main() does.
 */
#ifndef LOGIFY_COMMON_H
#define LOGIFY_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One error enum with fixed numbers; lg_strerror() names each. */
typedef enum {
    LG_OK = 0,
    LG_ENOMEM = 1,     /* allocation failed */
    LG_EIO = 2,        /* read/write/open failed */
    LG_EPARSE = 3,     /* malformed input (CSV row, YAML, JSON) */
    LG_EINVAL = 4,     /* bad argument or configuration value */
    LG_ECOMPILE = 5,   /* a rule pattern did not compile */
    LG_ELIMIT = 6,     /* a size cap was hit */
    LG_ENOTFOUND = 7,  /* missing file, column, key or label */
    LG_EMODEL = 8,     /* model bundle invalid or incompatible */
    LG_ENET = 9,       /* network failure */
    LG_EUNSUPPORTED = 10, /* feature not available in this build */
    LG_EINTERNAL = 11, /* a bug: an invariant did not hold */
    LG_ECANCELED = 12  /* stopped on request (a progress callback said stop) */
} lg_err;

/* Static English name of an error code; never NULL. */
const char *lg_strerror(lg_err e);

/* Caller-supplied detail buffer. Functions taking `lg_errmsg *err` accept
 * NULL (no detail wanted). */
#define LG_ERRMSG_MAX 512
typedef struct {
    char msg[LG_ERRMSG_MAX];
} lg_errmsg;

/* Formats into err (if non-NULL) and returns code, so that callers can
 * write `return lg_fail(err, LG_EINVAL, "bad %s", x);`. */
lg_err lg_fail(lg_errmsg *err, lg_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- Logging ---------------------------------------------------------- */

typedef enum { LG_LOG_DEBUG = 0, LG_LOG_INFO, LG_LOG_WARN, LG_LOG_ERROR } lg_log_level;

/* Sink for log lines; the embedding program may replace it. The default
 * writes "logify: <level>: <message>\n" to stderr for levels >= the
 * threshold (LG_LOG_WARN unless changed). */
typedef void (*lg_log_fn)(lg_log_level level, const char *msg, void *user);

/* Process-wide: call before starting threads. fn == NULL restores the
 * default sink. */
void lg_log_set_sink(lg_log_fn fn, void *user);
void lg_log_set_level(lg_log_level min_level);
void lg_log(lg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Growable byte buffer with a hard cap (curl's dynbuf idea) ---------- */

typedef struct {
    char *data;     /* NUL-terminated when len > 0 or after lg_buf_cstr */
    size_t len;
    size_t cap;     /* allocated bytes */
    size_t max;     /* hard limit on len; appends beyond it fail LG_ELIMIT */
} lg_buf;

/* Initialise an empty buffer that may grow up to max bytes. */
void lg_buf_init(lg_buf *b, size_t max);
/* Free the storage; the buffer is empty and reusable afterwards. */
void lg_buf_free(lg_buf *b);
/* Keep the storage, drop the contents. */
static inline void lg_buf_reset(lg_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}
/* Appends; every append checks the cap. */
lg_err lg_buf_append_slow(lg_buf *b, const void *p, size_t n);
static inline lg_err lg_buf_append(lg_buf *b, const void *p, size_t n) {
    /* fast path: room already allocated (cap <= max + 1 always holds) */
    if (b->cap && n < b->cap - b->len && b->len + n <= b->max) {
        if (n) __builtin_memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return LG_OK;
    }
    return lg_buf_append_slow(b, p, n);
}
static inline lg_err lg_buf_putc(lg_buf *b, char c) { return lg_buf_append(b, &c, 1); }
lg_err lg_buf_printf(lg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Ensures room for n more bytes (respecting the cap). */
lg_err lg_buf_reserve(lg_buf *b, size_t n);
/* Returns a NUL-terminated view ("" when empty); owned by the buffer. */
const char *lg_buf_cstr(lg_buf *b);

/* ---- Small helpers ----------------------------------------------------- */

/* strdup that returns NULL on NULL input; free() the result. */
/* ---- Allocation, replaceable for fault-injection tests ------------------
 * The CSV reader, the rules loader, the model bundle reader, lg_buf and
 * lg_strdup allocate through these; a test installs an allocator that
 * fails on demand (tests/unit/test_faults.c). Memory is released with
 * free() whatever the allocator, so one must hand out malloc-compatible
 * blocks (wrap malloc). Process-wide: set it before starting threads. */
typedef struct {
    void *(*malloc_fn)(size_t n);
    void *(*calloc_fn)(size_t n, size_t size);
    void *(*realloc_fn)(void *p, size_t n);
} lg_allocator;

void lg_set_allocator(const lg_allocator *a); /* NULL: back to libc */
void *lg_malloc(size_t n);
void *lg_calloc(size_t n, size_t size);
void *lg_realloc(void *p, size_t n);

char *lg_strdup(const char *s);
char *lg_strndup(const char *s, size_t n);

/* Reads a whole (small) file into a NUL-terminated malloc'd buffer, at most
 * max bytes. Caller frees *out. */
lg_err lg_read_file(const char *path, size_t max, char **out, size_t *out_len, lg_errmsg *err);

/* A byte size: "12345", "64K", "100M", "1G" (binary units, an optional B),
 * from 1 byte to 1 TiB. Returns 0, or -1 for anything else. */
int lg_parse_size(const char *s, size_t *out);

/* FNV-1a 64-bit over bytes; used for checksums of configs and data. */
uint64_t lg_fnv1a64(const void *p, size_t n, uint64_t seed);

/* Monotonic clock in seconds. */
double lg_now(void);

/* Vector instructions the machine (and the OS) can run: 1 or 0. Answered
 * from the dynamic loader's table, without a CPUID (src/core/cpu.c says
 * why); always 0 off x86-64. */
typedef enum {
    LG_CPU_AVX2_FMA,
    LG_CPU_AVX512F,    /* with AVX2 and FMA */
    LG_CPU_AVX512VNNI, /* AVX512F + BW + VNNI, with AVX2 (the int8 kernels) */
} lg_cpu_feature;
int lg_cpu_has(lg_cpu_feature f);

#ifdef __cplusplus
}
#endif
#endif
