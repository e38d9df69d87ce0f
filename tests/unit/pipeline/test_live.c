/* test_live.c - live reload (live.h): the pipeline set's summary, the
 * reference counts across a swap, a refused set keeps the old one, a
 * broken default bundle does not drop the model in use, the recipe re-read
 * from the files, and threads classifying while another
 * reloads 20 times (each batch's labels from one set only). Threaded: in
 * the TSan round (Makefile TSAN_TESTS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logify/live.h"

/* Set A labels ping/pong lines Alpha-*, set B Beta-*. */
static const char *RULES_A = "rules:\n"
                             "  - {id: ping, label: Alpha-1, pattern: 'ping'}\n"
                             "  - {id: pong, label: Alpha-2, pattern: 'pong'}\n";
static const char *RULES_B = "rules:\n"
                             "  - {id: ping, label: Beta-1, pattern: 'ping'}\n"
                             "  - {id: pong, label: Beta-2, pattern: 'pong'}\n"
                             "  - {id: pang, label: Beta-3, pattern: 'pang'}\n";
static const char *RULES_BAD = "rules:\n"
                               "  - {id: ping, label: Broken, pattern: 'ping('}\n";

typedef struct {
    char dir[64];
    char rules[128];
    char config[128];
} files;

static void write_file(const char *path, const char *text) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0); /* a reader sees the old or the new file */
}

static int setup(void **state) {
    files *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/logify-live-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->rules, sizeof f->rules, "%s/rules.yaml", f->dir);
    snprintf(f->config, sizeof f->config, "%s/logify.yaml", f->dir);
    write_file(f->rules, RULES_A);
    /* no model: the default one is not looked for */
    setenv("LOGIFY_MODEL", "/nonexistent/logify-model", 1);
    unsetenv("GROQ_API_KEY");
    unsetenv("LOGIFY_LLM_API_KEY");
    unsetenv("LOGIFY_LLM_BASE_URL");
    *state = f;
    return 0;
}

static int teardown(void **state) {
    files *f = *state;
    unlink(f->rules);
    unlink(f->config);
    rmdir(f->dir);
    free(f);
    return 0;
}

static const char *rules_only[] = {"*=rules"};

static lg_pset_source source(const files *f) {
    lg_pset_source src = {0};
    src.rules_path = f->rules;
    src.routes = rules_only;
    src.n_routes = 1;
    src.threshold = -1;
    return src;
}

/* Runs "ping", "pong", "pang" (source app) through pl with worker w;
 * labels out ("(none)" where a record got none). No cmocka asserts: threads
 * call it too. */
static lg_err run3(const lg_pipeline *pl, lg_worker *w, const char *labels[3], lg_errmsg *err) {
    static const char *msgs[3] = {"ping 1", "pong 2", "pang 3"};
    lg_record recs[3];
    memset(recs, 0, sizeof recs);
    for (int i = 0; i < 3; i++) {
        recs[i].source = "app";
        recs[i].source_len = 3;
        recs[i].message = msgs[i];
        recs[i].message_len = strlen(msgs[i]);
        lg_record_reset(&recs[i]);
    }
    lg_err e = lg_pipeline_run(pl, w, recs, 3, err);
    for (int i = 0; i < 3; i++) labels[i] = recs[i].label && !e ? recs[i].label : "(none)";
    return e;
}

/* Classifies the three lines with a worker of set s (on this thread). */
static void classify3(lg_pset *s, const char *labels[3]) {
    lg_errmsg err;
    lg_worker *w = lg_pset_worker_get(s, &err);
    assert_non_null(w);
    assert_int_equal(run3(lg_pset_pipeline(s), w, labels, &err), LG_OK);
    lg_pset_worker_put(s, w);
}

static int has_label(const lg_pset_info *in, const char *label) {
    for (size_t i = 0; i < in->n_labels; i++)
        if (!strcmp(in->labels[i], label)) return 1;
    return 0;
}

/* ---- One set ------------------------------------------------------------------ */

static void test_info(void **state) {
    files *f = *state;
    lg_pset_source src = source(f);
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    assert_int_equal(lg_live_generation(l), 1);
    lg_pset *s = lg_live_acquire(l);
    const lg_pset_info *in = lg_pset_get_info(s);
    assert_int_equal(in->generation, 1);
    assert_int_equal(in->n_rules, 2);
    assert_string_equal(in->rules_name, f->rules);
    assert_null(in->model_dir);
    assert_string_equal(in->model_checksum, "");
    assert_null(in->llm_model);
    assert_int_equal(in->n_labels, 3); /* sorted: Alpha-1, Alpha-2, Unclassified */
    assert_string_equal(in->labels[0], "Alpha-1");
    assert_string_equal(in->labels[1], "Alpha-2");
    assert_string_equal(in->labels[2], "Unclassified");
    assert_true(in->loaded_at > 1e9);
    const char *got[3];
    classify3(s, got);
    assert_string_equal(got[0], "Alpha-1");
    assert_string_equal(got[1], "Alpha-2");
    assert_string_equal(got[2], "Unclassified");
    lg_buf b;
    lg_buf_init(&b, 1 << 16);
    assert_int_equal(lg_pset_describe_json(s, &b), LG_OK);
    assert_non_null(strstr(lg_buf_cstr(&b), "\"generation\":1,"));
    assert_non_null(strstr(lg_buf_cstr(&b), "\"count\":2},\"model\":null,\"llm\":null,"
                                            "\"labels\":[\"Alpha-1\",\"Alpha-2\",\"Unclassified\"]}"));
    lg_buf_free(&b);
    lg_pset_release(s);
    lg_live_free(l);
}

/* A model bundle given explicitly: its directory and checksum are reported,
 * its labels counted in. */
static void test_info_model(void **state) {
    files *f = *state;
    const char *root = getenv("LOGIFY_ROOT");
    if (!root) skip();
    char model[1024];
    snprintf(model, sizeof model, "%s/models/default", root);
    lg_pset_source src = source(f);
    src.model_dir = model;
    const char *routes[] = {"*=rules,model"};
    src.routes = routes;
    lg_pset *s;
    lg_errmsg err;
    assert_int_equal(lg_pset_load(&src, &s, &err), LG_OK);
    const lg_pset_info *in = lg_pset_get_info(s);
    assert_int_equal(in->generation, 0); /* not in a live slot */
    assert_string_equal(in->model_dir, model);
    assert_int_equal(strlen(in->model_checksum), 16);
    assert_true(has_label(in, "Security Alert")); /* a model label */
    assert_true(has_label(in, "Alpha-1"));
    assert_int_equal(lg_pset_refs(s), 1);
    lg_pset_release(s);
    /* a bundle that is not there: refused */
    src.model_dir = "/nonexistent/model";
    assert_int_not_equal(lg_pset_load(&src, &s, &err), LG_OK);
    assert_null(s);
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* The default bundle ($LOGIFY_MODEL, optional at start) broken between two
 * reloads: the set in use keeps its model instead of losing it. */
static void test_model_not_dropped(void **state) {
    files *f = *state;
    const char *root = getenv("LOGIFY_ROOT");
    if (!root) skip();
    static const char *parts[] = {"meta.json", "weights.bin", "centroids.bin"};
    char model[128], from[1024], to[256];
    snprintf(model, sizeof model, "%s/model", f->dir);
    assert_int_equal(mkdir(model, 0700), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/models/default/%s", root, parts[i]);
        snprintf(to, sizeof to, "%s/%s", model, parts[i]);
        copy_file(from, to);
    }
    setenv("LOGIFY_MODEL", model, 1);
    lg_pset_source src = source(f);
    const char *routes[] = {"*=rules,model"};
    src.routes = routes;
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    lg_pset *s = lg_live_acquire(l);
    char sum[17];
    snprintf(sum, sizeof sum, "%s", lg_pset_get_info(s)->model_checksum);
    assert_string_equal(lg_pset_get_info(s)->model_dir, model);
    lg_pset_release(s);
    snprintf(to, sizeof to, "%s/meta.json", model);
    write_file(to, "{\"format\": ");
    assert_int_equal(lg_live_reload(l, NULL, &err), LG_EMODEL);
    assert_non_null(strstr(err.msg, "the set in use has a model"));
    assert_int_equal(lg_live_generation(l), 1);
    snprintf(from, sizeof from, "%s/models/default/meta.json", root);
    copy_file(from, to);
    assert_int_equal(lg_live_reload(l, &s, &err), LG_OK);
    assert_string_equal(lg_pset_get_info(s)->model_checksum, sum); /* the same bundle */
    lg_pset_release(s);
    lg_live_free(l);
    for (int i = 0; i < 3; i++) {
        snprintf(to, sizeof to, "%s/%s", model, parts[i]);
        unlink(to);
    }
    rmdir(model);
    setenv("LOGIFY_MODEL", "/nonexistent/logify-model", 1);
}

/* ---- Swapping ------------------------------------------------------------------- */

static void test_swap_refcounts(void **state) {
    files *f = *state;
    lg_pset_source src = source(f);
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    lg_pset *a = lg_live_acquire(l);
    assert_int_equal(lg_pset_refs(a), 2); /* the live's and ours */
    write_file(f->rules, RULES_B);
    lg_pset *b;
    assert_int_equal(lg_live_reload(l, &b, &err), LG_OK);
    assert_ptr_not_equal(a, b);
    assert_int_equal(lg_live_generation(l), 2);
    assert_int_equal(lg_pset_get_info(b)->generation, 2);
    assert_int_equal(lg_pset_refs(a), 1); /* only ours: the live dropped it */
    assert_int_equal(lg_pset_refs(b), 2);
    lg_pset *cur = lg_live_acquire(l);
    assert_ptr_equal(cur, b);
    assert_int_equal(lg_pset_refs(b), 3);
    lg_pset_release(cur);
    /* in flight on the old set: still the old answers */
    const char *got[3];
    classify3(a, got);
    assert_string_equal(got[0], "Alpha-1");
    assert_string_equal(got[2], "Unclassified");
    classify3(b, got);
    assert_string_equal(got[0], "Beta-1");
    assert_string_equal(got[2], "Beta-3");
    lg_pset_release(a); /* the last reference: freed (ASan checks nothing leaks) */
    lg_pset_release(b);
    assert_int_equal(lg_pset_refs(b), 1);
    lg_live_stats st;
    lg_live_get_stats(l, &st);
    assert_int_equal(st.reloads, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.generation, 2);
    assert_true(st.last_failure_at == 0);
    lg_live_free(l);
}

static void test_refused_keeps_old(void **state) {
    files *f = *state;
    lg_pset_source src = source(f);
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    lg_pset *before = lg_live_acquire(l);
    write_file(f->rules, RULES_BAD);
    lg_pset *loaded = (lg_pset *)1;
    assert_int_equal(lg_live_reload(l, &loaded, &err), LG_ECOMPILE);
    assert_null(loaded);
    assert_non_null(strstr(err.msg, "ping")); /* names the rule */
    assert_int_equal(lg_live_generation(l), 1);
    lg_pset *after = lg_live_acquire(l);
    assert_ptr_equal(before, after);
    const char *got[3];
    classify3(after, got);
    assert_string_equal(got[0], "Alpha-1");
    lg_pset_release(after);
    /* a missing file, a config file that does not parse: refused too */
    unlink(f->rules);
    assert_int_not_equal(lg_live_reload(l, NULL, &err), LG_OK);
    lg_live_stats st;
    lg_live_get_stats(l, &st);
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.reloads, 0);
    assert_true(st.last_failure_at > 1e9);
    /* fixed: accepted, generation 2 */
    write_file(f->rules, RULES_B);
    assert_int_equal(lg_live_reload(l, NULL, &err), LG_OK);
    assert_int_equal(lg_live_generation(l), 2);
    assert_int_equal(lg_pset_refs(before), 1);
    lg_pset_release(before);
    lg_live_free(l);
}

/* The recipe is read again: a config file's routes and rules change too,
 * and flags still win over the file. */
static void test_config_reread(void **state) {
    files *f = *state;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "rules: %s\nroutes:\n  - {source: '*', stages: [rules]}\n", f->rules);
    write_file(f->config, cfg);
    lg_pset_source src = {0};
    src.config_path = f->config;
    src.threshold = -1;
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    lg_pset *s = lg_live_acquire(l);
    assert_string_equal(lg_pset_get_info(s)->config_path, f->config);
    const char *got[3];
    classify3(s, got);
    assert_string_equal(got[0], "Alpha-1");
    lg_pset_release(s);
    /* the file now routes app lines nowhere but the (absent) model */
    snprintf(cfg, sizeof cfg, "rules: %s\nroutes:\n  - {source: '*', stages: [model]}\n", f->rules);
    write_file(f->config, cfg);
    assert_int_equal(lg_live_reload(l, &s, &err), LG_OK);
    classify3(s, got);
    assert_string_equal(got[0], "Unclassified");
    lg_pset_release(s);
    /* a config that does not parse: refused, the last one stays */
    write_file(f->config, "routes: [ {source: \n");
    assert_int_not_equal(lg_live_reload(l, NULL, &err), LG_OK);
    assert_int_equal(lg_live_generation(l), 2);
    lg_live_free(l);
}

/* ---- Threads -------------------------------------------------------------------- */

typedef struct {
    lg_live *live;
    int stop;          /* atomic */
    int use_handle;
    uint64_t batches;  /* batches run */
    uint64_t mixed;    /* batches whose labels came from two sets */
    uint64_t foreign;  /* labels not among the set's */
    uint64_t errors;
    uint64_t sets_seen; /* generation changes seen */
} runner;

static void check_batch(runner *r, lg_pset *s, const char *got[3]) {
    const lg_pset_info *in = lg_pset_get_info(s);
    for (int i = 0; i < 3; i++)
        if (!has_label(in, got[i])) r->foreign++;
    int alpha = !strncmp(got[0], "Alpha", 5), beta = !strncmp(got[0], "Beta", 4);
    if (alpha == beta || strncmp(got[1], alpha ? "Alpha" : "Beta", alpha ? 5 : 4)) r->mixed++;
    /* the third line: Unclassified under A, Beta-3 under B */
    if (strcmp(got[2], alpha ? "Unclassified" : "Beta-3")) r->mixed++;
    __atomic_add_fetch(&r->batches, 1, __ATOMIC_RELAXED);
}

static void *run_batches(void *arg) {
    runner *r = arg;
    lg_live_handle h = {0};
    uint64_t last_gen = 0;
    while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        const char *got[3] = {"(none)", "(none)", "(none)"};
        lg_pset *s;
        if (r->use_handle) {
            lg_errmsg err;
            if (lg_live_handle_refresh(r->live, &h, &err)) {
                r->errors++;
                __atomic_add_fetch(&r->batches, 1, __ATOMIC_RELAXED); /* the test fails, not hangs */
                continue;
            }
            s = h.set;
            lg_worker_begin_run(h.worker);
            if (run3(lg_pset_pipeline(s), h.worker, got, &err)) r->errors++;
            check_batch(r, s, got);
        } else {
            s = lg_live_acquire(r->live);
            lg_errmsg err;
            lg_worker *w = lg_pset_worker_get(s, &err);
            if (!w || run3(lg_pset_pipeline(s), w, got, &err)) r->errors++;
            lg_pset_worker_put(s, w);
            check_batch(r, s, got);
        }
        uint64_t gen = lg_pset_get_info(s)->generation;
        if (gen != last_gen) r->sets_seen++;
        last_gen = gen;
        if (!r->use_handle) lg_pset_release(s);
    }
    lg_live_handle_release(&h);
    return NULL;
}

static void test_threads_reload(void **state) {
    files *f = *state;
    lg_pset_source src = source(f);
    lg_live *l;
    lg_errmsg err;
    assert_int_equal(lg_live_new(&src, &l, &err), LG_OK);
    enum { N = 3 };
    runner rs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].live = l;
        rs[i].use_handle = i == 0;
        assert_int_equal(pthread_create(&th[i], NULL, run_batches, &rs[i]), 0);
    }
    int ok = 0, refused = 0;
    for (int k = 1; k <= 20; k++) {
        /* every fifth one is broken: refused, the set in use stays */
        int bad = k % 5 == 0;
        write_file(f->rules, bad ? RULES_BAD : (k % 2 ? RULES_B : RULES_A));
        lg_err e = lg_live_reload(l, NULL, &err);
        if (bad) {
            assert_int_not_equal(e, LG_OK);
            refused++;
        } else {
            assert_int_equal(e, LG_OK);
            ok++;
        }
        /* let every thread finish a batch on this generation before the next
         * reload (an event, not a delay) */
        uint64_t want[N];
        for (int i = 0; i < N; i++) want[i] = __atomic_load_n(&rs[i].batches, __ATOMIC_RELAXED) + 2;
        for (int i = 0; i < N; i++)
            while (__atomic_load_n(&rs[i].batches, __ATOMIC_RELAXED) < want[i]) sched_yield();
    }
    __atomic_store_n(&rs[0].stop, 1, __ATOMIC_RELEASE);
    for (int i = 1; i < N; i++) __atomic_store_n(&rs[i].stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < N; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(rs[i].errors, 0);
        assert_int_equal(rs[i].mixed, 0);
        assert_int_equal(rs[i].foreign, 0);
        assert_true(rs[i].batches >= 40);
        assert_true(rs[i].sets_seen >= 2); /* it did move to newer sets */
    }
    lg_live_stats st;
    lg_live_get_stats(l, &st);
    assert_int_equal(st.reloads, (uint64_t)ok);
    assert_int_equal(st.failed, (uint64_t)refused);
    assert_int_equal(st.generation, 1 + (uint64_t)ok);
    /* the last valid one (k = 19: B) is in use, and only the live holds it */
    lg_pset *s = lg_live_acquire(l);
    const char *got[3];
    classify3(s, got);
    assert_string_equal(got[2], "Beta-3");
    assert_int_equal(lg_pset_refs(s), 2);
    lg_pset_release(s);
    lg_live_free(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_model_not_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_refcounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_keeps_old, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_reread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_reload, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
