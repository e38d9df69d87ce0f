/* test_llm_cache.c - the LLM stage's template cache on its own: a bounded
 * LRU (filling it beyond its cap keeps the most recent entries, a hit
 * makes an entry recent again, replacing a label does not grow it), the
 * JSON-lines file (written oldest first, read back in the same recency
 * order, a file longer than the cache keeps its most recent lines, the
 * format of earlier versions still loads, nothing is rewritten when nothing
 * changed), and several threads using one cache at once with saves going
 * on (every answer right, the cap held). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "llm/llm_int.h"
#include "tmpdir.h"


static int setup(void **state) {
    (void)state;
    return tmpdir_enter("test_llm_cache");
}

static int teardown(void **state) {
    (void)state;
    return tmpdir_leave();
}

/* Template and label of key k. */
static void tmpl_of(int k, char *buf, size_t cap) {
    snprintf(buf, cap, "Lead conversion failed for prospect pattern %d", k);
}
static const char *label_of(int k) {
    static const char *const labels[] = {"Workflow Error", "Deprecation Warning", "Security Alert"};
    return labels[k % 3];
}

static void put(llm_cache *c, int k) {
    char t[96];
    tmpl_of(k, t, sizeof t);
    llm_cache_put(c, "m", "ls", t, label_of(k));
}

/* 1 when k is cached (with its right label; a wrong one fails the test). */
static int has(llm_cache *c, int k) {
    char t[96], label[64];
    tmpl_of(k, t, sizeof t);
    if (!llm_cache_get(c, "m", "ls", t, label, sizeof label)) return 0;
    assert_string_equal(label, label_of(k));
    return 1;
}

static size_t count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    int ch;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* ---- Bounded, least recently used out first ------------------------------------ */

static void test_lru_basic(void **state) {
    (void)state;
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new(NULL, 4, &c, &err), LG_OK);
    for (int k = 0; k < 4; k++)
        put(c, k);
    assert_int_equal(llm_cache_count(c), 4);
    assert_true(has(c, 0)); /* 0 is now the most recent; 1 the least */
    put(c, 4);
    assert_int_equal(llm_cache_count(c), 4);
    assert_int_equal(llm_cache_evictions(c), 1);
    assert_false(has(c, 1));
    assert_true(has(c, 0));
    assert_true(has(c, 2));
    assert_true(has(c, 3));
    assert_true(has(c, 4));
    /* replacing a label refreshes the entry and does not grow the cache */
    char t[96], label[64];
    tmpl_of(2, t, sizeof t);
    llm_cache_put(c, "m", "ls", t, "Critical Error");
    assert_int_equal(llm_cache_count(c), 4);
    assert_true(llm_cache_get(c, "m", "ls", t, label, sizeof label));
    assert_string_equal(label, "Critical Error");
    /* the key is the whole triple */
    assert_false(llm_cache_get(c, "other-model", "ls", t, label, sizeof label));
    assert_false(llm_cache_get(c, "m", "other-set", t, label, sizeof label));
    llm_cache_free(c);
    llm_cache_free(NULL);
}

static void test_fill_beyond_cap(void **state) {
    (void)state;
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new(NULL, 1000, &c, &err), LG_OK);
    for (int k = 0; k < 5000; k++)
        put(c, k);
    assert_int_equal(llm_cache_count(c), 1000);
    assert_int_equal(llm_cache_evictions(c), 4000);
    int old = 0, recent = 0;
    for (int k = 0; k < 4000; k++)
        old += has(c, k);
    for (int k = 4000; k < 5000; k++)
        recent += has(c, k);
    assert_int_equal(old, 0);
    assert_int_equal(recent, 1000);
    llm_cache_free(c);
}

static void test_hits_refresh(void **state) {
    (void)state;
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new(NULL, 100, &c, &err), LG_OK);
    for (int k = 0; k < 100; k++)
        put(c, k);
    for (int k = 0; k < 10; k++) /* the first ten are used again */
        assert_true(has(c, k));
    for (int k = 100; k < 190; k++) /* 90 new ones push out 90 old */
        put(c, k);
    int hot = 0, cold = 0, fresh = 0;
    for (int k = 0; k < 10; k++)
        hot += has(c, k);
    for (int k = 10; k < 100; k++)
        cold += has(c, k);
    for (int k = 100; k < 190; k++)
        fresh += has(c, k);
    assert_int_equal(hot, 10);
    assert_int_equal(cold, 0);
    assert_int_equal(fresh, 90);
    llm_cache_free(c);
}

/* ---- The file --------------------------------------------------------------------- */

static void test_file_round_trip(void **state) {
    (void)state;
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new("cache.jsonl", 10, &c, &err), LG_OK);
    assert_int_equal(llm_cache_save(c, &err), LG_OK); /* nothing yet: no file */
    assert_int_not_equal(access("cache.jsonl", F_OK), 0);
    for (int k = 0; k < 15; k++) /* 0..4 evicted */
        put(c, k);
    assert_true(has(c, 5)); /* recency now 6..14, 5 */
    assert_int_equal(llm_cache_save(c, &err), LG_OK);
    llm_cache_free(c);
    assert_int_equal(count_lines("cache.jsonl"), 10);

    /* lines are oldest first: 6 first, 5 last */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(lg_read_file("cache.jsonl", 1 << 20, &text, &len, &err), LG_OK);
    assert_non_null(strstr(text, "pattern 6\""));
    assert_true(strstr(text, "pattern 6\"") < strstr(text, "pattern 14\""));
    assert_true(strstr(text, "pattern 14\"") < strstr(text, "pattern 5\""));
    assert_null(strstr(text, "pattern 4\""));
    free(text);

    /* read back: same entries, same recency (6 is the next to go) */
    assert_int_equal(llm_cache_new("cache.jsonl", 10, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), 10);
    put(c, 100);
    assert_int_equal(llm_cache_evictions(c), 1);
    assert_false(has(c, 6));
    for (int k = 7; k < 15; k++)
        assert_true(has(c, k));
    assert_true(has(c, 5));
    assert_true(has(c, 100));
    llm_cache_free(c); /* not saved: the file keeps the ten above */

    /* a smaller cache keeps the file's most recent lines: 13, 14, 5 */
    assert_int_equal(llm_cache_new("cache.jsonl", 3, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), 3);
    assert_int_equal(llm_cache_evictions(c), 0); /* this process has evicted nothing */
    assert_true(has(c, 13));
    assert_true(has(c, 14));
    assert_true(has(c, 5));
    assert_false(has(c, 12));
    llm_cache_free(c);

    /* nothing changed: the file is not rewritten (a replaced file would be back) */
    assert_int_equal(llm_cache_new("cache.jsonl", 10, &c, &err), LG_OK);
    assert_int_equal(unlink("cache.jsonl"), 0);
    assert_int_equal(llm_cache_save(c, &err), LG_OK);
    assert_int_not_equal(access("cache.jsonl", F_OK), 0);
    /* a hit changes the recency order, which is saved */
    assert_true(has(c, 7));
    assert_int_equal(llm_cache_save(c, &err), LG_OK);
    assert_int_equal(count_lines("cache.jsonl"), 10);
    llm_cache_free(c);
}

static void test_old_file(void **state) {
    (void)state;
    /* as earlier versions wrote it (spaced JSON), with a broken line */
    FILE *f = fopen("old.jsonl", "w");
    assert_non_null(f);
    fputs("{\"model\": \"m\", \"labelset\": \"ls\", \"template\": \"Lead conversion failed for "
          "prospect pattern 1\", \"label\": \"Deprecation Warning\"}\n"
          "not json\n"
          "{\"model\": \"m\", \"labelset\": \"ls\", \"template\": \"Lead conversion failed for "
          "prospect pattern 3\", \"label\": \"Workflow Error\"}\n",
          f);
    fclose(f);
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new("old.jsonl", 10, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), 2);
    assert_true(has(c, 1));
    assert_true(has(c, 3));
    llm_cache_free(c);
}

/* Lines that are not entries are skipped (and the rest kept), a key
 * given twice keeps its later label, a cache of size 0 keeps nothing, a
 * file that cannot be read is an error naming it, and a save that fails
 * keeps the entries to be saved by the next one. */
static void test_file_errors(void **state) {
    (void)state;
    char big[9000]; /* past CACHE_MAX_FIELD (8192) */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    FILE *f = fopen("mixed.jsonl", "w");
    assert_non_null(f);
    fprintf(f, "[1, 2]\n\n{\"model\":\"m\",\"labelset\":\"ls\",\"template\":\"t\"}\n"
               "{\"model\":\"m\",\"labelset\":\"ls\",\"template\":\"t\",\"label\":\"\"}\n"
               "{\"model\":\"m\",\"labelset\":\"ls\",\"template\":\"%s\",\"label\":\"L\"}\n"
               "{\"model\":\"m\",\"labelset\":\"ls\",\"template\":\"Lead conversion failed for prospect "
               "pattern 2\",\"label\":\"Workflow Error\"}\n"
               "{\"model\":\"m\",\"labelset\":\"ls\",\"template\":\"Lead conversion failed for prospect "
               "pattern 2\",\"label\":\"Security Alert\"}",
            big);
    fclose(f);
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new("mixed.jsonl", 10, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), 1);
    assert_true(has(c, 2)); /* label_of(2) is the later line's */
    llm_cache_free(c);

    assert_int_equal(llm_cache_new("mixed.jsonl", 0, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), 0);
    put(c, 1);
    assert_int_equal(llm_cache_count(c), 0);
    assert_false(has(c, 1));
    llm_cache_free(c);

    assert_int_equal(mkdir("adir", 0700), 0);
    assert_int_not_equal(llm_cache_new("adir", 10, &c, &err), LG_OK);
    assert_null(c);
    assert_non_null(strstr(err.msg, "adir"));

    assert_int_equal(mkdir("gone", 0700), 0);
    assert_int_equal(llm_cache_new("gone/c.jsonl", 10, &c, &err), LG_OK);
    put(c, 4);
    assert_int_equal(rmdir("gone"), 0);
    assert_int_equal(llm_cache_save(c, &err), LG_EIO);
    assert_string_equal(err.msg, "llm cache gone/c.jsonl: cannot write a temporary file");
    assert_int_equal(mkdir("gone", 0700), 0);
    assert_int_equal(llm_cache_save(c, &err), LG_OK); /* still to be saved */
    assert_int_equal(count_lines("gone/c.jsonl"), 1);
    llm_cache_free(c);
    assert_int_equal(unlink("gone/c.jsonl"), 0);
    assert_int_equal(rmdir("gone"), 0);
    assert_int_equal(rmdir("adir"), 0);
}

/* ---- Threads ---------------------------------------------------------------------- */

#define T_THREADS 4
#define T_OPS 100000
#define T_KEYS 1024
#define T_CAP 256

typedef struct {
    llm_cache *c;
    unsigned seed;
    int wrong; /* lookups that returned another key's label */
    int hits;
} thread_arg;

static void *hammer(void *p) {
    thread_arg *a = p;
    char t[96], label[64];
    for (int i = 0; i < T_OPS; i++) {
        a->seed = a->seed * 1103515245u + 12345u;
        int k = (int)((a->seed >> 8) % T_KEYS);
        tmpl_of(k, t, sizeof t);
        if (llm_cache_get(a->c, "m", "ls", t, label, sizeof label)) {
            a->hits++;
            a->wrong += strcmp(label, label_of(k)) != 0;
        } else {
            llm_cache_put(a->c, "m", "ls", t, label_of(k));
        }
    }
    return NULL;
}

static void *saver(void *p) {
    llm_cache *c = p;
    lg_errmsg err;
    for (int i = 0; i < 20; i++) {
        if (llm_cache_save(c, &err) != LG_OK) return (void *)1;
        usleep(1000);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    llm_cache *c = NULL;
    lg_errmsg err = {{0}};
    assert_int_equal(llm_cache_new("shared.jsonl", T_CAP, &c, &err), LG_OK);
    pthread_t th[T_THREADS], sv;
    thread_arg args[T_THREADS];
    for (int i = 0; i < T_THREADS; i++) {
        args[i] = (thread_arg){c, (unsigned)(i * 7919 + 1), 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &args[i]), 0);
    }
    assert_int_equal(pthread_create(&sv, NULL, saver, c), 0);
    int hits = 0;
    for (int i = 0; i < T_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].wrong, 0);
        hits += args[i].hits;
    }
    void *sv_rc = NULL;
    assert_int_equal(pthread_join(sv, &sv_rc), 0);
    assert_null(sv_rc);
    assert_int_equal(llm_cache_count(c), T_CAP);
    /* 1024 keys through 256 places: many misses, hence evictions, and hits */
    assert_true(llm_cache_evictions(c) > 1000);
    assert_true(hits > 1000);
    assert_int_equal(llm_cache_save(c, &err), LG_OK);
    llm_cache_free(c);
    /* the last save holds exactly the cap, every line well formed */
    assert_int_equal(llm_cache_new("shared.jsonl", T_CAP, &c, &err), LG_OK);
    assert_int_equal(llm_cache_count(c), T_CAP);
    assert_int_equal(count_lines("shared.jsonl"), T_CAP);
    int found = 0;
    for (int k = 0; k < T_KEYS; k++)
        found += has(c, k);
    assert_int_equal(found, T_CAP);
    llm_cache_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lru_basic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fill_beyond_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hits_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
