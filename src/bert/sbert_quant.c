/* sbert_quant.c - int8 projections for `--quantize int8` (docs/bert.md,
 * "int8"): C (m, n) += A (m, k) . W^T with W quantised per output channel
 * and block of 32 k at load and A per row and block when the product
 * runs (llama.cpp's q8_0 layout of scales), int32 sums per block,
 * dequantised and added to C block after block. A SmoothQuant factor per
 * input channel (measured at load on built-in texts) divides A and
 * multiplies W's columns, so that the activations' outlier channels do
 * not crush the other channels' precision. Three kernels, chosen with
 * the model's ISA path:
 *
 * - AVX-512 VNNI: vpdpbusd multiplies unsigned bytes by signed bytes and
 *   sums groups of 4 into int32 lanes. The activations are stored shifted
 *   (q + 128, in [1, 255]) and 128 * the block's sum of qw per column
 *   (precomputed at load) is subtracted: exact. 6 x 32 register tile (12
 *   int32 and 12 float accumulators).
 * - AVX2: vpmaddubsw (u8 x s8 -> pairs summed into s16, saturating) on
 *   |qa| and sign(qw, qa): each pair is at most 2 * 127 * 127 = 32,258, so
 *   it never saturates; vpmaddwd with ones then makes int32. (The +128
 *   shift would overflow s16 here: 2 * 255 * 127.) 4 x 16 tile.
 * - portable C (any other CPU, aarch64 included).
 *
 * The int32 sums are exact on every path, and the epilogue is the same
 * IEEE operations in the same order (per block: t = sa * sw; p =
 * (float)s * t; c = c + p, never fused: fp-contract=off, since GCC
 * contracts the intrinsics' vector arithmetic too), so every path, panel
 * split and row split gives the same bits. Weights: the packed layout
 * (np / 32, kp / 4, 32, 4) is the same for all three kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_quant.h"

#ifdef __x86_64__
#include <immintrin.h>
#define Q8_X86 1
#endif

#define NR LG_GEMM_PANEL   /* columns of a panel (32) */
#define GB (NR * 4)        /* bytes of a panel per group of 4 k */
#define QB LG_Q8_BLOCK     /* k per scale */
#define GPB (LG_Q8_BLOCK / 4) /* groups of 4 k per block */
#define MR 6               /* AVX-512: rows of a register tile */
#define MR2 4              /* AVX2: rows of a register tile (of 16 columns) */
#define QBUF 65536         /* bytes of quantised rows per block of rows (on the stack) */
#define QROWS 240          /* at most this many rows per block of rows */

/* the epilogue's multiply and add must stay two roundings */
#define Q8_OPT __attribute__((optimize("O3", "no-trapping-math", "fp-contract=off")))

/* ---- ISA ------------------------------------------------------------------ */

static int have_vnni(void) {
#ifdef Q8_X86
    return lg_cpu_has(LG_CPU_AVX512VNNI); /* no CPUID probe at start-up: src/core/cpu.c */
#else
    return 0;
#endif
}

lg_isa lg_q8_isa(lg_isa isa) {
    if (isa == LG_ISA_AVX512 && !have_vnni()) return LG_ISA_AVX2;
    return isa;
}

const char *lg_q8_name(lg_isa isa) {
    switch (isa) {
    case LG_ISA_AVX512: return "int8-avx512vnni";
    case LG_ISA_AVX2: return "int8-avx2";
    default: return "int8-generic";
    }
}

/* ---- Quantisation ----------------------------------------------------------- */

/* x + 1.5 * 2^23 - 1.5 * 2^23 rounds x to the nearest integer, ties to
 * even, for |x| < 2^22 (and vectorises, where rintf does not) */
#define RND_MAGIC 12582912.0f

Q8_OPT void lg_q8_quantize_row(const float *x, const float *mul, int k, int kp, uint8_t flip,
                               int8_t *q, float *scale) {
    for (int b0 = 0; b0 < kp; b0 += QB) {
        int e = k - b0 < QB ? k : b0 + QB;
        /* max |y| on the bit patterns: for non-negative floats the integer
         * order is the float order, and an integer max reduction vectorises */
        uint32_t mb = 0;
        for (int i = b0; i < e; i++) {
            float y = mul ? x[i] * mul[i] : x[i];
            uint32_t bits;
            memcpy(&bits, &y, sizeof bits);
            bits &= 0x7fffffffu;
            mb = bits > mb ? bits : mb;
        }
        float amax;
        memcpy(&amax, &mb, sizeof amax);
        if (!(amax > 0.0f)) { /* a zero block (or NaN: kept, so the output shows it) */
            for (int i = b0; i < b0 + QB; i++)
                q[i] = (int8_t)flip;
            scale[b0 / QB] = amax == amax ? 0.0f : amax;
            continue;
        }
        float inv = (float)LG_Q8_MAX / amax;
        for (int i = b0; i < e; i++) {
            float v = (mul ? x[i] * mul[i] : x[i]) * inv;
            v = (v + RND_MAGIC) - RND_MAGIC;
            int iv = (int)v;
            iv = iv > LG_Q8_MAX ? LG_Q8_MAX : (iv < -LG_Q8_MAX ? -LG_Q8_MAX : iv);
            q[i] = (int8_t)((uint8_t)iv ^ flip);
        }
        for (int i = e; i < b0 + QB; i++)
            q[i] = (int8_t)flip;
        scale[b0 / QB] = amax / (float)LG_Q8_MAX;
    }
}

void lg_q8_free(lg_q8_w *w) {
    if (!w) return;
    free(w->packed);
    free(w->scale);
    free(w->corr);
    free(w->smooth);
    free(w->amax);
    memset(w, 0, sizeof *w);
}

lg_err lg_q8_pack(const float *w, int n, int k, const float *s, lg_isa isa, lg_q8_w *out,
                  lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    if (n < 1 || k < 1 || k > QBUF)
        return lg_fail(err, LG_EINVAL, "int8 weights: shape (%d, %d) not supported", n, k);
    out->n = n;
    out->k = k;
    out->kp = (k + QB - 1) / QB * QB;
    out->np = (n + NR - 1) / NR * NR;
    out->isa = isa;
    size_t kp = (size_t)out->kp, np = (size_t)out->np, nb = kp / QB;
    out->packed = aligned_alloc(64, np * kp); /* a multiple of 128 */
    out->scale = aligned_alloc(64, np * nb * sizeof(float));
    out->corr = aligned_alloc(64, np * nb * sizeof(int32_t));
    int8_t *row = malloc(kp);
    float *rs = malloc(nb * sizeof *rs);
    if (s) {
        out->smooth = malloc((size_t)k * sizeof(float));
        if (out->smooth)
            for (int kk = 0; kk < k; kk++)
                out->smooth[kk] = 1.0f / s[kk];
    }
    if (!out->packed || !out->scale || !out->corr || !row || !rs || (s && !out->smooth)) {
        free(row);
        free(rs);
        lg_q8_free(out);
        return lg_fail(err, LG_ENOMEM, "out of memory (int8 weights)");
    }
    memset(out->packed, 0, np * kp);
    memset(out->scale, 0, np * nb * sizeof(float));
    memset(out->corr, 0, np * nb * sizeof(int32_t));
    for (int j = 0; j < n; j++) {
        lg_q8_quantize_row(w + (size_t)j * (size_t)k, s, k, (int)kp, 0, row, rs);
        size_t p = (size_t)j / NR, jj = (size_t)j % NR;
        int8_t *panel = out->packed + p * (kp / 4) * GB + jj * 4;
        for (size_t kk = 0; kk < kp; kk++)
            panel[kk / 4 * GB + kk % 4] = row[kk];
        for (size_t b = 0; b < nb; b++) {
            int32_t sum = 0;
            for (size_t kk = b * QB; kk < (b + 1) * QB; kk++)
                sum += row[kk];
            out->scale[(p * nb + b) * NR + jj] = rs[b];
            out->corr[(p * nb + b) * NR + jj] = 128 * sum;
        }
    }
    free(row);
    free(rs);
    return LG_OK;
}

/* ---- Portable kernel ---------------------------------------------------------- */

/* c (1 row, cols <= 32) += dequant(qa (kp) . panel), block by block; GCC
 * vectorises the 32 columns. sa (nb): the row's scales; sw (nb, 32). */
Q8_OPT static void row_gen(float *c, const int8_t *qa, const float *sa, const int8_t *bp,
                           const float *sw, int nb, int cols) {
    float acc[NR] = {0};
    memcpy(acc, c, (size_t)cols * sizeof *acc);
    for (int b = 0; b < nb; b++) {
        int32_t s[NR] = {0};
        for (int g = b * GPB; g < (b + 1) * GPB; g++) {
            const int8_t *w = bp + (size_t)g * GB;
            int32_t a0 = qa[4 * g], a1 = qa[4 * g + 1], a2 = qa[4 * g + 2], a3 = qa[4 * g + 3];
            for (int j = 0; j < NR; j++)
                s[j] += a0 * w[4 * j] + a1 * w[4 * j + 1] + a2 * w[4 * j + 2] + a3 * w[4 * j + 3];
        }
        for (int j = 0; j < NR; j++) {
            float t = sa[b] * sw[b * NR + j];
            float p = (float)s[j] * t;
            acc[j] = acc[j] + p;
        }
    }
    memcpy(c, acc, (size_t)cols * sizeof *acc);
}

static void q8_generic(float *c, int ldc, const int8_t *qa, int ldq, const float *sa,
                       const lg_q8_w *w, int m, int p0, int p1) {
    int nb = w->kp / QB;
    for (int p = p0; p < p1; p++) {
        int cols = w->n - p * NR < NR ? w->n - p * NR : NR;
        const int8_t *bp = w->packed + (size_t)p * (size_t)(w->kp / 4) * GB;
        for (int i = 0; i < m; i++)
            row_gen(c + (size_t)i * (size_t)ldc + (size_t)p * NR, qa + (size_t)i * (size_t)ldq,
                    sa + (size_t)i * (size_t)nb, bp, w->scale + (size_t)p * (size_t)nb * NR, nb,
                    cols);
    }
}

#ifdef Q8_X86
/* ---- AVX2 kernel ------------------------------------------------------------------ */

#define Q256 __attribute__((target("avx2,fma"))) Q8_OPT

/* lane masks for the first `cols` (0..8) of 8 columns */
Q256 static inline __m256i qmask8(int cols) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), idx);
}

/* c (rows <= 4, cols <= 16: masked unless `full`) += dequant(qa (rows, kp)
 * . half panel): bp points at the half's first 8 columns of group 0 (the
 * next 8 follow; a group is GB bytes), sw at the half's 16 scales of block
 * 0 (a block's are NR floats further). Named int32 accumulators (GCC kept
 * an array of them on the stack), the float sums in C itself; a short
 * tile repeats its last row (computed, never stored). */
Q256 __attribute__((always_inline)) static inline void tile2_body(float *c, int ldc,
                                                                 const int8_t *qa, int ldq,
                                                                 const float *sa, int nb,
                                                                 const int8_t *bp,
                                                                 const float *sw, int rows,
                                                                 int cols, const int full) {
    const int8_t *a0 = qa, *a1 = rows > 1 ? a0 + ldq : a0, *a2 = rows > 2 ? a0 + 2 * ldq : a1,
                 *a3 = rows > 3 ? a0 + 3 * ldq : a2;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i m0 = qmask8(cols < 8 ? cols : 8), m1 = qmask8(cols > 8 ? cols - 8 : 0);
    for (int b = 0; b < nb; b++) {
        __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00, s20 = s00,
                s21 = s00, s30 = s00, s31 = s00;
        for (int g = b * GPB; g < (b + 1) * GPB; g++) {
            __m256i b0 = _mm256_load_si256((const __m256i *)(const void *)(bp + (size_t)g * GB)),
                    b1 = _mm256_load_si256(
                        (const __m256i *)(const void *)(bp + (size_t)g * GB + 32));
#define STEP(i)                                                                                    \
    {                                                                                              \
        int32_t v;                                                                                 \
        memcpy(&v, a##i + 4 * g, sizeof v);                                                        \
        __m256i av = _mm256_set1_epi32(v), ab = _mm256_abs_epi8(av);                               \
        s##i##0 = _mm256_add_epi32(                                                                \
            s##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(ab, _mm256_sign_epi8(b0, av)), ones)); \
        s##i##1 = _mm256_add_epi32(                                                                \
            s##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(ab, _mm256_sign_epi8(b1, av)), ones)); \
    }
            STEP(0)
            STEP(1)
            STEP(2)
            STEP(3)
#undef STEP
        }
        __m256 w0 = _mm256_loadu_ps(sw + (size_t)b * NR), w1 = _mm256_loadu_ps(sw + (size_t)b * NR + 8);
#define EPI(i)                                                                                     \
    if (rows > i) {                                                                                \
        float *ci = c + (size_t)(i) * (size_t)ldc;                                                 \
        __m256 sv = _mm256_set1_ps(sa[(size_t)(i) * (size_t)nb + (size_t)b]);                     \
        __m256 p0 = _mm256_mul_ps(_mm256_cvtepi32_ps(s##i##0), _mm256_mul_ps(sv, w0)),             \
               p1 = _mm256_mul_ps(_mm256_cvtepi32_ps(s##i##1), _mm256_mul_ps(sv, w1));             \
        if (full) {                                                                                \
            _mm256_storeu_ps(ci, _mm256_add_ps(_mm256_loadu_ps(ci), p0));                          \
            _mm256_storeu_ps(ci + 8, _mm256_add_ps(_mm256_loadu_ps(ci + 8), p1));                  \
        } else {                                                                                   \
            _mm256_maskstore_ps(ci, m0, _mm256_add_ps(_mm256_maskload_ps(ci, m0), p0));            \
            _mm256_maskstore_ps(ci + 8, m1, _mm256_add_ps(_mm256_maskload_ps(ci + 8, m1), p1));    \
        }                                                                                          \
    }
        EPI(0)
        EPI(1)
        EPI(2)
        EPI(3)
#undef EPI
    }
}

Q256 static void tile2(float *c, int ldc, const int8_t *qa, int ldq, const float *sa, int nb,
                       const int8_t *bp, const float *sw, int rows, int cols) {
    if (cols == 16)
        tile2_body(c, ldc, qa, ldq, sa, nb, bp, sw, rows, 16, 1);
    else
        tile2_body(c, ldc, qa, ldq, sa, nb, bp, sw, rows, cols, 0);
}

static void q8_avx2(float *c, int ldc, const int8_t *qa, int ldq, const float *sa,
                    const lg_q8_w *w, int m, int p0, int p1) {
    int nb = w->kp / QB;
    for (int p = p0; p < p1; p++) {
        int cols = w->n - p * NR < NR ? w->n - p * NR : NR;
        const int8_t *bp = w->packed + (size_t)p * (size_t)(w->kp / 4) * GB;
        const float *sw = w->scale + (size_t)p * (size_t)nb * NR;
        for (int h = 0; h < 2 && cols > h * 16; h++) {
            int hc = cols - h * 16 < 16 ? cols - h * 16 : 16;
            size_t col = (size_t)p * NR + (size_t)h * 16;
            for (int i = 0; i < m; i += MR2)
                tile2(c + (size_t)i * (size_t)ldc + col, ldc, qa + (size_t)i * (size_t)ldq, ldq,
                      sa + (size_t)i * (size_t)nb, nb, bp + h * 64, sw + h * 16,
                      m - i < MR2 ? m - i : MR2, hc);
        }
    }
}

/* ---- AVX-512 VNNI kernel ---------------------------------------------------------- */

#define Q512 __attribute__((target("avx512f,avx512bw,avx512vnni,avx2,fma"))) Q8_OPT

/* c (rows, 32 cols masked by m0/m1) += dequant(qa (rows, kp), shifted by
 * +128 . panel), block by block; sa (rows, nb); sw and corr (nb, 32) */
Q512 __attribute__((always_inline)) static inline void tile(float *c, int ldc, const int8_t *qa,
                                                            int ldq, const float *sa, int nb,
                                                            const int8_t *bp, const float *sw,
                                                            const int32_t *corr, const int rows,
                                                            __mmask16 m0, __mmask16 m1) {
    __m512 f[MR][2];
    __m512i acc[MR][2];
    for (int i = 0; i < rows; i++) {
        f[i][0] = _mm512_maskz_loadu_ps(m0, c + (size_t)i * (size_t)ldc);
        f[i][1] = _mm512_maskz_loadu_ps(m1, c + (size_t)i * (size_t)ldc + 16);
    }
    for (int b = 0; b < nb; b++) {
        for (int i = 0; i < rows; i++)
            acc[i][0] = acc[i][1] = _mm512_setzero_si512();
        for (int g = b * GPB; g < (b + 1) * GPB; g++) {
            __m512i b0 = _mm512_load_si512((const void *)(bp + (size_t)g * GB)),
                    b1 = _mm512_load_si512((const void *)(bp + (size_t)g * GB + 64));
#pragma GCC unroll 6
            for (int i = 0; i < rows; i++) {
                int32_t v;
                memcpy(&v, qa + (size_t)i * (size_t)ldq + 4 * (size_t)g, sizeof v);
                __m512i av = _mm512_set1_epi32(v);
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], av, b0);
                acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], av, b1);
            }
        }
        __m512i r0 = _mm512_load_si512((const void *)(corr + (size_t)b * NR)),
                r1 = _mm512_load_si512((const void *)(corr + (size_t)b * NR + 16));
        __m512 w0 = _mm512_load_ps(sw + (size_t)b * NR), w1 = _mm512_load_ps(sw + (size_t)b * NR + 16);
#pragma GCC unroll 6
        for (int i = 0; i < rows; i++) {
            __m512 sv = _mm512_set1_ps(sa[(size_t)i * (size_t)nb + (size_t)b]);
            f[i][0] = _mm512_add_ps(f[i][0],
                                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][0], r0)),
                                                  _mm512_mul_ps(sv, w0)));
            f[i][1] = _mm512_add_ps(f[i][1],
                                    _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][1], r1)),
                                                  _mm512_mul_ps(sv, w1)));
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(c + (size_t)i * (size_t)ldc, m0, f[i][0]);
        _mm512_mask_storeu_ps(c + (size_t)i * (size_t)ldc + 16, m1, f[i][1]);
    }
}

/* one instantiation per row count, so the accumulators live in registers */
#define TILE_CASE(r)                                                                               \
    case r: tile(c, ldc, qa, ldq, sa, nb, bp, sw, corr, r, m0, m1); break;

Q512 static void tile_rows(float *c, int ldc, const int8_t *qa, int ldq, const float *sa, int nb,
                           const int8_t *bp, const float *sw, const int32_t *corr, int rows,
                           __mmask16 m0, __mmask16 m1) {
    /* clang-format off */
    switch (rows) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
    default:
        break;
    }
    /* clang-format on */
}

static void q8_avx512(float *c, int ldc, const int8_t *qa, int ldq, const float *sa,
                      const lg_q8_w *w, int m, int p0, int p1) {
    int nb = w->kp / QB;
    for (int p = p0; p < p1; p++) {
        int cols = w->n - p * NR < NR ? w->n - p * NR : NR;
        __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
        __mmask16 m1 = (__mmask16)(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
        const int8_t *bp = w->packed + (size_t)p * (size_t)(w->kp / 4) * GB;
        size_t sb = (size_t)p * (size_t)nb * NR;
        for (int i = 0; i < m; i += MR)
            tile_rows(c + (size_t)i * (size_t)ldc + (size_t)p * NR, ldc,
                      qa + (size_t)i * (size_t)ldq, ldq, sa + (size_t)i * (size_t)nb, nb, bp,
                      w->scale + sb, w->corr + sb, m - i < MR ? m - i : MR, m0, m1);
    }
}
#endif

/* ---- Driver ---------------------------------------------------------------------- */

int lg_q8_run_panels(float *c, const float *a, const lg_q8_w *w, int m, int p0, int p1) {
    int k = w->k, kp = w->kp, n = w->n, nb = kp / QB;
    if (w->amax) { /* calibrating (single-threaded, at load) */
        for (int i = 0; i < m; i++)
            for (int kk = 0; kk < k; kk++) {
                float v = a[(size_t)i * (size_t)k + (size_t)kk];
                v = v < 0 ? -v : v;
                if (v > w->amax[kk]) w->amax[kk] = v;
            }
        return 0;
    }
    if (p1 > w->np / NR) p1 = w->np / NR;
    if (p0 >= p1 || m <= 0) return 1;
    _Alignas(64) int8_t qa[QBUF];
    float sa[QBUF / QB];
    /* rows per block: as many as QBUF holds (kp <= QBUF: at least one), in
     * whole register tiles; sa holds rows * nb <= QBUF / QB */
    int rb = QBUF / kp;
    if (rb > QROWS) rb = QROWS;
    if (rb >= MR) rb = rb / MR * MR;
    uint8_t flip = w->isa == LG_ISA_AVX512 ? 0x80 : 0;
    for (int i0 = 0; i0 < m; i0 += rb) {
        int rows = m - i0 < rb ? m - i0 : rb;
        for (int r = 0; r < rows; r++)
            lg_q8_quantize_row(a + (size_t)(i0 + r) * (size_t)k, w->smooth, k, kp, flip,
                               qa + (size_t)r * (size_t)kp, sa + (size_t)r * (size_t)nb);
        float *ci = c + (size_t)i0 * (size_t)n;
        switch (w->isa) {
#ifdef Q8_X86
        case LG_ISA_AVX512: q8_avx512(ci, n, qa, kp, sa, w, rows, p0, p1); break;
        case LG_ISA_AVX2: q8_avx2(ci, n, qa, kp, sa, w, rows, p0, p1); break;
#endif
        default: q8_generic(ci, n, qa, kp, sa, w, rows, p0, p1); break;
        }
    }
    return 1;
}
