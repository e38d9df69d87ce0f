/* test_sbert_quant.c - the int8 projections (src/bert/sbert_quant.c,
 * `--quantize int8`):
 * - quantisation of a row by hand (values chosen so that the scale is
 *   exact: ties to even, the +128 flip, a zero block, the padded tail, a
 *   smoothing vector), and weights packed by hand (layout, per-block
 *   scales, the VNNI kernel's column sums);
 * - every kernel this CPU runs (avx512 = VNNI, avx2, generic) against a
 *   scalar reference written here (its own quantiser with rintf, int64
 *   sums, the documented epilogue) on odd shapes: rows that fill no tile,
 *   k not a multiple of 4 or of a block, partial panels and half panels:
 *   equal bit for bit; so the paths equal each other;
 * - extremes: +-127 everywhere over k = 1536 (vpmaddubsw would saturate
 *   with a +128 shift; the sign trick must not), zero rows;
 * - any panel range or row split gives the same bits (threads);
 * - a tiny model loaded with LOGIFY_SBERT_QUANTIZE=int8: reports an int8
 *   kernel, stays close to float, bit-identical for 1 and 2 threads (the
 *   batch split across the team); unknown values refused.
 * Needs nothing but the library and tests/fixtures/bert. */
#include <math.h>
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
#include "bert/sbert_quant.h"
#include "logify/sbert.h"

static const lg_isa all_isas[] = {LG_ISA_AVX512, LG_ISA_AVX2, LG_ISA_GENERIC};
#define N_ISAS (sizeof all_isas / sizeof *all_isas)
#define QB LG_Q8_BLOCK

static char fixtures[1024];

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* the int8 kernel of a float path, when this CPU runs it (avx512 also
 * needs VNNI: lg_q8_isa then answers avx2, which is tested on its own) */
static int runs(lg_isa isa) {
    return lg_isa_supported(isa) && lg_q8_isa(isa) == isa;
}

/* ---- Quantisation by hand ---------------------------------------------------- */

static void test_quantize_by_hand(void **state) {
    (void)state;
    /* block 0: max |x| = 127, so the scale is 1 and q = rint(x) */
    float x[40] = {127.0f, -63.5f, 0.5f, 1.5f, -2.5f, 3.49f, 0.0f, -127.0f, 64.5f};
    for (int i = 32; i < 35; i++)
        x[i] = 0.0f; /* block 1: k = 35, all zero */
    int8_t q[64];
    float sc[2];
    lg_q8_quantize_row(x, NULL, 35, 64, 0, q, sc);
    const int8_t want[9] = {127, -64, 0, 2, -2, 3, 0, -127, 64}; /* ties to even */
    for (int i = 0; i < 9; i++)
        assert_int_equal(q[i], want[i]);
    assert_true(sc[0] == 1.0f);
    assert_true(sc[1] == 0.0f);
    for (int i = 32; i < 64; i++)
        assert_int_equal(q[i], 0);
    /* the VNNI form: q + 128 as an unsigned byte, the tail and zeros 128 */
    lg_q8_quantize_row(x, NULL, 35, 64, 0x80, q, sc);
    for (int i = 0; i < 9; i++)
        assert_int_equal((uint8_t)q[i], (uint8_t)(want[i] + 128));
    for (int i = 32; i < 64; i++)
        assert_int_equal((uint8_t)q[i], 128);
    /* a scale that is not 1: max |x| = 2.54 -> 0.02; x / scale rounds */
    float y[4] = {2.54f, -1.0f, 0.3f, 0.0f};
    lg_q8_quantize_row(y, NULL, 4, 32, 0, q, sc);
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -50);
    assert_int_equal(q[2], 15);
    assert_true(fabsf(sc[0] - 0.02f) < 1e-8f);
    /* smoothing: y = x * mul before anything else */
    float mul[4] = {0.5f, 2.0f, 1.0f, 1.0f}, z[4] = {254.0f, -10.0f, 1.0f, 0.0f};
    lg_q8_quantize_row(z, mul, 4, 32, 0, q, sc);
    assert_true(sc[0] == 1.0f); /* max |y| = 127 */
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -20);
    assert_int_equal(q[2], 1);
}

static void test_pack_by_hand(void **state) {
    (void)state;
    /* W (3, 40): row 0 = j - 20 scaled to max 127 in block 0, ... */
    enum { N = 3, K = 40 };
    float w[N * K];
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            w[j * K + k] = (float)((k * 7 + j * 3) % 255 - 127) * (float)(j + 1);
    lg_q8_w q;
    lg_errmsg err;
    assert_int_equal(lg_q8_pack(w, N, K, NULL, LG_ISA_GENERIC, &q, &err), LG_OK);
    assert_int_equal(q.kp, 64);
    assert_int_equal(q.np, 32);
    int nb = q.kp / QB;
    for (int j = 0; j < N; j++)
        for (int b = 0; b < nb; b++) {
            float amax = 0;
            int e = (b + 1) * QB < K ? (b + 1) * QB : K;
            for (int k = b * QB; k < e; k++)
                amax = fmaxf(amax, fabsf(w[j * K + k]));
            float sw = q.scale[b * 32 + j]; /* panel 0 */
            assert_true(sw == amax / 127.0f);
            int32_t sum = 0;
            for (int k = b * QB; k < (b + 1) * QB; k++) {
                int8_t v = q.packed[(k / 4) * 128 + j * 4 + k % 4];
                int8_t want = k < K ? (int8_t)rintf(w[j * K + k] * (127.0f / amax)) : 0;
                assert_int_equal(v, want);
                /* dequantised within half a step */
                if (k < K) assert_true(fabsf((float)v * sw - w[j * K + k]) <= sw * 0.5001f);
                sum += v;
            }
            assert_int_equal(q.corr[b * 32 + j], 128 * sum);
        }
    /* padded columns: scale 0, bytes 0 */
    assert_true(q.scale[5] == 0.0f);
    assert_int_equal(q.packed[5 * 4], 0);
    lg_q8_free(&q);
    lg_q8_free(&q); /* twice: nothing left */
    assert_int_not_equal(lg_q8_pack(w, N, 70000, NULL, LG_ISA_GENERIC, &q, &err), LG_OK);
}

/* ---- Kernels against a scalar reference ------------------------------------------ */

/* the reference quantiser: same definition, written with rintf */
static void ref_quant(const float *x, const float *mul, int k, int kp, int8_t *q, float *sc) {
    for (int b0 = 0; b0 < kp; b0 += QB) {
        float amax = 0;
        for (int i = b0; i < b0 + QB && i < k; i++)
            amax = fmaxf(amax, fabsf(mul ? x[i] * mul[i] : x[i]));
        sc[b0 / QB] = amax / 127.0f;
        for (int i = b0; i < b0 + QB; i++) {
            float y = i < k ? (mul ? x[i] * mul[i] : x[i]) : 0.0f;
            q[i] = amax > 0 ? (int8_t)rintf(y * (127.0f / amax)) : 0;
        }
    }
}

/* C (m, n) += A W^T as documented: per block, c = c + (float)s * (sa * sw),
 * two roundings (this function must not be contracted into an FMA) */
__attribute__((optimize("fp-contract=off"))) static void
ref_product(float *c, const float *a, const float *w, const float *s, int m, int n, int k) {
    int kp = (k + QB - 1) / QB * QB, nb = kp / QB;
    int8_t *qa = malloc((size_t)kp), *qw = malloc((size_t)n * (size_t)kp);
    float *sa = malloc((size_t)nb * sizeof *sa), *sw = malloc((size_t)n * (size_t)nb * sizeof *sw),
          *ws = malloc((size_t)k * sizeof *ws), *inv = s ? malloc((size_t)k * sizeof *inv) : NULL;
    for (int kk = 0; s && kk < k; kk++)
        inv[kk] = 1.0f / s[kk];
    for (int j = 0; j < n; j++)
        ref_quant(w + (size_t)j * (size_t)k, s, k, kp, qw + (size_t)j * (size_t)kp,
                  sw + (size_t)j * (size_t)nb);
    (void)ws;
    for (int i = 0; i < m; i++) {
        ref_quant(a + (size_t)i * (size_t)k, inv, k, kp, qa, sa);
        for (int j = 0; j < n; j++) {
            float acc = c[(size_t)i * (size_t)n + (size_t)j];
            for (int b = 0; b < nb; b++) {
                int64_t sum = 0;
                for (int kk = b * QB; kk < (b + 1) * QB; kk++)
                    sum += (int64_t)qa[kk] * qw[(size_t)j * (size_t)kp + (size_t)kk];
                float t = sa[b] * sw[(size_t)j * (size_t)nb + (size_t)b];
                float p = (float)sum * t;
                acc = acc + p;
            }
            c[(size_t)i * (size_t)n + (size_t)j] = acc;
        }
    }
    free(qa);
    free(qw);
    free(sa);
    free(sw);
    free(ws);
    free(inv);
}

typedef struct {
    int m, n, k;
} shape;

static const shape shapes[] = {{1, 1, 1},      {1, 32, 7},    {5, 33, 3},    {7, 100, 64},
                               {13, 17, 70},   {12, 64, 384}, {31, 96, 33},  {6, 31, 129},
                               {130, 65, 40},  {4, 16, 31},   {25, 48, 1536}, {3, 1152, 384},
                               {241, 40, 300}, {9, 8, 32}};

static void fill(float *v, size_t n, float amp) {
    for (size_t i = 0; i < n; i++)
        v[i] = frand() * amp;
}

static void check_shape(shape sh, const float *s, float amp_a) {
    size_t mn = (size_t)sh.m * (size_t)sh.n;
    float *a = malloc((size_t)sh.m * (size_t)sh.k * sizeof *a),
          *w = malloc((size_t)sh.n * (size_t)sh.k * sizeof *w), *c0 = malloc(mn * sizeof *c0),
          *ref = malloc(mn * sizeof *ref), *got = malloc(mn * sizeof *got),
          *part = malloc(mn * sizeof *part);
    fill(a, (size_t)sh.m * (size_t)sh.k, amp_a);
    fill(w, (size_t)sh.n * (size_t)sh.k, 0.1f);
    fill(c0, mn, 1.0f);
    for (int i = 0; i < sh.m; i++) /* a zero row and an outlier */
        if (i % 11 == 3) memset(a + (size_t)i * (size_t)sh.k, 0, (size_t)sh.k * sizeof *a);
    a[0] *= 50.0f;
    memcpy(ref, c0, mn * sizeof *ref);
    ref_product(ref, a, w, s, sh.m, sh.n, sh.k);
    for (size_t ii = 0; ii < N_ISAS; ii++) {
        if (!runs(all_isas[ii])) continue;
        lg_q8_w q;
        lg_errmsg err;
        assert_int_equal(lg_q8_pack(w, sh.n, sh.k, s, all_isas[ii], &q, &err), LG_OK);
        memcpy(got, c0, mn * sizeof *got);
        assert_int_equal(lg_q8_run_panels(got, a, &q, sh.m, 0, q.np / 32), 1);
        for (size_t e = 0; e < mn; e++)
            if (memcmp(&got[e], &ref[e], sizeof(float)) != 0)
                fail_msg("%s, %dx%dx%d: element %zu = %.9g, reference %.9g",
                         lg_q8_name(all_isas[ii]), sh.m, sh.n, sh.k, e, (double)got[e],
                         (double)ref[e]);
        /* panel by panel (threads) and row by row (one-text batches) */
        memcpy(part, c0, mn * sizeof *part);
        for (int p = 0; p < q.np / 32; p++)
            lg_q8_run_panels(part, a, &q, sh.m, p, p + 1);
        assert_memory_equal(part, got, mn * sizeof *got);
        memcpy(part, c0, mn * sizeof *part);
        for (int i = 0; i < sh.m; i++)
            lg_q8_run_panels(part + (size_t)i * (size_t)sh.n, a + (size_t)i * (size_t)sh.k, &q, 1,
                             0, q.np / 32);
        assert_memory_equal(part, got, mn * sizeof *got);
        lg_q8_free(&q);
    }
    free(a);
    free(w);
    free(c0);
    free(ref);
    free(got);
    free(part);
}

static void test_kernels_match_reference(void **state) {
    (void)state;
    int ran = 0;
    for (size_t ii = 0; ii < N_ISAS; ii++)
        if (runs(all_isas[ii])) {
            printf("  int8 kernel %s runs here\n", lg_q8_name(all_isas[ii]));
            ran++;
        }
    assert_true(ran >= 1);
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        check_shape(shapes[si], NULL, 1.0f);
    /* with smoothing factors */
    float *s = malloc(1536 * sizeof *s);
    for (int k = 0; k < 1536; k++)
        s[k] = 0.25f + (float)(k % 13) * 0.3f;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        check_shape(shapes[si], s, 3.0f);
    free(s);
}

/* +-127 everywhere: every vpmaddubsw pair is 2 * 127 * 127 (the most the
 * sign trick can make; with a +128 shift it would saturate s16), and k =
 * 1536 makes the largest int32 sums */
static void test_extremes(void **state) {
    (void)state;
    enum { M = 7, N = 40, K = 1536 };
    float *a = malloc((size_t)M * K * sizeof *a), *w = malloc((size_t)N * K * sizeof *w),
          *ref = calloc((size_t)M * N, sizeof *ref), *got = malloc((size_t)M * N * sizeof *got);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            a[i * K + k] = (i % 2 ? -1.0f : 1.0f) * ((k + i) % 3 ? 1.0f : -1.0f);
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++)
            w[j * K + k] = j % 3 == 0 ? -2.0f : (j % 3 == 1 ? 2.0f : ((k % 2) ? 2.0f : -2.0f));
    ref_product(ref, a, w, NULL, M, N, K);
    assert_true(fabsf(ref[0]) > 1000.0f); /* the sums are large */
    for (size_t ii = 0; ii < N_ISAS; ii++) {
        if (!runs(all_isas[ii])) continue;
        lg_q8_w q;
        assert_int_equal(lg_q8_pack(w, N, K, NULL, all_isas[ii], &q, NULL), LG_OK);
        memset(got, 0, (size_t)M * N * sizeof *got);
        lg_q8_run_panels(got, a, &q, M, 0, q.np / 32);
        assert_memory_equal(got, ref, (size_t)M * N * sizeof *got);
        /* against the exact float product too: +-1 and +-2 quantise exactly */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double e = 0;
                for (int k = 0; k < K; k++)
                    e += (double)a[i * K + k] * w[j * K + k];
                assert_true(fabs(got[i * N + j] - e) <= 1e-3 * (fabs(e) + 1));
            }
        lg_q8_free(&q);
    }
    free(a);
    free(w);
    free(ref);
    free(got);
}

/* ---- The model ---------------------------------------------------------------- */

static double cosine(const float *u, const float *v, int d) {
    double uv = 0, uu = 0, vv = 0;
    for (int i = 0; i < d; i++) {
        uv += (double)u[i] * v[i];
        uu += (double)u[i] * u[i];
        vv += (double)v[i] * v[i];
    }
    return uu > 0 && vv > 0 ? uv / sqrt(uu * vv) : (uu == vv ? 1.0 : 0.0);
}

static const char *const texts[] = {
    "Connection refused by 10.0.0.7:5432 after 3 retries",
    "user admin logged in",
    "disk /dev/sda1 is 97% full",
    "",
    "Payment gateway returned HTTP 502 for order 77812 while the queue was draining",
    "ok"};
#define N_TEXTS (sizeof texts / sizeof *texts)

static void encode(const lg_sbert *m, int threads, float *out) {
    lg_sbert_scratch *s;
    lg_errmsg err;
    assert_int_equal(lg_sbert_scratch_new(m, &s, &err), LG_OK);
    lg_sbert_scratch_set(s, 2, threads);
    lg_sbert_scratch_split_min(s, 0); /* split even the tiny model */
    /* one text at a time: fewer texts than threads, the batch is split */
    for (size_t i = 0; i < N_TEXTS; i++)
        if (lg_sbert_encode(m, s, &texts[i], NULL, 1, out + i * (size_t)lg_sbert_dim(m), &err))
            fail_msg("%s", err.msg);
    lg_sbert_scratch_free(s);
}

static void test_model_int8(void **state) {
    (void)state;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/tiny_mean", fixtures);
    lg_sbert *f32 = NULL, *q8 = NULL;
    lg_errmsg err;
    unsetenv("LOGIFY_SBERT_QUANTIZE");
    if (lg_sbert_load(dir, &f32, &err)) fail_msg("%s", err.msg);
    setenv("LOGIFY_SBERT_QUANTIZE", "int8", 1);
    if (lg_sbert_load(dir, &q8, &err)) fail_msg("%s", err.msg);
    lg_sbert_info info;
    lg_sbert_info_get(q8, &info);
    assert_true(!strncmp(info.gemm, "int8-", 5));
    int d = lg_sbert_dim(f32);
    float *a = malloc(N_TEXTS * (size_t)d * sizeof *a), *b = malloc(N_TEXTS * (size_t)d * sizeof *b),
          *b2 = malloc(N_TEXTS * (size_t)d * sizeof *b2);
    encode(f32, 1, a);
    encode(q8, 1, b);
    encode(q8, 2, b2);
    assert_memory_equal(b, b2, N_TEXTS * (size_t)d * sizeof *b);
    double worst = 1;
    for (size_t i = 0; i < N_TEXTS; i++) {
        double c = cosine(a + i * (size_t)d, b + i * (size_t)d, d);
        worst = c < worst ? c : worst;
    }
    printf("  tiny_mean (%s): int8 vs float, min cosine %.6f over %zu texts\n", info.gemm, worst,
           N_TEXTS);
    /* a random model of hidden size 32: far from MiniLM's 0.9996, but a
     * broken kernel gives ~0 */
    assert_true(worst > 0.99);
    lg_sbert_free(q8);
    /* "none" and empty are float; anything else is refused, naming it */
    setenv("LOGIFY_SBERT_QUANTIZE", "none", 1);
    if (lg_sbert_load(dir, &q8, &err)) fail_msg("%s", err.msg);
    lg_sbert_info_get(q8, &info);
    assert_null(strstr(info.gemm, "int8"));
    lg_sbert_free(q8);
    setenv("LOGIFY_SBERT_QUANTIZE", "int4", 1);
    assert_int_equal(lg_sbert_load(dir, &q8, &err), LG_EINVAL);
    assert_non_null(strstr(err.msg, "LOGIFY_SBERT_QUANTIZE=int4"));
    assert_null(q8);
    unsetenv("LOGIFY_SBERT_QUANTIZE");
    lg_sbert_free(f32);
    free(a);
    free(b);
    free(b2);
}

int main(void) {
    const char *root = getenv("LOGIFY_ROOT");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/bert", root ? root : ".");
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/tiny_mean/config.json", fixtures);
    if (access(probe, R_OK) != 0) {
        fprintf(stderr, "test_sbert_quant: %s not found (set LOGIFY_ROOT)\n", probe);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantize_by_hand),
        cmocka_unit_test(test_pack_by_hand),
        cmocka_unit_test(test_kernels_match_reference),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_model_int8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
