/* test_gemm.c - the packed GEMM (src/bert/sbert_gemm.c) on every ISA path
 * this CPU runs (avx512, avx2, generic), over odd shapes (rows and columns
 * that fill no tile, k = 1, a partial last panel):
 * - each path within 1e-5 (relative to sum |a b|) of a double-precision
 *   product;
 * - whatever the split, the same bits: panel ranges run one by one (how
 *   the thread team splits a projection) and rows one at a time (a batch of
 *   one text) equal the whole product, on every path;
 * - avx512 and avx2 give the same bits (both one fused multiply-add per
 *   step, in k order);
 * - LOGIFY_ISA's names: unknown ones and paths the CPU lacks are refused.
 * Needs nothing but the library (also built standalone by
 * scripts/check-aarch64.sh and run under qemu-aarch64). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bert/sbert_internal.h"

static const lg_isa all_isas[] = {LG_ISA_AVX512, LG_ISA_AVX2, LG_ISA_GENERIC};
#define N_ISAS (sizeof all_isas / sizeof *all_isas)

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

typedef struct {
    int m, n, k;
} shape;

static const shape shapes[] = {{1, 1, 1},     {1, 32, 7},    {5, 33, 3},    {7, 100, 64},
                               {13, 17, 70},  {12, 64, 384}, {31, 96, 33},  {6, 31, 129},
                               {130, 65, 40}, {121, 40, 16}, {250, 96, 24}, {3, 1536, 384}};

/* c0 (m, n) filled with a "bias"; a (m, k); w (n, k) */
static void fill(float *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
}

static void test_paths_match_reference(void **state) {
    (void)state;
    int ran = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        shape sh = shapes[si];
        size_t mn = (size_t)sh.m * (size_t)sh.n;
        float *a = malloc((size_t)sh.m * (size_t)sh.k * sizeof *a),
              *w = malloc((size_t)sh.n * (size_t)sh.k * sizeof *w), *c0 = malloc(mn * sizeof *c0);
        float *got[N_ISAS] = {0};
        fill(a, (size_t)sh.m * (size_t)sh.k);
        fill(w, (size_t)sh.n * (size_t)sh.k);
        fill(c0, mn);
        for (size_t ii = 0; ii < N_ISAS; ii++) {
            lg_isa isa = all_isas[ii];
            if (!lg_isa_supported(isa)) continue;
            ran++;
            lg_gemm_w pw;
            assert_int_equal(lg_gemm_pack(w, sh.n, sh.k, isa, &pw, NULL), LG_OK);
            float *c = malloc(mn * sizeof *c), *part = malloc(mn * sizeof *part),
                  *rows = malloc(mn * sizeof *rows);
            memcpy(c, c0, mn * sizeof *c);
            lg_gemm_run(c, a, &pw, sh.m);
            /* against double precision */
            for (int i = 0; i < sh.m; i++)
                for (int j = 0; j < sh.n; j++) {
                    double ref = c0[(size_t)i * sh.n + j], mag = fabs(ref);
                    for (int kk = 0; kk < sh.k; kk++) {
                        double p = (double)a[(size_t)i * sh.k + kk] * w[(size_t)j * sh.k + kk];
                        ref += p;
                        mag += fabs(p);
                    }
                    double d = fabs(c[(size_t)i * sh.n + j] - ref);
                    if (d > 1e-5 * (mag > 1 ? mag : 1))
                        fail_msg("%s %dx%dx%d: c[%d][%d] = %.9g, want %.9g", lg_isa_name(isa), sh.m,
                                 sh.n, sh.k, i, j, (double)c[(size_t)i * sh.n + j], ref);
                }
            /* panel by panel, in reverse order: the same bits */
            int np = pw.np / LG_GEMM_PANEL;
            memcpy(part, c0, mn * sizeof *part);
            for (int p = np - 1; p >= 0; p--)
                lg_gemm_run_panels(part, a, &pw, sh.m, p, p + 1);
            assert_memory_equal(part, c, mn * sizeof *c);
            /* row by row (a batch of one text): the same bits */
            memcpy(rows, c0, mn * sizeof *rows);
            for (int i = 0; i < sh.m; i++)
                lg_gemm_run(rows + (size_t)i * sh.n, a + (size_t)i * sh.k, &pw, 1);
            assert_memory_equal(rows, c, mn * sizeof *c);
            got[ii] = c;
            free(part);
            free(rows);
            lg_gemm_free(&pw);
        }
        /* avx512 (index 0) and avx2 (1): the same bits */
        if (got[0] && got[1]) assert_memory_equal(got[0], got[1], mn * sizeof *got[0]);
        for (size_t ii = 0; ii < N_ISAS; ii++)
            free(got[ii]);
        free(a);
        free(w);
        free(c0);
    }
    for (size_t ii = 0; ii < N_ISAS; ii++)
        printf("%s path: %s\n", lg_isa_name(all_isas[ii]),
               lg_isa_supported(all_isas[ii]) ? "checked" : "not on this CPU");
    assert_true(ran >= (int)(sizeof shapes / sizeof *shapes));
}

static void test_isa_names(void **state) {
    (void)state;
    lg_isa isa;
    lg_errmsg err;
    assert_int_equal(lg_isa_parse("generic", &isa, &err), LG_OK);
    assert_int_equal(isa, LG_ISA_GENERIC);
    assert_int_equal(lg_isa_parse("avx3", &isa, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "avx512, avx2 or generic"));
    for (size_t ii = 0; ii < N_ISAS; ii++) {
        lg_err e = lg_isa_parse(lg_isa_name(all_isas[ii]), &isa, &err);
        assert_int_equal(e, lg_isa_supported(all_isas[ii]) ? LG_OK : LG_EINVAL);
    }
    assert_true(lg_isa_supported(lg_isa_best()));
#ifdef __x86_64__
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) assert_int_equal(lg_isa_best(), LG_ISA_AVX512);
#else
    assert_int_equal(lg_isa_best(), LG_ISA_GENERIC);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_reference),
        cmocka_unit_test(test_isa_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
