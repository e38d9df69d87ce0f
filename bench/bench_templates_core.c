/* bench_templates_core.c - the template miner alone (lg_tpl_add on lines
 * already in memory, like drain3_speed.py's loop): lines/s of wall clock
 * and of CPU time on one thread. Used by bench/bench_templates.sh.
 *   bench_templates_core FILE    (one message per line) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logify/templates.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char *text;
    size_t len;
    lg_errmsg err;
    if (lg_read_file(argv[1], (size_t)4 << 30, &text, &len, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    lg_tpl_miner *m;
    if (lg_tpl_miner_new(NULL, &m, &err)) return 1;
    size_t lines = 0;
    double w0 = lg_now(), c0 = cpu_now();
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lg_tpl_result r;
        if (lg_tpl_add(m, p, n, &r, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        lines++;
        p += n + 1;
    }
    double w = lg_now() - w0, c = cpu_now() - c0;
    printf("lines=%zu templates=%zu wall_s=%.3f cpu_s=%.3f lines_per_s=%.0f cpu_lines_per_s=%.0f\n", lines,
           lg_tpl_count(m), w, c, (double)lines / w, (double)lines / c);
    lg_tpl_miner_free(m);
    free(text);
    return 0;
}
