/* test_bert.c - the Sentence-BERT engine against independent references.
 *
 * tests/fixtures/bert/<model>/ are random BERT models in the exact
 * sentence-transformers layout, written by scripts/gen_bert_fixtures.py
 * together with reference.json: token ids and embeddings computed by a
 * separate PyTorch implementation (float64, Hugging Face BertModel +
 * sentence-transformers Pooling). Every vector must reach cosine >= 0.99999
 * and max |diff| <= 1e-4, for several batch sizes and thread counts (texts
 * include padding, truncation, unicode and empty input). Then: model
 * directories with a missing or inconsistent file fail with a message
 * naming the file and the field. Threads: 1, 2 and 3 threads (split within a
 * batch or across batches) give bit-identical vectors, and 4 threads
 * encoding at once on one model give the vectors of sequential runs. */
#include <cblas.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bert/sbert_internal.h"
#include "logify/sbert.h"

static char fixtures[1024];

static void check_fixture(const char *name) {
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/%s", fixtures, name);
    snprintf(path, sizeof path, "%s/reference.json", dir);
    json_error_t je;
    json_t *ref = json_load_file(path, 0, &je);
    assert_non_null(ref);
    json_t *texts = json_object_get(ref, "texts"), *ids = json_object_get(ref, "ids"),
           *emb = json_object_get(ref, "embeddings");
    size_t n = json_array_size(texts);
    assert_true(n > 0);
    lg_sbert *m = NULL;
    lg_errmsg err;
    if (lg_sbert_load(dir, &m, &err)) fail_msg("%s", err.msg);
    int dim = lg_sbert_dim(m);
    const char **tx = malloc(n * sizeof *tx);
    size_t *lens = malloc(n * sizeof *lens);
    float *out = malloc(n * (size_t)dim * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(texts, i);
        tx[i] = json_string_value(t);
        lens[i] = json_string_length(t);
        /* ids exactly as the reference tokenizer produced them */
        int32_t got[600];
        size_t k;
        assert_int_equal(lg_sbert_tokenize(m, tx[i], lens[i], got, 600, &k, &err), LG_OK);
        json_t *want = json_array_get(ids, i);
        assert_int_equal(k, json_array_size(want));
        for (size_t j = 0; j < k; j++)
            assert_int_equal(got[j], (int32_t)json_integer_value(json_array_get(want, j)));
    }
    static const int cfg[][2] = {{1, 1}, {3, 1}, {32, 1}, {2, 2}, {32, 2}};
    lg_sbert_scratch *s = NULL;
    assert_int_equal(lg_sbert_scratch_new(m, &s, &err), LG_OK);
    double worst_cos = 1, worst_diff = 0;
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        lg_sbert_scratch_set(s, cfg[c][0], cfg[c][1]);
        memset(out, 0, n * (size_t)dim * sizeof *out);
        if (lg_sbert_encode(m, s, tx, lens, n, out, &err)) fail_msg("%s", err.msg);
        for (size_t i = 0; i < n; i++) {
            json_t *row = json_array_get(emb, i);
            assert_int_equal(json_array_size(row), dim);
            double dot = 0, na = 0, nb = 0, md = 0;
            for (int d = 0; d < dim; d++) {
                double a = out[i * (size_t)dim + (size_t)d],
                       b = json_number_value(json_array_get(row, (size_t)d));
                dot += a * b;
                na += a * a;
                nb += b * b;
                if (fabs(a - b) > md) md = fabs(a - b);
            }
            double cs = dot / sqrt(na * nb);
            if (cs < worst_cos) worst_cos = cs;
            if (md > worst_diff) worst_diff = md;
            if (!(cs >= 0.99999 && md <= 1e-4))
                fail_msg("%s text %zu (batch %d, threads %d): cosine %.9f, max diff %.3g", name, i,
                         cfg[c][0], cfg[c][1], cs, md);
        }
    }
    lg_sbert_info info;
    lg_sbert_info_get(m, &info);
    printf("%s (%s): %zu texts x %zu configurations: min cosine %.9f, max abs diff %.3g\n", name,
           info.gemm, n, sizeof cfg / sizeof *cfg, worst_cos, worst_diff);
    lg_sbert_scratch_free(s);
    lg_sbert_free(m);
    free(tx);
    free(lens);
    free(out);
    json_decref(ref);
}

/* The ISA paths this CPU runs (LOGIFY_ISA): generic always, avx2 and
 * avx512 on x86-64 CPUs that have them. */
static const char *const isas[] = {"avx512", "avx2", "generic"};
#define N_ISAS (sizeof isas / sizeof *isas)

static int isa_runs(const char *isa) {
    lg_isa x;
    return lg_isa_parse(isa, &x, NULL) == LG_OK;
}

/* the next model loads use ISA path `isa` (NULL: the CPU's best) and
 * projection kernel `gemm` ("packed" or "openblas"; NULL: chosen at load) */
static void use_path(const char *isa, const char *gemm) {
    if (isa)
        setenv("LOGIFY_ISA", isa, 1);
    else
        unsetenv("LOGIFY_ISA");
    if (gemm)
        setenv("LOGIFY_SBERT_GEMM", gemm, 1);
    else
        unsetenv("LOGIFY_SBERT_GEMM");
}

/* each fixture on OpenBLAS and on the packed kernel of every ISA path the
 * CPU runs */
static void check_both(const char *name) {
    use_path(NULL, "openblas");
    check_fixture(name);
    for (size_t i = 0; i < N_ISAS; i++)
        if (isa_runs(isas[i])) {
            use_path(isas[i], "packed");
            check_fixture(name);
        }
    use_path(NULL, NULL);
}

static void test_tiny_mean(void **state) {
    (void)state;
    check_both("tiny_mean");
}
static void test_tiny_cls(void **state) {
    (void)state;
    check_both("tiny_cls");
}
static void test_tiny_f16(void **state) {
    (void)state;
    check_both("tiny_f16");
}
static void test_tiny_bf16(void **state) {
    (void)state;
    check_both("tiny_bf16");
}

static void test_info_and_truncation(void **state) {
    (void)state;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tiny_cls", fixtures);
    lg_sbert *m = NULL;
    assert_int_equal(lg_sbert_load(dir, &m, NULL), LG_OK);
    lg_sbert_info i;
    lg_sbert_info_get(m, &i);
    assert_int_equal(i.hidden, 32);
    assert_int_equal(i.layers, 2);
    assert_int_equal(i.heads, 4);
    assert_int_equal(i.pooling, LG_SBERT_POOL_CLS);
    assert_int_equal(i.normalize, 0);
    assert_int_equal(i.max_seq_length, 24);
    assert_string_equal(i.dtype, "F32");
    int32_t ids[64];
    size_t k;
    const char *t = "a b c d e f g h i j k l m n o p q r s t u v w x y z";
    assert_int_equal(lg_sbert_tokenize(m, t, strlen(t), ids, 64, &k, NULL), LG_OK);
    assert_int_equal(k, 24); /* truncated, never rejected */
    assert_int_equal(ids[0], 101);
    assert_int_equal(ids[23], 102);
    assert_int_equal(lg_sbert_tokenize(m, "", 0, ids, 64, &k, NULL), LG_OK);
    assert_int_equal(k, 2);
    lg_sbert_free(m);
}

/* ---- Threads --------------------------------------------------------------- */

typedef struct {
    lg_sbert *m;
    size_t n;
    const char **tx;
    size_t *lens;
    int dim;
} fixture;

static void fixture_load(fixture *fx, const char *name, json_t **ref) {
    char dir[1200], path[1300];
    snprintf(dir, sizeof dir, "%s/%s", fixtures, name);
    snprintf(path, sizeof path, "%s/reference.json", dir);
    json_error_t je;
    *ref = json_load_file(path, 0, &je);
    assert_non_null(*ref);
    json_t *texts = json_object_get(*ref, "texts");
    fx->n = json_array_size(texts);
    lg_errmsg err;
    if (lg_sbert_load(dir, &fx->m, &err)) fail_msg("%s", err.msg);
    fx->dim = lg_sbert_dim(fx->m);
    fx->tx = malloc(fx->n * sizeof *fx->tx);
    fx->lens = malloc(fx->n * sizeof *fx->lens);
    for (size_t i = 0; i < fx->n; i++) {
        fx->tx[i] = json_string_value(json_array_get(texts, i));
        fx->lens[i] = json_string_length(json_array_get(texts, i));
    }
}

static void fixture_free(fixture *fx, json_t *ref) {
    lg_sbert_free(fx->m);
    free(fx->tx);
    free(fx->lens);
    json_decref(ref);
}

/* texts [j, j + k) with (batch, threads); split_min 0 splits even the
 * tiny fixtures' batches across the threads */
static void encode_range(const fixture *fx, lg_sbert_scratch *s, size_t j, size_t k, int batch,
                         int threads, float *out) {
    lg_errmsg err;
    lg_sbert_scratch_set(s, batch, threads);
    lg_sbert_scratch_split_min(s, 0);
    if (lg_sbert_encode(fx->m, s, fx->tx + j, fx->lens + j, k, out, &err)) fail_msg("%s", err.msg);
}

/* Every run of 1..5 consecutive texts, batch sizes 1..5, 1/2/3 threads
 * (fewer texts than threads: the batch is split by columns and heads; more:
 * batches across threads) against one thread. The packed kernel computes
 * every element the same way whatever the batch: all runs equal the
 * one-thread, batch-1 vectors bit for bit: that is Logify's own guarantee.
 * OpenBLAS (sgemm, or dot products for <= 16 rows) gives none: its result
 * depends on the batch's rows and, when the team splits a product by
 * columns, on how the kernel OpenBLAS picked for this CPU blocks the parts
 * (the Zen kernel differs by ~1e-7 where the Haswell and SkylakeX ones do
 * not), so there each run equals one thread with the same texts and batch
 * size within OPENBLAS_TOL, bit-identical or not. */
#define OPENBLAS_TOL 1e-5
static void check_threads_identical(const char *name, const char *isa, const char *gemm) {
    use_path(isa, gemm);
    json_t *ref;
    fixture fx;
    fixture_load(&fx, name, &ref);
    use_path(NULL, NULL);
    int packed = fx.m->use_packed;
    size_t dim = (size_t)fx.dim, row = dim * sizeof(float);
    lg_sbert_scratch *s1 = NULL, *s = NULL;
    assert_int_equal(lg_sbert_scratch_new(fx.m, &s1, NULL), LG_OK);
    assert_int_equal(lg_sbert_scratch_new(fx.m, &s, NULL), LG_OK);
    float *base = malloc(fx.n * row), *one = malloc(5 * row), *got = malloc(5 * row);
    encode_range(&fx, s1, 0, fx.n, 1, 1, base);
    size_t runs = 0, exact = 0;
    double worst = 0;
    for (int threads = 1; threads <= 3; threads++)
        for (int batch = 1; batch <= 5; batch++)
            for (size_t k = 1; k <= 5; k++)
                for (size_t j = 0; j + k <= fx.n; j += j + k + 3 < fx.n ? 3 : 1) {
                    encode_range(&fx, s, j, k, batch, threads, got);
                    const float *want = base + j * dim;
                    if (!packed) {
                        encode_range(&fx, s1, j, k, batch, 1, one);
                        want = one;
                    }
                    runs++;
                    if (!memcmp(got, want, k * row)) {
                        exact++;
                        continue;
                    }
                    double md = 0;
                    for (size_t i = 0; i < k * dim; i++)
                        md = fmax(md, fabs((double)got[i] - want[i]));
                    worst = fmax(worst, md);
                    if (packed || md > OPENBLAS_TOL)
                        fail_msg("%s (%s): texts %zu..%zu, batch %d, threads %d: not identical "
                                 "to one thread (max diff %.3g)",
                                 name, gemm, j, j + k - 1, batch, threads, md);
                }
    printf("%s (%s): %zu threaded runs, %zu bit-identical to one thread, max diff of the "
           "others %.3g\n",
           name, fx.m->gemm, runs, exact, worst);
    lg_sbert_scratch_free(s1);
    lg_sbert_scratch_free(s);
    free(base);
    free(one);
    free(got);
    fixture_free(&fx, ref);
}

static void test_threads_identical(void **state) {
    (void)state;
    static const char *const names[] = {"tiny_mean", "tiny_cls", "tiny_f16", "tiny_bf16"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        check_threads_identical(names[i], NULL, "openblas");
        for (size_t j = 0; j < N_ISAS; j++)
            if (isa_runs(isas[j])) check_threads_identical(names[i], isas[j], "packed");
    }
    /* OpenBLAS on one thread (as OPENBLAS_NUM_THREADS=1 sets it): large
     * products are then split by columns across the team too (this test
     * program may set the process-wide count; the library never does) */
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    check_threads_identical("tiny_mean", NULL, "openblas");
    check_threads_identical("tiny_f16", NULL, "openblas");
    openblas_set_num_threads(saved);
}

/* 4 threads, each with its own scratch (itself running 2 threads), encode
 * on one model at once; every result must equal the sequential one, bit
 * for bit (the max difference and min cosine are printed per thread). */
#define CONC_THREADS 4
#define CONC_ROUNDS 25

typedef struct {
    const fixture *fx;
    const float *want; /* (CONC_THREADS, n, dim): sequential results per thread's settings */
    int id;
    int mismatches, failures;
    double max_diff, min_cos; /* against the sequential vectors, over all rounds */
} conc_arg;

static void conc_settings(int id, int *batch, int *threads, size_t *k) {
    *batch = 1 + id % 3;   /* 1, 2, 3, 1 */
    *threads = 1 + id % 2; /* 1, 2, 1, 2 */
    *k = id == 3 ? 1 : 0;  /* thread 3: one text at a time (split batch); others: all */
}

static void conc_encode(const fixture *fx, lg_sbert_scratch *s, int id, float *out, int *fails) {
    int batch, threads;
    size_t k;
    conc_settings(id, &batch, &threads, &k);
    lg_sbert_scratch_set(s, batch, threads);
    lg_sbert_scratch_split_min(s, 0);
    size_t dim = (size_t)fx->dim;
    if (k == 0) {
        if (lg_sbert_encode(fx->m, s, fx->tx, fx->lens, fx->n, out, NULL)) (*fails)++;
    } else {
        for (size_t j = 0; j < fx->n; j++)
            if (lg_sbert_encode(fx->m, s, fx->tx + j, fx->lens + j, 1, out + j * dim, NULL))
                (*fails)++;
    }
}

static void *conc_main(void *p) {
    conc_arg *a = p;
    const fixture *fx = a->fx;
    size_t sz = fx->n * (size_t)fx->dim;
    lg_sbert_scratch *s = NULL;
    float *out = malloc(sz * sizeof *out);
    if (!out || lg_sbert_scratch_new(fx->m, &s, NULL)) {
        a->failures++;
        free(out);
        return NULL;
    }
    for (int r = 0; r < CONC_ROUNDS; r++) {
        memset(out, 0, sz * sizeof *out);
        conc_encode(fx, s, a->id, out, &a->failures);
        const float *w = a->want + (size_t)a->id * sz;
        if (memcmp(out, w, sz * sizeof *out)) a->mismatches++;
        for (size_t t = 0; t < fx->n; t++) {
            double dot = 0, na = 0, nb = 0;
            for (size_t d = 0; d < (size_t)fx->dim; d++) {
                double x = out[t * (size_t)fx->dim + d], y = w[t * (size_t)fx->dim + d];
                dot += x * y;
                na += x * x;
                nb += y * y;
                a->max_diff = fmax(a->max_diff, fabs(x - y));
            }
            if (na > 0 && nb > 0) a->min_cos = fmin(a->min_cos, dot / sqrt(na * nb));
        }
    }
    lg_sbert_scratch_free(s);
    free(out);
    return NULL;
}

static void check_concurrent(const char *isa, const char *gemm) {
    use_path(isa, gemm);
    json_t *ref;
    fixture fx;
    fixture_load(&fx, "tiny_mean", &ref);
    use_path(NULL, NULL);
    size_t sz = fx.n * (size_t)fx.dim;
    float *want = calloc(CONC_THREADS * sz, sizeof *want);
    lg_sbert_scratch *s = NULL;
    assert_int_equal(lg_sbert_scratch_new(fx.m, &s, NULL), LG_OK);
    int fails = 0;
    for (int id = 0; id < CONC_THREADS; id++)
        conc_encode(&fx, s, id, want + (size_t)id * sz, &fails);
    lg_sbert_scratch_free(s);
    assert_int_equal(fails, 0);
    pthread_t tid[CONC_THREADS];
    conc_arg args[CONC_THREADS];
    for (int id = 0; id < CONC_THREADS; id++) {
        args[id] = (conc_arg){.fx = &fx, .want = want, .id = id, .min_cos = 1};
        assert_int_equal(pthread_create(&tid[id], NULL, conc_main, &args[id]), 0);
    }
    int mism = 0;
    for (int id = 0; id < CONC_THREADS; id++) {
        pthread_join(tid[id], NULL);
        fails += args[id].failures;
        mism += args[id].mismatches;
        printf("  thread %d: %d of %d rounds differ, max abs diff %.3g, min cosine %.9f\n", id,
               args[id].mismatches, CONC_ROUNDS, args[id].max_diff, args[id].min_cos);
    }
    printf("concurrent (%s): %d threads x %d rounds: %d failures, %d results differing from "
           "sequential runs\n",
           fx.m->gemm, CONC_THREADS, CONC_ROUNDS, fails, mism);
    assert_int_equal(fails, 0);
    assert_int_equal(mism, 0);
    free(want);
    fixture_free(&fx, ref);
}

static void test_concurrent_encodes(void **state) {
    (void)state;
    check_concurrent(NULL, "openblas");
    for (size_t i = 0; i < N_ISAS; i++)
        if (isa_runs(isas[i])) check_concurrent(isas[i], "packed");
    /* OpenBLAS on one thread (OPENBLAS_NUM_THREADS=1, a common setting for
     * servers): the team then splits its products by columns, and a text
     * encoded while another encode runs stays on its caller's thread. Its
     * vectors must still be bit-identical to an idle run: OpenBLAS's
     * kernel depends on the shape of a call (on SkylakeX and Haswell the
     * whole product in one call differs from it cut by the team's columns
     * by up to 1.75e-7 on tiny_mean), so the lone thread cuts its products
     * as the team would (run_batch). Before that fix: 15-25 of 25 rounds of
     * the one-text-at-a-time thread differed, here and in every run. */
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    check_concurrent(NULL, "openblas");
    openblas_set_num_threads(saved);
}

/* ---- ISA paths against each other ------------------------------------------ */

/* Every fixture on every ISA path the CPU runs (packed kernel), all texts
 * at once and one at a time: each path within 1e-5 of the first one (the
 * widest) per element; the packed GEMMs of avx512 and avx2 give the same
 * bits (test_gemm.c asserts it), the element-wise kernels are the same
 * source compiled per ISA, so identical vectors are counted and printed,
 * not asserted. Also: LOGIFY_ISA names the path `model info` reports, and
 * a path the CPU lacks or an unknown name fails the load. */
#define ISA_TOL 1e-5
static void test_isa_paths_agree(void **state) {
    (void)state;
    static const char *const names[] = {"tiny_mean", "tiny_cls", "tiny_f16", "tiny_bf16"};
    for (size_t f = 0; f < sizeof names / sizeof *names; f++) {
        float *first = NULL;
        const char *first_isa = NULL;
        for (size_t i = 0; i < N_ISAS; i++) {
            if (!isa_runs(isas[i])) {
                printf("%s: the %s path: not on this CPU\n", names[f], isas[i]);
                continue;
            }
            use_path(isas[i], NULL);
            json_t *ref;
            fixture fx;
            fixture_load(&fx, names[f], &ref);
            use_path(NULL, NULL);
            lg_sbert_info info;
            lg_sbert_info_get(fx.m, &info);
            assert_string_equal(info.isa, isas[i]);
            char want_gemm[32];
            snprintf(want_gemm, sizeof want_gemm, "packed-%s", isas[i]);
            assert_string_equal(info.gemm, want_gemm);
            size_t sz = fx.n * (size_t)fx.dim;
            float *all = malloc(sz * sizeof *all), *one = malloc(sz * sizeof *one);
            lg_sbert_scratch *s = NULL;
            assert_int_equal(lg_sbert_scratch_new(fx.m, &s, NULL), LG_OK);
            encode_range(&fx, s, 0, fx.n, 32, 1, all);
            for (size_t j = 0; j < fx.n; j++)
                encode_range(&fx, s, j, 1, 1, 2, one + j * (size_t)fx.dim);
            assert_memory_equal(all, one, sz * sizeof *all);
            if (!first) {
                first = all;
                first_isa = isas[i];
                all = NULL;
            } else {
                double md = 0;
                for (size_t e = 0; e < sz; e++)
                    md = fmax(md, fabs((double)all[e] - first[e]));
                printf("%s: %s vs %s: %s, max diff %.3g\n", names[f], isas[i], first_isa,
                       memcmp(all, first, sz * sizeof *all) ? "not bit-identical"
                                                             : "bit-identical",
                       md);
                assert_true(md <= ISA_TOL);
            }
            lg_sbert_scratch_free(s);
            free(all);
            free(one);
            fixture_free(&fx, ref);
        }
        free(first);
    }
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tiny_mean", fixtures);
    lg_sbert *m = NULL;
    lg_errmsg err;
    setenv("LOGIFY_ISA", "sse9", 1);
    assert_int_equal(lg_sbert_load(dir, &m, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "LOGIFY_ISA=sse9"));
    for (size_t i = 0; i < N_ISAS; i++)
        if (!isa_runs(isas[i])) {
            setenv("LOGIFY_ISA", isas[i], 1);
            assert_int_equal(lg_sbert_load(dir, &m, &err), LG_EINVAL);
            assert_non_null(strstr(err.msg, "this CPU cannot run"));
        }
    unsetenv("LOGIFY_ISA");
    assert_null(m);
}

/* ---- Broken model directories --------------------------------------------- */

static char tmp[256];

/* JSET(FILE, STMT): a shell command that loads the JSON file FILE as c,
 * runs the Python statement STMT on it and writes it back. */
#define JSET(file, stmt)                                                                           \
    "python3 -c \"import json; c = json.load(open('" file "')); " stmt "; "                        \
    "json.dump(c, open('" file "', 'w'))\""

/* STEDIT(STMT): a shell command that runs the Python statement STMT on
 * model.safetensors' header h (a dict) and writes the file back with the
 * new header (the tensors' bytes unchanged). */
#define STEDIT(stmt)                                                                               \
    "python3 -c \"import json, struct; b = open('model.safetensors', 'rb').read(); "               \
    "n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8 + n]); " stmt "; "                    \
    "s = json.dumps(h).encode(); s += b' ' * (-len(s) & 7); "                                     \
    "open('model.safetensors', 'wb').write(struct.pack('<Q', len(s)) + s + b[8 + n:])\""

/* Copies fixture `from` to tmp, runs `edit` there and loads it: must load. */
static void edited_loads(const char *from, const char *edit, lg_sbert_info *info) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -rL '%s/%s' '%s' && cd '%s' && %s", tmp, fixtures, from,
             tmp, tmp, edit);
    assert_int_equal(system(cmd), 0);
    lg_sbert *m = NULL;
    lg_errmsg err;
    if (lg_sbert_load(tmp, &m, &err)) fail_msg("edit '%s': %s", edit, err.msg);
    lg_sbert_info_get(m, info);
    lg_sbert_free(m);
}

/* Copies tiny_mean to tmp, runs `edit` (a shell command run in tmp), loads
 * and expects failure with both needles in the message. */
static void broken(const char *edit, lg_err want, const char *needle1, const char *needle2) {
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/tiny_mean' '%s' && cd '%s' && %s", tmp,
             fixtures, tmp, tmp, edit);
    assert_int_equal(system(cmd), 0);
    lg_sbert *m = NULL;
    lg_errmsg err;
    lg_err e = lg_sbert_load(tmp, &m, &err);
    if (e != want || !strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fail_msg("edit '%s': got %d '%s'", edit, (int)e, e ? err.msg : "");
    assert_null(m);
}

static void test_broken_dirs(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/logify_test_bert_%d", (int)getpid());
    broken("rm config.json", LG_ENOTFOUND, "config.json", NULL);
    broken("rm vocab.txt", LG_ENOTFOUND, "vocab.txt", NULL);
    broken("rm modules.json", LG_ENOTFOUND, "modules.json", NULL);
    broken("rm model.safetensors", LG_ENOTFOUND, "model.safetensors", NULL);
    broken("rm 1_Pooling/config.json", LG_ENOTFOUND, "1_Pooling/config.json", NULL);
    broken("sed -i 's/\"hidden_act\": \"gelu\"/\"hidden_act\": \"relu\"/' config.json", LG_EMODEL,
           "config.json", "hidden_act");
    broken("sed -i 's/\"num_attention_heads\": 4/\"num_attention_heads\": 5/' config.json",
           LG_EMODEL, "config.json", "num_attention_heads");
    broken("sed -i '/\"hidden_size\"/d' config.json", LG_EMODEL, "config.json", "hidden_size");
    broken("sed -i 's/\"hidden_size\": 32/\"hidden_size\": 36/' config.json", LG_EMODEL,
           "1_Pooling/config.json", "word_embedding_dimension");
    broken("sed -i 's/\"intermediate_size\": 64/\"intermediate_size\": 65/' config.json", LG_EMODEL,
           "model.safetensors", "shape");
    broken("sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' config.json", LG_EMODEL,
           "model.safetensors", "encoder.layer.2");
    broken("sed -i 's/\"max_seq_length\": 24/\"max_seq_length\": 4000/' sentence_bert_config.json",
           LG_EMODEL, "sentence_bert_config.json", "max_seq_length");
    broken("sed -i 's/\"pooling_mode_cls_token\": false/\"pooling_mode_cls_token\": true/' "
           "1_Pooling/config.json",
           LG_EMODEL, "1_Pooling/config.json", "pooling_mode");
    broken("sed -i 's/Normalize/Dense/' modules.json", LG_EMODEL, "modules.json", "Dense");
    broken("echo '{' > config.json", LG_EMODEL, "config.json", NULL);
    broken("sed -i '/\\[UNK\\]/d' vocab.txt", LG_EMODEL, "vocab.txt", "[UNK]");
    broken("head -c 1000 model.safetensors > x && mv x model.safetensors", LG_EMODEL,
           "model.safetensors", NULL);
    broken("printf 'xxxxxxxx' | dd of=model.safetensors bs=1 seek=0 conv=notrunc 2>/dev/null",
           LG_EMODEL, "model.safetensors", "header");
    /* config.json: each field checked, the message naming it */
    broken(JSET("config.json", "c['model_type'] = 'roberta'"), LG_EMODEL,
           "config.json: field 'model_type' is 'roberta'; only 'bert' is supported", NULL);
    broken(JSET("config.json", "c['position_embedding_type'] = 'relative_key'"), LG_EMODEL,
           "config.json: field 'position_embedding_type' must be \"absolute\"", NULL);
    broken(JSET("config.json", "c['hidden_act'] = 5"), LG_EMODEL,
           "config.json: field 'hidden_act' must be \"gelu\" (erf form)", NULL);
    broken(JSET("config.json", "c['layer_norm_eps'] = 0"), LG_EMODEL,
           "config.json: field 'layer_norm_eps' must be a number in (0, 1]", NULL);
    broken(JSET("config.json", "c['layer_norm_eps'] = '1e-12'"), LG_EMODEL,
           "field 'layer_norm_eps' must be a number in (0, 1]", NULL);
    broken(JSET("config.json", "c['hidden_size'] = '32'"), LG_EMODEL,
           "config.json: field 'hidden_size' must be an integer in [1, 16384]", NULL);
    broken(JSET("config.json", "c['num_hidden_layers'] = 0"), LG_EMODEL,
           "field 'num_hidden_layers' must be an integer in [1, 256]", NULL);
    broken(JSET("config.json", "c['vocab_size'] = None"), LG_EMODEL,
           "config.json: field 'vocab_size' missing", NULL);
    broken("echo '[1, 2]' > config.json", LG_EMODEL, "config.json: not a JSON object", NULL);
    /* shapes follow config.json: a 2-D tensor of the wrong size names both dimensions */
    broken(JSET("config.json", "c['type_vocab_size'] = 3"), LG_EMODEL,
           "tensor 'embeddings.token_type_embeddings.weight': shape must be [3, 32] (config.json)",
           NULL);
    broken(JSET("config.json", "c['max_position_embeddings'] = 41"), LG_EMODEL,
           "tensor 'embeddings.position_embeddings.weight': shape must be [41, 32]", NULL);
    /* a tensor of a dtype the forward pass cannot use (I32: same size, valid file) */
    broken("python3 -c \"import struct; b = bytearray(open('model.safetensors', 'rb').read()); "
           "n = struct.unpack('<Q', b[:8])[0]; i = b.index(b'F32', 8, 8 + n); b[i] = ord('I'); "
           "open('model.safetensors', 'wb').write(b)\"",
           LG_EMODEL, "dtype must be F32, F16 or BF16", NULL);
    /* the tokenizer */
    broken(JSET("tokenizer_config.json", "c['tokenizer_class'] = 'GPT2Tokenizer'"), LG_EMODEL,
           "tokenizer_config.json: field 'tokenizer_class' is 'GPT2Tokenizer'; only BERT "
           "WordPiece tokenizers are supported",
           NULL);
    broken(JSET("config.json", "c['vocab_size'] = 100"), LG_EMODEL,
           "token ids but config.json field 'vocab_size' is 100", "vocab.txt");
    broken("sed -i '/^\\[CLS\\]$/d' vocab.txt", LG_EMODEL, "vocab.txt: special token [CLS] missing",
           NULL);
    broken("sed -i '/^\\[SEP\\]$/d' vocab.txt", LG_EMODEL, "vocab.txt: special token [SEP] missing",
           NULL);
    /* modules.json and the pooling config */
    broken("echo '{\"a\": 1}' > modules.json", LG_EMODEL,
           "modules.json: must be a JSON array of modules", NULL);
    broken("echo '[' > modules.json", LG_EMODEL,
           "modules.json: line 2: ']' expected near end of file", NULL);
    broken(JSET("modules.json", "del c[1]['type']"), LG_EMODEL,
           "modules.json: module 1: field 'type' missing", NULL);
    broken(JSET("modules.json", "c[1]['path'] = '../1_Pooling'"), LG_EMODEL,
           "modules.json: module 1: field 'path' missing or invalid", NULL);
    broken(JSET("modules.json", "del c[1]['path']"), LG_EMODEL,
           "module 1: field 'path' missing or invalid", NULL);
    broken(JSET("modules.json", "del c[1]"), LG_EMODEL,
           "modules.json: needs a Transformer and a Pooling module", NULL);
    broken(JSET("modules.json", "del c[0]"), LG_EMODEL, "needs a Transformer and a Pooling module",
           NULL);
    broken(JSET("1_Pooling/config.json",
                "c['pooling_mode_mean_tokens'] = False; c['pooling_mode_max_tokens'] = True"),
           LG_EMODEL, "1_Pooling/config.json: exactly one of 'pooling_mode_mean_tokens'", NULL);
    broken(JSET("1_Pooling/config.json", "c['pooling_mode_mean_tokens'] = False"), LG_EMODEL,
           "(other modes are not supported)", NULL);
    broken(JSET("sentence_bert_config.json", "c['max_seq_length'] = 1"), LG_EMODEL,
           "sentence_bert_config.json: field 'max_seq_length' must be an integer in [2, 40]", NULL);
    /* every tensor the forward pass reads, missing in turn: named (layer 1:
     * after a whole layer 0 was read) */
    static const char *const tensors[] = {
        "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias", "encoder.layer.1.attention.self.query.weight",
        "encoder.layer.1.attention.self.query.bias", "encoder.layer.1.attention.self.key.weight",
        "encoder.layer.1.attention.self.key.bias", "encoder.layer.1.attention.self.value.weight",
        "encoder.layer.1.attention.self.value.bias", "encoder.layer.1.attention.output.dense.weight",
        "encoder.layer.1.attention.output.dense.bias", "encoder.layer.1.attention.output.LayerNorm.weight",
        "encoder.layer.1.attention.output.LayerNorm.bias", "encoder.layer.1.intermediate.dense.weight",
        "encoder.layer.1.intermediate.dense.bias", "encoder.layer.1.output.dense.weight",
        "encoder.layer.1.output.dense.bias", "encoder.layer.1.output.LayerNorm.weight",
        "encoder.layer.1.output.LayerNorm.bias"};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) {
        char edit[600], want[200];
        snprintf(edit, sizeof edit, STEDIT("del h['%s']"), tensors[i]);
        snprintf(want, sizeof want, "model.safetensors: tensor '%s' missing", tensors[i]);
        broken(edit, LG_EMODEL, want, NULL);
    }
    /* a 1-D tensor of another length: the shape it must have */
    broken(STEDIT("t = h['embeddings.LayerNorm.bias']; o = t['data_offsets'][0]; "
                  "h['embeddings.LayerNorm.bias'] = dict(t, shape=[16], data_offsets=[o, o + 64])"),
           LG_EMODEL, "tensor 'embeddings.LayerNorm.bias': shape must be [32] (config.json)", NULL);
    /* names with the "bert." prefix (as BertModel checkpoints save them) load */
    lg_sbert_info info;
    edited_loads("tiny_mean",
                 STEDIT("h = {(k if k == '__metadata__' else 'bert.' + k): v for k, v in h.items()}"),
                 &info);
    assert_int_equal(info.layers, 2);
    /* tokenizer_config.json's switches, for vocab.txt and for tokenizer.json */
    edited_loads("tiny_mean",
                 JSET("tokenizer_config.json", "c.update(do_lower_case=False, strip_accents=True, "
                                               "tokenize_chinese_chars=False)"),
                 &info);
    assert_int_equal(info.do_lower_case, 0);
    edited_loads("tiny_mean", "rm tokenizer_config.json", &info);
    assert_int_equal(info.do_lower_case, 1);
    edited_loads("tiny_tokjson",
                 "echo '{\"do_lower_case\": false, \"strip_accents\": false, "
                 "\"tokenize_chinese_chars\": false}' > tokenizer_config.json",
                 &info);
    assert_int_equal(info.do_lower_case, 0);
    edited_loads("tiny_tokjson", "echo '{\"strip_accents\": null}' > tokenizer_config.json", &info);
    broken("rm vocab.txt && echo '{}' > tokenizer.json", LG_EMODEL, "tokenizer.json", NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const char *root = getenv("LOGIFY_ROOT");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/bert", root ? root : ".");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/tiny_mean/reference.json", fixtures);
    if (access(probe, R_OK) != 0) {
        fprintf(stderr, "test_bert: %s not found (set LOGIFY_ROOT)\n", probe);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_mean),
        cmocka_unit_test(test_tiny_cls),
        cmocka_unit_test(test_tiny_f16),
        cmocka_unit_test(test_tiny_bf16),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_concurrent_encodes),
        cmocka_unit_test(test_isa_paths_agree),
        cmocka_unit_test(test_info_and_truncation),
        cmocka_unit_test(test_broken_dirs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
