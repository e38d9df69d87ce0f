/* failalloc.c - an LD_PRELOAD interposer that makes chosen allocations fail
 * (NULL with errno ENOMEM), for the allocation-failure tests
 * (tests/e2e/oom_*.sh, docs/testing.md "Allocation failure").
 *
 * It replaces malloc, calloc, realloc, posix_memalign, aligned_alloc and
 * memalign (glibc routes its own strdup, getline, fopen, asprintf ... through
 * the replaced malloc), counts the allocations of the matching threads once
 * armed, and fails:
 *   mode nth   the Nth counted allocation only (1-based)
 *   mode from  the Nth and every later one
 *   mode count none (counting only: how many allocations a run makes)
 *   mode off   none, nothing counted
 * Threads: all, main (the process's first thread) or others (every other).
 * realloc(p, 0) and free() are never failed; neither are allocations made
 * while the interposer itself runs (backtrace_symbols_fd's libgcc load).
 *
 * Configuration, read once at start-up from the environment:
 *   FAILALLOC_MODE, FAILALLOC_N, FAILALLOC_THREAD  as above (default off)
 *   FAILALLOC_REPORT=PATH  at exit, writes "counted C failed F\n" there
 *   FAILALLOC_TRACE=1      a backtrace on stderr at each injected failure
 *   FAILALLOC_SPARE=OFF+LEN,...  code ranges of the main executable (offsets
 *                          from its load address, as `nm -S` prints them):
 *                          an allocation chosen to fail while one of them is
 *                          on the stack is spared, and the next one fails in
 *                          its place (mode nth); the sweeps spare Jansson's
 *                          parser, whose lexer crashes on a failed malloc
 *                          (akheron/jansson#362, open; docs/testing.md)
 *   FAILALLOC_RENAME=PATH  rename() onto exactly PATH fails with EIO (not
 *                          an allocation: cluster --out's commit, failed)
 *   FAILALLOC_CTL=PATH     a control file (at least 4096 bytes, made by the
 *                          test) mapped shared: the start signal. Its first
 *                          64 bytes are a text record "SEQ MODE N THREAD SEQ"
 *                          (space padded, SEQ repeated as a torn-write guard);
 *                          each new SEQ re-arms: the count restarts at 0.
 *                          The test writes it in place, never truncating the
 *                          file (bash: printf '%-63s\n' "..." 1<>PATH).
 *                          Bytes 64..87 are written back: three uint64 in
 *                          host order: counted, failed, the SEQ applied.
 * So a test starts a server unarmed, waits until it is ready, then arms the
 * Nth allocation of the next request, sends it, reads the counters, disarms.
 *
 * Built only in non-sanitizer builds (ASan and TSan replace malloc
 * themselves). Calls glibc's __libc_* entry points: no dlsym at start-up. */
#define _GNU_SOURCE
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);

/* ---- State ------------------------------------------------------------------- */

enum { M_OFF, M_COUNT, M_NTH, M_FROM };
enum { T_ALL, T_MAIN, T_OTHERS };
#define REC 64

typedef struct {
    uint64_t counted, failed, seq;
} ctl_counters;

static atomic_int mode = M_OFF, thread_sel = T_ALL;
static atomic_ullong nth = 0, counted = 0, failed = 0;
static atomic_int busy; /* a spin lock around re-arming from the control file */
static int trace;
static pid_t main_tid;
static const char *report_path;
static volatile char *ctl;  /* the mapped control file, or NULL */
static char ctl_seen[REC];  /* the record last applied (under busy) */
#define MAX_SPARE 8
static uintptr_t spare_lo[MAX_SPARE], spare_hi[MAX_SPARE], exe_base;
static int n_spare;
static atomic_ullong spared;
static __thread int in_hook __attribute__((tls_model("initial-exec")));

static int parse_mode(const char *s) {
    if (!s) return M_OFF;
    if (!strcmp(s, "count")) return M_COUNT;
    if (!strcmp(s, "nth")) return M_NTH;
    if (!strcmp(s, "from")) return M_FROM;
    return M_OFF;
}

static int parse_thread(const char *s) {
    if (s && !strcmp(s, "main")) return T_MAIN;
    if (s && !strcmp(s, "others")) return T_OTHERS;
    return T_ALL;
}

/* ---- The control file ---------------------------------------------------------- */

/* Applies a changed record: "SEQ MODE N THREAD SEQ". Ignores a torn or
 * malformed one (the next allocation reads it again). */
static void ctl_poll(void) {
    char rec[REC];
    for (int i = 0; i < REC; i++) rec[i] = ctl[i];
    if (!memcmp(rec, ctl_seen, REC)) return;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&busy, &expected, 1)) return;
    char m[16], t[16];
    unsigned long long s1, s2, n;
    char text[REC + 1];
    memcpy(text, rec, REC);
    text[REC] = '\0';
    if (sscanf(text, "%llu %15s %llu %15s %llu", &s1, m, &n, t, &s2) == 5 && s1 == s2) {
        memcpy(ctl_seen, rec, REC);
        atomic_store(&mode, M_OFF);
        atomic_store(&counted, 0);
        atomic_store(&failed, 0);
        atomic_store(&nth, n);
        atomic_store(&thread_sel, parse_thread(t));
        atomic_store(&mode, parse_mode(m));
        ctl_counters *c = (ctl_counters *)(ctl + REC);
        c->counted = 0;
        c->failed = 0;
        c->seq = s1;
    }
    atomic_store(&busy, 0);
}

static int first_object(struct dl_phdr_info *info, size_t size, void *data) {
    exe_base = (uintptr_t)info->dlpi_addr; /* the first is the main program */
    return 1;
}

static void parse_spare(const char *s) {
    while (s && *s && n_spare < MAX_SPARE) {
        char *end;
        unsigned long long off = strtoull(s, &end, 0), len = 0;
        if (*end == '+') len = strtoull(end + 1, &end, 0);
        spare_lo[n_spare] = (uintptr_t)off;
        spare_hi[n_spare++] = (uintptr_t)(off + len);
        s = *end == ',' ? end + 1 : "";
    }
    if (n_spare) dl_iterate_phdr(first_object, NULL);
}

/* 1 when a spared code range is on the stack (in_hook set by the caller). */
static int in_spared_code(void) {
    void *frames[64];
    int n = backtrace(frames, 64);
    for (int i = 0; i < n; i++) {
        uintptr_t off = (uintptr_t)frames[i] - exe_base;
        for (int j = 0; j < n_spare; j++)
            if (off >= spare_lo[j] && off < spare_hi[j]) return 1;
    }
    return 0;
}

__attribute__((constructor)) static void failalloc_init(void) {
    in_hook = 1;
    main_tid = getpid();
    const char *n = getenv("FAILALLOC_N");
    atomic_store(&nth, n ? strtoull(n, NULL, 10) : 0);
    atomic_store(&thread_sel, parse_thread(getenv("FAILALLOC_THREAD")));
    trace = getenv("FAILALLOC_TRACE") && *getenv("FAILALLOC_TRACE") == '1';
    report_path = getenv("FAILALLOC_REPORT");
    const char *path = getenv("FAILALLOC_CTL");
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CLOEXEC);
        void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (fd >= 0) close(fd);
        if (p == MAP_FAILED) {
            static const char msg[] = "failalloc: cannot map FAILALLOC_CTL\n";
            if (write(2, msg, sizeof msg - 1) < 0) _exit(99);
            _exit(99);
        }
        ctl = p;
    }
    parse_spare(getenv("FAILALLOC_SPARE"));
    if (trace || n_spare) { /* loads libgcc's unwinder now, not at the first failure */
        void *frames[4];
        backtrace(frames, 4);
    }
    atomic_store(&mode, parse_mode(getenv("FAILALLOC_MODE")));
    in_hook = 0;
}

__attribute__((destructor)) static void failalloc_fini(void) {
    if (!report_path) return;
    in_hook = 1;
    FILE *f = fopen(report_path, "w");
    if (f) {
        fprintf(f, "counted %llu failed %llu spared %llu\n", (unsigned long long)atomic_load(&counted),
                (unsigned long long)atomic_load(&failed), (unsigned long long)atomic_load(&spared));
        fclose(f);
    }
}

/* ---- The decision -------------------------------------------------------------- */

static __thread pid_t my_tid __attribute__((tls_model("initial-exec")));

static void store_max(uint64_t *slot, uint64_t v) {
    uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);
    while (old < v && !__atomic_compare_exchange_n(slot, &old, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* 1 when this allocation is to fail (counted first). */
static int should_fail(size_t size) {
    if (in_hook) return 0;
    if (ctl) ctl_poll();
    int m = atomic_load(&mode);
    if (m == M_OFF) return 0;
    int ts = atomic_load(&thread_sel);
    if (ts != T_ALL) {
        if (!my_tid) my_tid = (pid_t)syscall(SYS_gettid);
        if ((ts == T_MAIN) != (my_tid == main_tid)) return 0;
    }
    unsigned long long c = atomic_fetch_add(&counted, 1) + 1, n = atomic_load(&nth);
    ctl_counters *cc = ctl ? (ctl_counters *)(ctl + REC) : NULL;
    if (cc) store_max(&cc->counted, c);
    if (!((m == M_NTH && c == n) || (m == M_FROM && c >= n))) return 0;
    if (n_spare) {
        in_hook = 1;
        int skip = in_spared_code();
        in_hook = 0;
        if (skip) {
            atomic_fetch_add(&spared, 1);
            if (m == M_NTH) atomic_compare_exchange_strong(&nth, &n, n + 1);
            return 0;
        }
    }
    unsigned long long f = atomic_fetch_add(&failed, 1) + 1;
    if (cc) store_max(&cc->failed, f);
    if (trace) {
        in_hook = 1;
        char line[96];
        int len = snprintf(line, sizeof line, "failalloc: failing allocation %llu (%zu bytes)\n", c, size);
        if (len > 0 && write(2, line, (size_t)len) < 0) len = 0;
        void *frames[32];
        backtrace_symbols_fd(frames, backtrace(frames, 32), 2);
        in_hook = 0;
    }
    errno = ENOMEM;
    return 1;
}

/* ---- The replaced entry points ------------------------------------------------- */

void *malloc(size_t n) {
    if (should_fail(n)) return NULL;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
    if (should_fail(n * size)) return NULL;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
    if (!(p && n == 0) && should_fail(n)) return NULL;
    return __libc_realloc(p, n);
}

void *reallocarray(void *p, size_t n, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

void *memalign(size_t align, size_t n) {
    if (should_fail(n)) return NULL;
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    int saved = errno;
    void *p = memalign(align, n);
    if (!p) {
        errno = saved;
        return ENOMEM;
    }
    *out = p;
    return 0;
}

/* FAILALLOC_RENAME=PATH: a rename() onto exactly PATH fails with EIO
 * (read at each call, not armed by FAILALLOC_MODE): e2e.cluster_out_kept
 * fails one rename of cluster --out's commit, after earlier ones succeeded. */
int rename(const char *from, const char *to) {
    const char *bad = getenv("FAILALLOC_RENAME");
    if (bad && to && strcmp(bad, to) == 0) {
        errno = EIO;
        return -1;
    }
    return (int)syscall(SYS_renameat, AT_FDCWD, from, AT_FDCWD, to);
}
