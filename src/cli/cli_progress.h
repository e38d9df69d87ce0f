/* cli_progress.h - the progress line of the commands' long runs
 * (cli_progress.c; core's progress.c draws it). Its own header, so that
 * cli_progress.c depends on nothing of cli.c (cli.c's error printing uses
 * it). */
#ifndef LOGIFY_CLI_PROGRESS_H
#define LOGIFY_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "logify/progress.h"

/* The progress line of a long run (cli_progress.c): NULL (draw nothing)
 * with no_progress, when stderr is not a terminal or TERM=dumb, or when
 * writes_stdout and stdout is a terminal. While it is up, cli_error and
 * the library's warnings print above it. End with cli_progress_end (which
 * draws the last state and erases the line); NULL is fine for both. */
lg_progress *cli_progress_start(const char *what, int no_progress, int writes_stdout);
void cli_progress_end(lg_progress *p);
lg_progress *cli_progress_active(void);
/* fprintf(stderr, ...), above the progress line when one is up. */
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The size of a regular file (for the percentage), else 0. */
uint64_t cli_file_size(FILE *f);
uint64_t cli_path_size(const char *path);

#endif
