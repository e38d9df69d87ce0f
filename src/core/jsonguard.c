/* jsonguard.c - Jansson's allocator, counting the failures of each thread
 * (include/logify/jsonguard.h says why: Jansson 2.14 ignores some). */
#include "logify/jsonguard.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

static __thread unsigned long failed; /* this thread's failed Jansson allocations */

static void *guard_malloc(size_t n) {
    void *p = malloc(n);
    if (!p) failed++;
    return p;
}

/* Before main, before any thread: json_set_alloc_funcs writes two globals
 * that every Jansson call reads. */
__attribute__((constructor)) static void guard_install(void) {
    json_set_alloc_funcs(guard_malloc, free);
}

unsigned long lg_json_alloc_mark(void) { return failed; }

int lg_json_alloc_failed_since(unsigned long mark) { return failed != mark; }

char *lg_json_dumps(const json_t *j, size_t flags) {
    unsigned long mark = failed;
    char *text = j ? json_dumps(j, flags) : NULL;
    if (text && failed != mark) {
        free(text);
        return NULL;
    }
    return text;
}

json_t *lg_json_loadb(const char *text, size_t len, size_t flags, json_error_t *je, int *oom) {
    unsigned long mark = failed;
    errno = 0; /* with another allocator than ours (a test's), malloc's ENOMEM tells */
    json_t *root = json_loadb(text, len, flags, je);
    *oom = failed != mark || errno == ENOMEM || (!root && json_error_code(je) == json_error_out_of_memory);
    if (*oom) {
        json_decref(root);
        return NULL;
    }
    return root;
}
