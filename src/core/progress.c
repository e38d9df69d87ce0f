/* progress.c - the progress line of long runs (include/logify/progress.h):
 * state under a mutex, updated by the working thread, drawn by a ticker
 * thread at most once per interval, erased at the end. */
#include "logify/progress.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define PHASE_MAX 40
#define UNIT_MAX 16
#define WHAT_MAX 24
#define LINE_MAX_COLS 240
#define BAR_COLS 24

struct lg_progress {
    int fd;
    char what[WHAT_MAX];
    double interval;
    int manual, width;
    lg_progress_clock clock;
    void *clock_user;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;
    pthread_t th;
    int thread_on, stop, finished;
    char phase[PHASE_MAX], unit[UNIT_MAX];
    uint64_t done, total, bytes, bytes_total;
    double t_phase;    /* the phase's start */
    double last_draw;  /* < 0: never drawn */
    int drawn;         /* a line is on the screen */
    int counted;       /* 0: the phase counts nothing (elapsed time only) */
};

/* ---- Output -------------------------------------------------------------------------- */

static double clock_now(const lg_progress *p) {
    return p->clock ? p->clock(p->clock_user) : lg_now();
}

/* write(2) all of it; a terminal that went away is not an error worth
 * stopping the run for, so failures are dropped. */
static void put(int fd, const char *s, size_t n) {
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static int term_width(const lg_progress *p) {
    if (p->width > 0) return p->width;
    struct winsize ws;
    if (ioctl(p->fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
    return 80;
}

/* ---- Formatting ------------------------------------------------------------------------ */

/* 1234567 -> "1,234,567" */
static void fmt_count(uint64_t v, char *out, size_t cap) {
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

/* seconds -> "m:ss" or "h:mm:ss" */
static void fmt_duration(double s, char *out, size_t cap) {
    if (!(s >= 0) || s > 359999) {
        snprintf(out, cap, "--:--");
        return;
    }
    unsigned long t = (unsigned long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, cap, "%lu:%02lu", t / 60, t % 60);
}

/* a rate with 3 significant digits at most in its integer part */
static void fmt_rate(double r, char *out, size_t cap) {
    if (r >= 1000)
        fmt_count((uint64_t)(r + 0.5), out, cap);
    else if (r >= 10)
        snprintf(out, cap, "%.0f", r);
    else
        snprintf(out, cap, "%.1f", r);
}

/* Called with p->mu held. The line is "what: phase [bar] pct%  rest"; the
 * bar shrinks (down to 6 columns, then goes) to fit the width. */
static size_t format_locked(const lg_progress *p, double now, int width, char *buf, size_t cap) {
    if (!cap) return 0;
    double el = now - p->t_phase;
    if (el < 0) el = 0;
    double frac = -1;
    if (p->bytes_total)
        frac = (double)p->bytes / (double)p->bytes_total;
    else if (p->total)
        frac = (double)p->done / (double)p->total;
    if (frac > 1) frac = 1;
    char head[96], rest[160], cnt[32], rate[32], t[32];
    snprintf(head, sizeof head, "%s%s%s", p->what, p->phase[0] ? ": " : "", p->phase);
    size_t rn = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(rest + rn, sizeof rest - rn, __VA_ARGS__);                               \
        if (k_ > 0) rn = rn + (size_t)k_ < sizeof rest ? rn + (size_t)k_ : sizeof rest - 1;       \
    } while (0)
    if (frac >= 0) ADD(" %3d%%", (int)(frac * 100 + 1e-9));
    fmt_count(p->done, cnt, sizeof cnt);
    if (!p->counted) {
        /* nothing counted: the elapsed time only */
    } else if (p->total && !p->bytes_total) {
        char tot[32];
        fmt_count(p->total, tot, sizeof tot);
        ADD("  %s/%s %s", cnt, tot, p->unit);
    } else {
        ADD("  %s %s", cnt, p->unit);
    }
    if (el > 0 && p->counted) {
        fmt_rate((double)p->done / el, rate, sizeof rate);
        ADD("  %s %s/s", rate, p->unit);
    }
    if (frac > 0 && frac < 1 && el > 0) {
        fmt_duration(el * (1 - frac) / frac, t, sizeof t);
        ADD("  ETA %s", t);
    } else {
        fmt_duration(el, t, sizeof t);
        ADD("  %s", t);
    }
#undef ADD
    /* one column short of the width: writing the last column makes some
     * terminals wrap, and then \r no longer returns to the bar's start */
    size_t max = width > 1 ? (size_t)width - 1 : 0;
    size_t hn = strlen(head);
    int bar = 0;
    if (frac >= 0) {
        size_t room = max > hn + rn + 3 ? max - hn - rn - 3 : 0; /* " [" "]" */
        bar = room < 6 ? 0 : room > BAR_COLS ? BAR_COLS : (int)room;
    }
    char line[LINE_MAX_COLS + 160];
    size_t n = (size_t)snprintf(line, sizeof line, "%s", head);
    if (bar) {
        int fill = (int)(frac * bar + 1e-9);
        line[n++] = ' ';
        line[n++] = '[';
        for (int i = 0; i < bar; i++) line[n++] = i < fill ? '=' : i == fill ? '>' : ' ';
        line[n++] = ']';
    }
    n += (size_t)snprintf(line + n, sizeof line - n, "%s", rest);
    if (n > max) n = max;
    if (n >= cap) n = cap - 1;
    memcpy(buf, line, n);
    buf[n] = '\0';
    return n;
}

size_t lg_progress_format(lg_progress *p, double now, int width, char *buf, size_t cap) {
    if (!p) {
        if (cap) buf[0] = '\0';
        return 0;
    }
    pthread_mutex_lock(&p->mu);
    size_t n = format_locked(p, now, width, buf, cap);
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* Called with p->mu held: "\r<line>\033[K" in one write. */
static void draw_locked(lg_progress *p, double now) {
    char buf[LINE_MAX_COLS + 16];
    int w = term_width(p);
    if (w > LINE_MAX_COLS) w = LINE_MAX_COLS;
    buf[0] = '\r';
    size_t n = 1 + format_locked(p, now, w, buf + 1, sizeof buf - 1);
    memcpy(buf + n, "\033[K", 3);
    put(p->fd, buf, n + 3);
    p->drawn = 1;
    p->last_draw = now;
}

static void erase_locked(lg_progress *p) {
    if (!p->drawn) return;
    put(p->fd, "\r\033[K", 4);
    p->drawn = 0;
}

/* ---- Ticker ---------------------------------------------------------------------------- */

int lg_progress_tick(lg_progress *p) {
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    double now = clock_now(p);
    int drew = 0;
    if (!p->finished && (p->last_draw < 0 || now - p->last_draw >= p->interval * 0.999)) {
        draw_locked(p, now);
        drew = 1;
    }
    pthread_mutex_unlock(&p->mu);
    return drew;
}

static void *ticker(void *arg) {
    lg_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(p->interval * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop) break;
        double now = clock_now(p);
        if (p->last_draw < 0 || now - p->last_draw >= p->interval * 0.999) draw_locked(p, now);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- Life cycle ------------------------------------------------------------------------ */

lg_err lg_progress_new(const lg_progress_opts *o, lg_progress **out, lg_errmsg *err) {
    *out = NULL;
    lg_progress *p = calloc(1, sizeof *p);
    if (!p) return lg_fail(err, LG_ENOMEM, "progress: out of memory");
    p->fd = o->fd;
    snprintf(p->what, sizeof p->what, "%s", o->what ? o->what : "logify");
    p->interval = o->interval > 0 ? o->interval : 0.1;
    p->manual = o->manual;
    p->width = o->width;
    p->clock = o->clock;
    p->clock_user = o->clock_user;
    snprintf(p->unit, sizeof p->unit, "rows");
    p->counted = 1;
    p->last_draw = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->t_phase = clock_now(p);
    if (!p->manual) {
        /* the ticker takes no signals: they stay with the threads that
         * handle them (classify's removal of a half-written output) */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&p->th, NULL, ticker, p);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->cv);
            free(p);
            return lg_fail(err, LG_EINTERNAL, "progress: cannot start a thread: %s", strerror(rc));
        }
        p->thread_on = 1;
    }
    *out = p;
    return LG_OK;
}

void lg_progress_phase(lg_progress *p, const char *phase, const char *unit, uint64_t total,
                       uint64_t bytes_total) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    /* the phase that ends is shown once in its final state, however short
     * it was (the next draw replaces it in place) */
    if (!p->finished && (p->last_draw >= 0 || p->done)) {
        if (p->bytes_total && p->bytes > p->bytes_total) p->bytes = p->bytes_total;
        draw_locked(p, clock_now(p));
    }
    snprintf(p->phase, sizeof p->phase, "%s", phase ? phase : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->counted = unit != NULL;
    p->total = total;
    p->bytes_total = bytes_total;
    p->done = p->bytes = 0;
    p->t_phase = clock_now(p);
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_set(lg_progress *p, uint64_t done, uint64_t bytes) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->done = done;
    p->bytes = bytes;
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_add(lg_progress *p, uint64_t done, uint64_t bytes) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->done += done;
    p->bytes += bytes;
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_clear(lg_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    erase_locked(p);
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_printf(lg_progress *p, const char *fmt, ...) {
    if (!p) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    pthread_mutex_lock(&p->mu);
    erase_locked(p);
    fflush(stderr); /* what stdio holds for the terminal goes first */
    put(p->fd, buf, len);
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_finish(lg_progress *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    int join = p->thread_on;
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (join) pthread_join(p->th, NULL);
    pthread_mutex_lock(&p->mu);
    p->thread_on = 0;
    if (!p->finished) {
        /* the last state once (with its final rate), then a clean line */
        if (p->bytes_total && p->bytes > p->bytes_total) p->bytes = p->bytes_total;
        draw_locked(p, clock_now(p));
        erase_locked(p);
        p->finished = 1;
    }
    pthread_mutex_unlock(&p->mu);
}

void lg_progress_free(lg_progress *p) {
    if (!p) return;
    lg_progress_finish(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
