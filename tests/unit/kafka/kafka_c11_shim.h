/* kafka_c11_shim.h - C11 threads and locks over pthreads, for the Kafka
 * unit tests that run librdkafka under ThreadSanitizer (Makefile
 * TSAN_TESTS: test_kafka_tsan, test_kafka_cov).
 *
 * Debian's librdkafka starts its threads with C11 thrd_create and locks
 * with mtx_lock / cnd_wait, which glibc implements without going through
 * the pthread symbols that TSan intercepts: under TSan its threads had no
 * TSan state (the first malloc in one crashed) and its locks were
 * invisible. This header defines the C11 thread functions librdkafka
 * imports (nm -D: thrd_create, thrd_join, thrd_current, mtx_*, cnd_*,
 * call_once) over pthreads; the executable links librdkafka, so the linker
 * exports these definitions and librdkafka's calls bind to them (the
 * executable comes first in the lookup). TSan then knows every thread and
 * every lock of the process; librdkafka's own code is not instrumented, so
 * what is checked is the test's code (the worker's, the pipeline's)
 * against every thread. A test checks shim_threads > 0 (thrd_create was
 * called), so that it cannot pass with librdkafka's threads unseen.
 * Include it in one file of a test executable: the definitions are global
 * (that is how they interpose). */
#ifndef LOGIFY_TEST_KAFKA_C11_SHIM_H
#define LOGIFY_TEST_KAFKA_C11_SHIM_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int shim_threads; /* atomic: thrd_create calls seen */

typedef struct {
    thrd_start_t fn;
    void *arg;
} shim_start;

static void *shim_trampoline(void *p) {
    shim_start s = *(shim_start *)p;
    free(p);
    return (void *)(intptr_t)s.fn(s.arg);
}

int thrd_create(thrd_t *t, thrd_start_t fn, void *arg) {
    shim_start *s = malloc(sizeof *s);
    if (!s) return thrd_nomem;
    s->fn = fn;
    s->arg = arg;
    pthread_t th;
    int e = pthread_create(&th, NULL, shim_trampoline, s);
    if (e) {
        free(s);
        return e == ENOMEM ? thrd_nomem : thrd_error;
    }
    *t = (thrd_t)th;
    __atomic_fetch_add(&shim_threads, 1, __ATOMIC_RELAXED);
    return thrd_success;
}

int thrd_join(thrd_t t, int *res) {
    void *r;
    if (pthread_join((pthread_t)t, &r)) return thrd_error;
    if (res) *res = (int)(intptr_t)r;
    return thrd_success;
}

thrd_t thrd_current(void) { return (thrd_t)pthread_self(); }

int mtx_init(mtx_t *m, int type) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    if (type & mtx_recursive) pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    int e = pthread_mutex_init((pthread_mutex_t *)m, &a);
    pthread_mutexattr_destroy(&a);
    return e ? thrd_error : thrd_success;
}

int mtx_lock(mtx_t *m) { return pthread_mutex_lock((pthread_mutex_t *)m) ? thrd_error : thrd_success; }
int mtx_unlock(mtx_t *m) { return pthread_mutex_unlock((pthread_mutex_t *)m) ? thrd_error : thrd_success; }
int mtx_trylock(mtx_t *m) {
    int e = pthread_mutex_trylock((pthread_mutex_t *)m);
    return !e ? thrd_success : e == EBUSY ? thrd_busy : thrd_error;
}
void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int cnd_init(cnd_t *c) { return pthread_cond_init((pthread_cond_t *)c, NULL) ? thrd_error : thrd_success; }
int cnd_signal(cnd_t *c) { return pthread_cond_signal((pthread_cond_t *)c) ? thrd_error : thrd_success; }
int cnd_broadcast(cnd_t *c) { return pthread_cond_broadcast((pthread_cond_t *)c) ? thrd_error : thrd_success; }
int cnd_wait(cnd_t *c, mtx_t *m) {
    return pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m) ? thrd_error : thrd_success;
}
int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict until) {
    int e = pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, until); /* both TIME_UTC */
    return !e ? thrd_success : e == ETIMEDOUT ? thrd_timedout : thrd_error;
}
void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

void call_once(once_flag *flag, void (*fn)(void)) { pthread_once((pthread_once_t *)flag, fn); }

/* TSan's suppressions for this executable, limited to librdkafka's
 * internals: its threads order some of their own work with atomic
 * reference counts, which TSan cannot see in uninstrumented code, so a
 * topic's rwlock destroyed by rdk:main after rdk:broker read-locked it is
 * reported (seen). No rwlock is used by Logify's code (src/ has none), so
 * this hides nothing of the worker's. Its mutexes and condition variables
 * order everything else: they reach pthreads through the functions above. */
/* And TSan's options: the memory operations that librdkafka's own code
 * makes through TSan's interceptors (free, memcpy and the like: librdkafka
 * is not instrumented) are not taken as accesses. Its threads free a fetch
 * buffer once its reference count (atomics in that uninstrumented code)
 * reaches zero, after the worker read the messages in it and let them go:
 * TSan cannot see that order and reported the free against the worker's
 * reads (kmsg_parse, kmsg_utf8_check, emit) and a test's own, in 1 of 4
 * runs of test_kafka_cov (13 reports, every one that free at the same place
 * in librdkafka). The accesses of Logify's code are instrumented and still
 * checked, in the callbacks librdkafka calls too. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "ignore_noninstrumented_modules=1"; }

#ifndef KAFKA_SHIM_MORE_SUPPRESSIONS /* a test's own, each a line, defined before the include */
#define KAFKA_SHIM_MORE_SUPPRESSIONS ""
#endif
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:pthread_rwlock_\n" KAFKA_SHIM_MORE_SUPPRESSIONS; }

#endif
