/* cli_signals.c - SIGINT, SIGTERM and SIGHUP through a self-pipe for the
 * long-running commands (`logify serve`, `logify kafka`).
 *
 * Not sigwait: threads we do not start (OpenBLAS makes its pool when it
 * loads) do not block signals, so a signal sent while the main thread is
 * busy (a reload, a drain) could go to one of them and kill the process by
 * its default action. The handler, which may run on any thread, only
 * writes the signal's number into a pipe; the main thread reads the pipe
 * in cli_signals_next. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_signals.h"

static int sig_pipe[2] = {-1, -1};
static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(sig_pipe[1], &b, 1); /* async-signal-safe; a full pipe drops a repeat */
    (void)r;
    errno = saved;
}

/* Installs `handler` for the three signals; SIGINT and SIGTERM keep SIG_IGN
 * when the caller ignores them (a background job of a shell). */
static void install(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old;
        if (sigs[i] != SIGHUP && sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int cli_signals_open(void) {
    if (sig_pipe[0] >= 0) return 0;
    if (pipe(sig_pipe)) return -1;
    /* the handler never blocks (a full pipe loses a repeat, no more); the
     * reader waits in poll */
    for (int i = 0; i < 2; i++) {
        fcntl(sig_pipe[i], F_SETFD, FD_CLOEXEC);
        fcntl(sig_pipe[i], F_SETFL, fcntl(sig_pipe[i], F_GETFL) | O_NONBLOCK);
    }
    install(on_signal);
    return 0;
}

void cli_signals_close(void) {
    if (sig_pipe[0] < 0) return;
    install(SIG_DFL);
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
}

void cli_signals_wake(void) {
    unsigned char done = 0;
    while (write(sig_pipe[1], &done, 1) < 0 && errno == EAGAIN) poll(NULL, 0, 10); /* full: wait */
}

/* Waits in poll, which a signal always interrupts (SA_RESTART or not):
 * under ThreadSanitizer, whose handler only notes the signal and runs ours
 * when an intercepted call returns, a restarted read would sleep on with
 * the byte never written. */
int cli_signals_next(void) {
    for (;;) {
        struct pollfd p = {.fd = sig_pipe[0], .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return SIGTERM; /* cannot happen: stop cleanly */
        unsigned char b[256];
        ssize_t r = read(sig_pipe[0], b, sizeof b);
        if (r > 0) {
            int sig = SIGHUP;
            for (ssize_t i = 0; i < r; i++) {
                if (b[i] == 0) return 0; /* cli_signals_wake */
                if (b[i] != SIGHUP && sig == SIGHUP) sig = b[i];
            }
            return sig;
        }
        if (r == 0 || (errno != EINTR && errno != EAGAIN)) return SIGTERM;
    }
}
