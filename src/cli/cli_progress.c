/* cli_progress.c - when the commands draw a progress line (core's
 * progress.c draws it): only when stderr is a terminal that understands
 * escape sequences, never with --no-progress, and not when the command
 * writes its rows to stdout on a terminal (the bar would land among them).
 * While a line is up, errors (cli_error) and the library's warnings
 * (lg_log) are written above it instead of across it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_progress.h"

/* The one progress line of this process (the CLI runs one command). */
static lg_progress *active;

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
    return p;
}

void cli_progress_end(lg_progress *p) {
    if (!p) return;
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
