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

#endif
