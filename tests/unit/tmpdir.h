/* tmpdir.h - for unit tests that write files: a scratch directory made and
 * entered by a group's setup, left and removed by its teardown. Include it
 * once per test file (the helpers are static). */
#ifndef LOGIFY_TEST_TMPDIR_H
#define LOGIFY_TEST_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char test_tmpdir[256];

/* Makes /tmp/<prefix>.XXXXXX and enters it; 0 or -1 (a cmocka setup's
 * return value). */
static int tmpdir_enter(const char *prefix) {
    snprintf(test_tmpdir, sizeof test_tmpdir, "/tmp/%s.XXXXXX", prefix);
    if (!mkdtemp(test_tmpdir)) return -1;
    return chdir(test_tmpdir);
}

/* Leaves it for / and removes it with everything in it. */
static int tmpdir_leave(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_tmpdir);
    if (chdir("/") != 0) return -1;
    return system(cmd) == 0 ? 0 : -1;
}

/* The whole file at path, NUL-terminated (*len bytes before the NUL), or
 * NULL; free() it. */
static inline char *read_whole(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *d = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (d = malloc((size_t)n + 1)) &&
        fread(d, 1, (size_t)n, f) == (size_t)n) {
        d[n] = '\0';
        *len = (size_t)n;
    } else {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

/* Writes len bytes to path (replacing it): 0, or -1. */
static inline int write_whole(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(data, 1, len, f) != len;
    return fclose(f) != 0 || bad ? -1 : 0;
}

#endif
