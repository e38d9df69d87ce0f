/* progress.h - a progress line for long runs (classify, train, eval,
 * embed, templates): rows done, rows/s, and when the size is known the
 * percentage, a bar and the time left, redrawn in place on a terminal.
 *
 *   classify [=========>           ]  45%  12,345 rows  8,901 rows/s  ETA 0:12
 *
 * The caller decides whether to draw at all (the CLI: only when stderr is
 * a terminal, never with --no-progress); this module only draws. A
 * progress line is updated by one thread (the one doing the work: plain
 * stores under a mutex) and drawn by a ticker thread at most once per
 * interval (0.1 s), so a phase that makes no updates (a model fit) still
 * shows its elapsed time. lg_progress_finish draws the last state and
 * erases the line, so that what the command prints next starts on a clean
 * line (the tqdm leave=False behaviour).
 *
 * Every function accepts p == NULL and then does nothing, so library code
 * can take an optional `lg_progress *` and call it unconditionally. */
#ifndef LOGIFY_PROGRESS_H
#define LOGIFY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_progress lg_progress;

/* A clock in seconds (monotonic); tests inject their own. */
typedef double (*lg_progress_clock)(void *user);

typedef struct {
    int fd;                  /* where to draw (2: stderr) */
    const char *what;        /* the command, first on the line ("classify") */
    double interval;         /* seconds between draws; <= 0: 0.1 */
    int manual;              /* 1: no ticker thread; draws happen in lg_progress_tick */
    lg_progress_clock clock; /* NULL: lg_now */
    void *clock_user;
    int width;               /* columns; 0: the terminal's (TIOCGWINSZ), else 80 */
} lg_progress_opts;

/* Starts a progress line (and its ticker thread unless manual). Nothing is
 * drawn until the first tick. Free with lg_progress_free. */
lg_err lg_progress_new(const lg_progress_opts *o, lg_progress **out, lg_errmsg *err);

/* Begins a phase: its name (NULL or "": none; shown as "what: phase"), the
 * unit counted ("rows"; NULL: nothing is counted, the line shows the
 * elapsed time only), the units expected (0: unknown) and, for a
 * regular-file input, its size in bytes (0: not known). The percentage
 * comes from bytes when bytes_total > 0, else from units when total > 0;
 * without either the line shows the count, the rate and the elapsed time.
 * Counters and the phase clock restart; the phase that ends is drawn once
 * in its final state first (once the line is up, or it counted rows). */
void lg_progress_phase(lg_progress *p, const char *phase, const char *unit, uint64_t total,
                       uint64_t bytes_total);
/* Sets the phase's counters (absolute values). */
void lg_progress_set(lg_progress *p, uint64_t done, uint64_t bytes);
/* Adds to them. */
void lg_progress_add(lg_progress *p, uint64_t done, uint64_t bytes);

/* Erases the line if drawn (the next tick draws it again): call before
 * writing anything else to the same terminal. */
void lg_progress_clear(lg_progress *p);
/* Writes a line of text (a warning) above the progress line: erase,
 * print, and the next tick redraws. */
void lg_progress_printf(lg_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Draws now if the interval has passed since the last draw (the ticker
 * thread calls this; with manual, the caller does). Returns 1 if it drew. */
int lg_progress_tick(lg_progress *p);

/* Stops the ticker, draws the final state once and erases the line. Safe
 * to call twice; lg_progress_free calls it. */
void lg_progress_finish(lg_progress *p);
void lg_progress_free(lg_progress *p);

/* The line as it would be drawn at time now, at most width - 1 columns
 * (ASCII), NUL-terminated in buf. Returns its length. */
size_t lg_progress_format(lg_progress *p, double now, int width, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
