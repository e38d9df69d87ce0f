/* cli_progress.c - when the commands draw a progress line (core's
 * progress.c draws it): only when stderr is a terminal that understands
 * escape sequences, never with --no-progress, and not when the command
 * writes its rows to stdout on a terminal (the bar would land among them).
 * While a line is up, errors (cli_error) and the library's warnings
 * (lg_log) are written above it instead of across it, and a fatal signal
 * erases it before the process goes. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_progress.h"

/* The one progress line of this process (the CLI runs one command). */
static lg_progress *active;

/* Ctrl-C (or SIGTERM, SIGHUP) while the line is up: erase it, so the
 * shell's prompt starts on a clean line, then hand the signal on to what
 * was there before (outfile.c's removal of a half-written output, or the
 * default: die by it). */
static const int caught[] = {SIGINT, SIGTERM, SIGHUP};
#define N_CAUGHT (sizeof caught / sizeof *caught)
static struct sigaction before[N_CAUGHT];
static int took[N_CAUGHT];

static void on_signal(int sig) {
    static const char erase[] = "\r\033[K";
    ssize_t w = write(STDERR_FILENO, erase, sizeof erase - 1); /* async-signal-safe */
    (void)w;
    for (size_t i = 0; i < N_CAUGHT; i++)
        if (caught[i] == sig) sigaction(sig, &before[i], NULL);
    raise(sig); /* delivered to the handler restored above once this returns */
}

static void take_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < N_CAUGHT; i++) {
        took[i] = 0;
        if (sigaction(caught[i], NULL, &before[i]) != 0) continue;
        if (before[i].sa_handler == SIG_IGN) continue; /* nohup, a background job */
        took[i] = sigaction(caught[i], &sa, NULL) == 0;
    }
}

static void give_signals_back(void) {
    for (size_t i = 0; i < N_CAUGHT; i++)
        if (took[i]) sigaction(caught[i], &before[i], NULL);
}

static void log_above(lg_log_level level, const char *msg, void *user) {
    static const char *names[] = {"debug", "info", "warning", "error"};
    if (level < LG_LOG_WARN) return; /* the default sink's threshold */
    lg_progress_printf(user, "logify: %s: %s\n", names[level], msg);
}

lg_progress *cli_progress_start(const char *what, int no_progress, int writes_stdout) {
    if (no_progress || active || !isatty(STDERR_FILENO)) return NULL;
    const char *term = getenv("TERM");
    if (term && !strcmp(term, "dumb")) return NULL;
    if (writes_stdout && isatty(STDOUT_FILENO)) return NULL;
    lg_progress_opts o = {.fd = STDERR_FILENO, .what = what};
    lg_progress *p = NULL;
    if (lg_progress_new(&o, &p, NULL)) return NULL; /* no thread: no bar, the run goes on */
    fflush(stderr);
    active = p;
    lg_log_set_sink(log_above, p);
    take_signals();
    return p;
}

void cli_progress_end(lg_progress *p) {
    if (!p) return;
    if (p == active) give_signals_back();
    lg_progress_free(p);
    if (p == active) {
        active = NULL;
        lg_log_set_sink(NULL, NULL);
    }
}

lg_progress *cli_progress_active(void) {
    return active;
}

uint64_t cli_path_size(const char *path) {
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return 0;
    return (uint64_t)st.st_size;
}

uint64_t cli_file_size(FILE *f) {
    struct stat st;
    if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) return 0;
    return (uint64_t)st.st_size;
}

void cli_note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (active) {
        char msg[1024];
        vsnprintf(msg, sizeof msg, fmt, ap);
        lg_progress_printf(active, "%s", msg);
    } else {
        vfprintf(stderr, fmt, ap);
    }
    va_end(ap);
}
