/* cli_signals.h - SIGINT, SIGTERM and SIGHUP through a self-pipe, for the
 * commands that run until stopped (serve, kafka). One set per process. */
#ifndef LOGIFY_CLI_SIGNALS_H
#define LOGIFY_CLI_SIGNALS_H

/* Routes the three signals into the pipe (SIGINT and SIGTERM stay ignored
 * when the caller ignores them). 0, or -1 with errno when no pipe. */
int cli_signals_open(void);
/* Back to the default actions; closes the pipe. Safe when not open. */
void cli_signals_close(void);
/* Waits for signals and takes every one that has come: SIGINT or SIGTERM
 * when one of them is among them, else SIGHUP (repeats sent during a
 * reload make one more reload, not one each); 0 after cli_signals_wake. */
int cli_signals_next(void);
/* From another thread: makes cli_signals_next return 0. */
void cli_signals_wake(void);

#endif
