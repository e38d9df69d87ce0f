/* sbert_team.c - a scratch's persistent helper threads. sb_team_run(t, fn,
 * arg, chunks) runs fn(arg, chunk, chunks, member) once for every chunk in
 * 0..chunks-1 and returns when all are done (a region). The members (the
 * caller is member 0) claim chunks one at a time from a shared counter, so
 * when a helper is not running (a busy machine) the caller simply does its
 * chunks too instead of waiting for it. Which thread runs a chunk never
 * changes what it computes. Helpers wait for the next region by spinning
 * briefly (regions of one forward pass follow each other within
 * microseconds), then sleep on a condition variable. A team belongs to one
 * scratch, so concurrent encodes (one scratch each) never share one. Moved
 * out of sbert.c (issue 15). */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "bert/sbert_internal.h"
#include "bert/sbert_team.h"

#define SB_SPIN_SECONDS 100e-6 /* an idle helper spins this long, then sleeps */

typedef struct {
    sb_team *t;
    int member;
} team_member;

/* the region word: generation (32 bits) | chunks (16) | next chunk (16) */
#define TW_GEN(w) ((unsigned)((w) >> 32))
#define TW_CHUNKS(w) ((int)(((w) >> 16) & 0xFFFF))
#define TW_NEXT(w) ((int)((w)&0xFFFF))
#define TEAM_MAX_CHUNKS 0xFFFF

struct sb_team {
    int want;    /* members asked for */
    int members; /* members running: the caller + helpers started */
    pthread_t tid[SB_MAX_THREADS];
    team_member who[SB_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    _Atomic uint64_t work; /* the current region (claims bump its next chunk) */
    atomic_int finished;   /* chunks of the current region done */
    atomic_int stop;
    sb_team_fn fn; /* the region's: written before work, read after a claim */
    void *arg;
};

/* One step of a bounded wait: a pause at first, then the core is offered
 * to other threads (sched_yield: when a member is waiting to run on this
 * very core, on a busy machine, it gets it at once); 0 once
 * SB_SPIN_SECONDS have passed (then the waiter sleeps). */
static int spin_step(int spin, double *t0) {
    if (spin < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        return 1;
    }
    sched_yield();
    double now = lg_now();
    if (*t0 == 0) *t0 = now;
    return now - *t0 <= SB_SPIN_SECONDS;
}

/* Claims and runs chunks of region `gen` until none is left. A claim
 * succeeds only while that region is current; once a chunk is claimed the
 * region cannot end before it is done, so fn and arg are still its own. */
static void team_work(sb_team *t, unsigned gen, int member) {
    uint64_t w = atomic_load_explicit(&t->work, memory_order_acquire);
    while (TW_GEN(w) == gen && TW_NEXT(w) < TW_CHUNKS(w)) {
        if (!atomic_compare_exchange_weak_explicit(&t->work, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* w now holds the current value */
        int chunks = TW_CHUNKS(w);
        t->fn(t->arg, TW_NEXT(w), chunks, member);
        if (atomic_fetch_add_explicit(&t->finished, 1, memory_order_acq_rel) + 1 == chunks &&
            member != 0) {
            pthread_mutex_lock(&t->mu);
            pthread_cond_signal(&t->done);
            pthread_mutex_unlock(&t->mu);
        }
        w = atomic_load_explicit(&t->work, memory_order_acquire);
    }
}

static void *team_helper(void *p) {
    team_member *me = p;
    sb_team *t = me->t;
    unsigned seen = 0;
    for (;;) {
        unsigned g = TW_GEN(atomic_load_explicit(&t->work, memory_order_acquire));
        double t0 = 0;
        for (int spin = 0; g == seen && spin_step(spin, &t0); spin++)
            g = TW_GEN(atomic_load_explicit(&t->work, memory_order_acquire));
        if (g == seen) {
            pthread_mutex_lock(&t->mu);
            while ((g = TW_GEN(atomic_load_explicit(&t->work, memory_order_acquire))) == seen)
                pthread_cond_wait(&t->go, &t->mu);
            pthread_mutex_unlock(&t->mu);
        }
        seen = g;
        if (atomic_load_explicit(&t->stop, memory_order_acquire)) break;
        team_work(t, g, me->member);
    }
    return NULL;
}

/* Starts region gen + 1 (or, with no chunks, just wakes the helpers). */
static void team_publish(sb_team *t, int chunks) {
    uint64_t gen = TW_GEN(atomic_load_explicit(&t->work, memory_order_relaxed)) + 1u;
    pthread_mutex_lock(&t->mu);
    atomic_store_explicit(&t->work, gen << 32 | (uint64_t)chunks << 16, memory_order_release);
    pthread_cond_broadcast(&t->go);
    pthread_mutex_unlock(&t->mu);
}

void sb_team_free(sb_team *t) {
    if (!t) return;
    atomic_store_explicit(&t->stop, 1, memory_order_release);
    team_publish(t, 0);
    for (int i = 1; i < t->members; i++)
        pthread_join(t->tid[i], NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->go);
    pthread_cond_destroy(&t->done);
    free(t);
}

/* A team of `want` members (want - 1 helper threads). When a thread cannot
 * be created the team is smaller (members < want). NULL when out of
 * memory. */
sb_team *sb_team_new(int want) {
    sb_team *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->want = want;
    t->members = 1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->go, NULL);
    pthread_cond_init(&t->done, NULL);
    atomic_init(&t->work, 0);
    atomic_init(&t->finished, 0);
    atomic_init(&t->stop, 0);
    for (int i = 1; i < want; i++) {
        t->who[i].t = t;
        t->who[i].member = i;
        if (pthread_create(&t->tid[i], NULL, team_helper, &t->who[i]) != 0) {
            lg_log(LG_LOG_WARN, "sbert: could not start thread %d of %d; using %d", i + 1, want, i);
            break;
        }
        t->members++;
    }
    return t;
}

/* The chunks a region of `units` units is cut into on team t (NULL: 1). */
static int team_chunks(const sb_team *t, int units) {
    if (!t || t->members == 1) return 1;
    int chunks = 4 * t->members;
    if (chunks > units) chunks = units;
    if (chunks > TEAM_MAX_CHUNKS) chunks = TEAM_MAX_CHUNKS;
    return chunks < 1 ? 1 : chunks;
}

/* Runs a region of `units` work units (panels, heads, ...) cut into a few
 * chunks per member; the serial path (t NULL) runs it as one chunk. */
void sb_team_run(sb_team *t, sb_team_fn fn, void *arg, int units) {
    int chunks = team_chunks(t, units);
    if (chunks == 1) {
        fn(arg, 0, 1, 0);
        return;
    }
    t->fn = fn;
    t->arg = arg;
    atomic_store_explicit(&t->finished, 0, memory_order_relaxed);
    team_publish(t, chunks);
    team_work(t, TW_GEN(atomic_load_explicit(&t->work, memory_order_relaxed)), 0);
    double t0 = 0;
    for (int spin = 0; atomic_load_explicit(&t->finished, memory_order_acquire) != chunks; spin++)
        if (!spin_step(spin, &t0)) break;
    if (atomic_load_explicit(&t->finished, memory_order_acquire) != chunks) {
        pthread_mutex_lock(&t->mu);
        while (atomic_load_explicit(&t->finished, memory_order_acquire) != chunks)
            pthread_cond_wait(&t->done, &t->mu);
        pthread_mutex_unlock(&t->mu);
    }
}

void sb_team_run_alone(const sb_team *t, sb_team_fn fn, void *arg, int units) {
    int chunks = team_chunks(t, units);
    for (int c = 0; c < chunks; c++)
        fn(arg, c, chunks, 0);
}

int sb_team_members(const sb_team *t) {
    return t->members;
}

int sb_team_want(const sb_team *t) {
    return t->want;
}
