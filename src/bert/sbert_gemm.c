/* sbert_gemm.c - C (m, n) += A (m, k) . W^T for BERT's projections with
 * weights packed once at load (docs/bert.md, "GEMM"), for three ISAs:
 * AVX-512 (12 x 32 register tile), AVX2 + FMA (6 x 16 tile, each 32-column
 * panel in two halves) and a portable path in GNU C vector extensions
 * (4 x 16 tile) that compilers turn into NEON on aarch64, SSE on baseline
 * x86-64, whatever the target has elsewhere.
 *
 * Why not OpenBLAS alone: its run-time CPU detection picks the SSE3
 * "Prescott" kernel on some machines (measured on the dev machines: 25-28
 * GFLOPS per thread, against 70 with its SkylakeX kernel forced), and it
 * packs the weight matrix again on every call. The weights never change,
 * so here they are packed once, at load, into 32-column panels (AVX-512:
 * (k, 32) each; the 16-column kernels: two contiguous halves (k, 16)).
 * The packed kernel runs on the avx512 and avx2 paths, OpenBLAS on the
 * generic one (lg_sbert_gemm_prefer_packed: a rule, not a timing, so that
 * every load gives the same bits); LOGIFY_ISA forces an ISA (sbert_load.c).
 *
 * Every element of C is c + a0 b0 + a1 b1 + ... in k order, each step one
 * fused multiply-add on the AVX-512 and AVX2 paths: those two give the
 * same bits, whatever the rows of the tile or the panels a thread gets.
 * The portable path adds in the same order; whether a step is fused is the
 * compiler's choice (fused on aarch64, where GCC contracts a * b + c; not
 * on baseline x86-64, which has no FMA): same bits across threads and
 * batches on one build, within rounding of the others.
 */
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"
#include "bert/sbert_quant.h"

#ifdef __x86_64__
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define NR LG_GEMM_PANEL /* columns of a panel (32) */
#define MR 12            /* AVX-512: rows of a register tile */
#define MR2 6            /* AVX2: rows of a register tile (of 16 columns) */
#define MRG 4            /* portable: rows of a register tile (of 16 columns) */
#define MB 120           /* rows of A kept in L2 while the panels stream */

/* ---- ISA ------------------------------------------------------------------ */

const char *lg_isa_name(lg_isa isa) {
    switch (isa) {
    case LG_ISA_AVX512: return "avx512";
    case LG_ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

int lg_isa_supported(lg_isa isa) {
    if (isa == LG_ISA_GENERIC) return 1;
#ifdef GEMM_X86
    /* not __builtin_cpu_supports: its libgcc constructor runs 12 CPUIDs at
     * every start (src/core/cpu.c) */
    if (isa == LG_ISA_AVX2) return lg_cpu_has(LG_CPU_AVX2_FMA);
    if (isa == LG_ISA_AVX512) return lg_cpu_has(LG_CPU_AVX512F);
#endif
    return 0;
}

lg_isa lg_isa_best(void) {
    if (lg_isa_supported(LG_ISA_AVX512)) return LG_ISA_AVX512;
    if (lg_isa_supported(LG_ISA_AVX2)) return LG_ISA_AVX2;
    return LG_ISA_GENERIC;
}

lg_err lg_isa_parse(const char *s, lg_isa *out, lg_errmsg *err) {
    static const lg_isa all[] = {LG_ISA_GENERIC, LG_ISA_AVX2, LG_ISA_AVX512};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(s, lg_isa_name(all[i]))) {
            if (!lg_isa_supported(all[i]))
                return lg_fail(err, LG_EINVAL, "LOGIFY_ISA=%s: this CPU cannot run the %s path",
                               s, s);
            *out = all[i];
            return LG_OK;
        }
    return lg_fail(err, LG_EINVAL, "LOGIFY_ISA=%s: must be avx512, avx2 or generic", s);
}

/* ---- Packing ------------------------------------------------------------- */

void lg_gemm_free(lg_gemm_w *p) {
    if (!p) return;
    free(p->packed);
    memset(p, 0, sizeof *p);
}

lg_err lg_gemm_pack(const float *w, int n, int k, lg_isa isa, lg_gemm_w *out, lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->k = k;
    out->isa = isa;
    out->np = (n + NR - 1) / NR * NR;
    size_t bytes = (size_t)out->np * (size_t)k * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    out->packed = aligned_alloc(64, bytes ? bytes : 64);
    if (!out->packed) return lg_fail(err, LG_ENOMEM, "out of memory (packed weights)");
    /* AVX-512: packed (np / NR, k, NR), panel p holds columns p*NR ..
     * p*NR+NR-1. The 16-column kernels: each panel as two halves (2, k, 16),
     * so that a half is contiguous (at a stride of NR floats a half used
     * every other cache line and half the L1's sets). */
    int hw = isa == LG_ISA_AVX512 ? NR : NR / 2;
    for (int p = 0; p < out->np / NR; p++)
        for (int h = 0; h < NR / hw; h++)
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < hw; j++) {
                    int col = p * NR + h * hw + j;
                    out->packed[(size_t)p * (size_t)k * NR + (size_t)h * (size_t)k * (size_t)hw +
                                (size_t)kk * (size_t)hw + (size_t)j] =
                        col < n ? w[(size_t)col * (size_t)k + (size_t)kk] : 0.0f;
                }
    return LG_OK;
}

/* ---- Portable kernel (GNU C vectors) ---------------------------------------- */

typedef float gv4 __attribute__((vector_size(16)));
#define GEN_OPT __attribute__((optimize("O3", "no-trapping-math")))

/* one row of a tile: 16 columns (cols of them real) to and from C */
GEN_OPT __attribute__((always_inline)) static inline void row_load(gv4 x[4], const float *c,
                                                                  int cols) {
    float t[16] = {0};
    memcpy(t, c, (size_t)cols * sizeof *t);
    memcpy(x, t, sizeof t);
}
GEN_OPT __attribute__((always_inline)) static inline void row_store(float *c, const gv4 x[4],
                                                                   int cols) {
    float t[16];
    memcpy(t, x, sizeof t);
    memcpy(c, t, (size_t)cols * sizeof *t);
}

/* c (rows <= 4, cols <= 16) += a (rows, k) . half panel (k, 16). Named
 * accumulators (16 vectors of 4: NEON has 32 registers); a tile of fewer
 * rows repeats its last row (computed, never stored). */
GEN_OPT static void tile_gen(float *c, int ldc, const float *a, int lda, const float *bp, int k,
                             int rows, int cols, const char *pf, int npf) {
    const float *a0 = a, *a1 = rows > 1 ? a + lda : a0, *a2 = rows > 2 ? a + 2 * lda : a1,
                *a3 = rows > 3 ? a + 3 * lda : a2;
    gv4 x0[4], x1[4], x2[4], x3[4];
    row_load(x0, c, cols);
    row_load(x1, rows > 1 ? c + ldc : c, cols);
    row_load(x2, rows > 2 ? c + 2 * ldc : c, cols);
    row_load(x3, rows > 3 ? c + 3 * ldc : c, cols);
    gv4 p00 = x0[0], p01 = x0[1], p02 = x0[2], p03 = x0[3], p10 = x1[0], p11 = x1[1], p12 = x1[2],
        p13 = x1[3], p20 = x2[0], p21 = x2[1], p22 = x2[2], p23 = x2[3], p30 = x3[0], p31 = x3[1],
        p32 = x3[2], p33 = x3[3];
    for (int kk = 0; kk < k; kk++) {
        if (kk < npf) __builtin_prefetch(pf + (size_t)kk * 64, 0, 2);
        gv4 b0, b1, b2, b3;
        const float *b = bp + (size_t)kk * 16;
        memcpy(&b0, b, sizeof b0);
        memcpy(&b1, b + 4, sizeof b1);
        memcpy(&b2, b + 8, sizeof b2);
        memcpy(&b3, b + 12, sizeof b3);
#define STEP(i)                                                                                    \
    {                                                                                              \
        float s = a##i[kk];                                                                        \
        p##i##0 += s * b0;                                                                         \
        p##i##1 += s * b1;                                                                         \
        p##i##2 += s * b2;                                                                         \
        p##i##3 += s * b3;                                                                         \
    }
        STEP(0)
        STEP(1)
        STEP(2)
        STEP(3)
#undef STEP
    }
    x0[0] = p00, x0[1] = p01, x0[2] = p02, x0[3] = p03;
    x1[0] = p10, x1[1] = p11, x1[2] = p12, x1[3] = p13;
    x2[0] = p20, x2[1] = p21, x2[2] = p22, x2[3] = p23;
    x3[0] = p30, x3[1] = p31, x3[2] = p32, x3[3] = p33;
    if (rows > 3) row_store(c + 3 * ldc, x3, cols);
    if (rows > 2) row_store(c + 2 * ldc, x2, cols);
    if (rows > 1) row_store(c + ldc, x1, cols);
    row_store(c, x0, cols);
}

/* ---- AVX2 + FMA kernel ----------------------------------------------------- */

#ifdef GEMM_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* lane masks for the first `cols` (0..8) of 8 columns */
AVX2 static inline __m256i mask8(int cols) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), idx);
}

/* c (rows <= 6, cols <= 16: masked when `full` is 0) += a (rows, k) . half
 * panel (k, 16). The 12 accumulators are named variables (an array of them
 * ended up on the stack); a tile of fewer rows repeats its last row
 * (computed, never stored), so the loop is always the full tile. A tile of
 * 16 columns uses plain loads and stores: vmaskmovps stores are slow on
 * AMD (Zen 3: ~6% of a 384-deep tile). */
AVX2 __attribute__((always_inline)) static inline void tile2_body(float *c, int ldc, const float *a,
                                                                 int lda, const float *bp, int k,
                                                                 int rows, int cols,
                                                                 const int full, const char *pf,
                                                                 int npf) {
    __m256i m0 = mask8(cols < 8 ? cols : 8), m1 = mask8(cols > 8 ? cols - 8 : 0);
    const float *a0 = a, *a1 = rows > 1 ? a + lda : a0, *a2 = rows > 2 ? a + 2 * lda : a1,
                *a3 = rows > 3 ? a + 3 * lda : a2, *a4 = rows > 4 ? a + 4 * lda : a3,
                *a5 = rows > 5 ? a + 5 * lda : a4;
    float *c0 = c, *c1 = rows > 1 ? c + ldc : c0, *c2 = rows > 2 ? c + 2 * ldc : c1,
          *c3 = rows > 3 ? c + 3 * ldc : c2, *c4 = rows > 4 ? c + 4 * ldc : c3,
          *c5 = rows > 5 ? c + 5 * ldc : c4;
#define LD(i)                                                                                      \
    __m256 x##i##0 = full ? _mm256_loadu_ps(c##i) : _mm256_maskload_ps(c##i, m0),                 \
           x##i##1 = full ? _mm256_loadu_ps(c##i + 8) : _mm256_maskload_ps(c##i + 8, m1)
    LD(0);
    LD(1);
    LD(2);
    LD(3);
    LD(4);
    LD(5);
#undef LD
    for (int kk = 0; kk < k; kk++) {
        if (kk < npf) _mm_prefetch(pf + (size_t)kk * 64, _MM_HINT_T1);
        __m256 b0 = _mm256_load_ps(bp + (size_t)kk * 16),
               b1 = _mm256_load_ps(bp + (size_t)kk * 16 + 8), av;
#define STEP(i)                                                                                    \
    av = _mm256_broadcast_ss(a##i + kk);                                                           \
    x##i##0 = _mm256_fmadd_ps(av, b0, x##i##0);                                                    \
    x##i##1 = _mm256_fmadd_ps(av, b1, x##i##1)
        STEP(0);
        STEP(1);
        STEP(2);
        STEP(3);
        STEP(4);
        STEP(5);
#undef STEP
    }
    /* last row first: a repeated row's pointer is the real row's, whose
     * store comes after and is the one that counts (same values anyway) */
#define ST(i)                                                                                      \
    if (full)                                                                                      \
        _mm256_storeu_ps(c##i, x##i##0), _mm256_storeu_ps(c##i + 8, x##i##1);                      \
    else                                                                                           \
        _mm256_maskstore_ps(c##i, m0, x##i##0), _mm256_maskstore_ps(c##i + 8, m1, x##i##1)
    ST(5);
    ST(4);
    ST(3);
    ST(2);
    ST(1);
    ST(0);
#undef ST
}

AVX2 static void tile2(float *c, int ldc, const float *a, int lda, const float *bp, int k, int rows,
                       int cols, const char *pf, int npf) {
    if (cols == 16)
        tile2_body(c, ldc, a, lda, bp, k, rows, 16, 1, pf, npf);
    else
        tile2_body(c, ldc, a, lda, bp, k, rows, cols, 0, pf, npf);
}

/* ---- AVX-512 kernel -------------------------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* c (rows, NR cols masked by m0/m1) += a (rows, k) . panel (k, NR); on
 * the way, the npf cache lines from pf are prefetched into L2, one per
 * step of k (a burst of them at once stalled on the fill buffers: 8% of
 * the forward pass) */
AVX512 __attribute__((always_inline)) static inline void tile(float *c, int ldc, const float *a,
                                                              int lda, const float *bp, int k,
                                                              const int rows, __mmask16 m0,
                                                              __mmask16 m1, const char *pf,
                                                              int npf) {
    __m512 acc[MR][2];
    for (int i = 0; i < rows; i++) {
        acc[i][0] = _mm512_maskz_loadu_ps(m0, c + (size_t)i * (size_t)ldc);
        acc[i][1] = _mm512_maskz_loadu_ps(m1, c + (size_t)i * (size_t)ldc + 16);
    }
    for (int kk = 0; kk < k; kk++) {
        if (kk < npf) _mm_prefetch(pf + (size_t)kk * 64, _MM_HINT_T1);
        __m512 b0 = _mm512_load_ps(bp + (size_t)kk * NR),
               b1 = _mm512_load_ps(bp + (size_t)kk * NR + 16);
#pragma GCC unroll 12
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[(size_t)i * (size_t)lda + (size_t)kk]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    for (int i = 0; i < rows; i++) {
        _mm512_mask_storeu_ps(c + (size_t)i * (size_t)ldc, m0, acc[i][0]);
        _mm512_mask_storeu_ps(c + (size_t)i * (size_t)ldc + 16, m1, acc[i][1]);
    }
}

/* one instantiation per row count, so the accumulators live in registers */
#define TILE_CASE(r)                                                                               \
    case r: tile(c, ldc, a, lda, bp, k, r, m0, m1, pf, npf); break;

AVX512 static void tile_rows(float *c, int ldc, const float *a, int lda, const float *bp, int k,
                             int rows, __mmask16 m0, __mmask16 m1, const char *pf, int npf) {
    /* clang-format off */
    switch (rows) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
        TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
    default:
        break;
    }
    /* clang-format on */
}
#endif

/* ---- Drivers ----------------------------------------------------------------
 * Columns [p0 * NR, p1 * NR) of C (clipped to n): whole panels only, so
 * that threads given disjoint panel ranges never share an output element
 * and every element is summed in the same order as by a single thread. */

#define PANEL_COLS(w, p) ((w)->n - (p)*NR < NR ? (w)->n - (p)*NR : NR)

#ifdef GEMM_X86
AVX512 static void gemm_avx512(float *c, const float *a, const lg_gemm_w *w, int m, int p0,
                               int p1) {
    int n = w->n, k = w->k;
    for (int i0 = 0; i0 < m; i0 += MB) {
        int i1 = i0 + MB < m ? i0 + MB : m;
        for (int p = p0; p < p1; p++) {
            int cols = PANEL_COLS(w, p);
            __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
            __mmask16 m1 = (__mmask16)(cols >= 32  ? 0xFFFF
                                       : cols > 16 ? (1u << (cols - 16)) - 1
                                                   : 0);
            const float *bp = w->packed + (size_t)p * (size_t)k * NR;
            /* the next panel (k x 32 floats: 2k cache lines), a share of it
             * per tile, into L2: W is streamed again for every row block,
             * and the wide matrices (Q/K/V, FFN up: 1.8-2.4 MB packed)
             * do not stay in L2 */
            const char *next = (const char *)(bp + (size_t)k * NR);
            int lines = p + 1 < p1 ? k * 2 : 0, tiles = (i1 - i0 + MR - 1) / MR;
            int per = (lines + tiles - 1) / tiles, done = 0;
            for (int i = i0; i < i1; i += MR) {
                int rows = i1 - i < MR ? i1 - i : MR;
                int npf = lines - done < per ? lines - done : per;
                /* the next tile's C rows (its 32 columns: 2 lines a row):
                 * the next rows, or the block's first rows of the next panel */
                int inext = i + MR < i1 ? i + MR : i0, pn = i + MR < i1 ? p : p + 1;
                int rnext = i1 - inext < MR ? i1 - inext : MR;
                if (pn < p1)
                    for (int r = 0; r < rnext; r++) {
                        const float *cn = c + (size_t)(inext + r) * (size_t)n + (size_t)pn * NR;
                        _mm_prefetch((const char *)cn, _MM_HINT_T0);
                        _mm_prefetch((const char *)(cn + 16), _MM_HINT_T0);
                    }
                tile_rows(c + (size_t)i * (size_t)n + (size_t)p * NR, n, a + (size_t)i * (size_t)k,
                          k, bp, k, rows, m0, m1, next + (size_t)done * 64, npf);
                done += npf;
            }
        }
    }
}
#endif

/* a register tile of up to `rows` rows and 16 columns (cols real) */
typedef void (*tile16_fn)(float *c, int ldc, const float *a, int lda, const float *bp, int k,
                          int rows, int cols, const char *pf, int npf);

/* The AVX2 and portable drivers: each panel as two contiguous halves of
 * 16 columns, tiles of mr rows over the whole of k. (Cutting k into
 * chunks that stay in L1 was measured slower here, 71 against 80 GFLOPS
 * on 480 x 1152 x 384: k is at most 1,536, and every chunk loads and
 * stores C again.) While a tile runs, the next tile's C rows are
 * prefetched (for the wide products C is far larger than the caches), and
 * a share of the next half panel. */
static void gemm_halves(float *c, const float *a, const lg_gemm_w *w, int m, int p0, int p1,
                        int mr, tile16_fn tile16) {
    int n = w->n, k = w->k;
    for (int i0 = 0; i0 < m; i0 += MB) {
        int i1 = i0 + MB < m ? i0 + MB : m;
        for (int p = p0; p < p1; p++) {
            int cols = PANEL_COLS(w, p);
            for (int h = 0; h < 2 && cols > h * 16; h++) {
                int hc = cols - h * 16 < 16 ? cols - h * 16 : 16;
                const float *bp =
                    w->packed + (size_t)p * (size_t)k * NR + (size_t)h * (size_t)k * 16;
                size_t col = (size_t)p * NR + (size_t)h * 16;
                /* the next half panel (k lines), a share per tile, into L2
                 * (as in gemm_avx512) */
                const char *next = (const char *)(bp + (size_t)k * 16);
                int lines = bp + (size_t)k * 16 < w->packed + (size_t)p1 * (size_t)k * NR ? k : 0;
                int per = (lines + (i1 - i0 + mr - 1) / mr - 1) / ((i1 - i0 + mr - 1) / mr),
                    done = 0;
                for (int i = i0; i < i1; i += mr) {
                    int rows = i1 - i < mr ? i1 - i : mr;
                    int npf = lines - done < per ? lines - done : per;
                    /* the next tile: the next rows, or after the last
                     * tile the block's first rows of the next 16 columns */
                    int inext = i + mr < i1 ? i + mr : i0;
                    size_t cnext = i + mr < i1 ? col : col + 16;
                    int rnext = i1 - inext < mr ? i1 - inext : mr;
                    if (cnext < (size_t)n)
                        for (int r = 0; r < rnext; r++)
                            __builtin_prefetch(c + (size_t)(inext + r) * (size_t)n + cnext, 1, 3);
                    tile16(c + (size_t)i * (size_t)n + col, n, a + (size_t)i * (size_t)k, k, bp, k,
                           rows, hc, next + (size_t)done * 64, npf);
                    done += npf;
                }
            }
        }
    }
}

void lg_gemm_run(float *c, const float *a, const lg_gemm_w *w, int m) {
    lg_gemm_run_panels(c, a, w, m, 0, w->np / NR);
}

void lg_gemm_run_panels(float *c, const float *a, const lg_gemm_w *w, int m, int p0, int p1) {
    /* --quantize int8 (sbert_quant.c): the int8 product, or (while the
     * model calibrates at load) statistics of A and then this product */
    if (w->q8 && lg_q8_run_panels(c, a, w->q8, m, p0, p1)) return;
    if (p1 > w->np / NR) p1 = w->np / NR;
    if (p0 >= p1 || m <= 0) return;
    switch (w->isa) {
#ifdef GEMM_X86
    case LG_ISA_AVX512: gemm_avx512(c, a, w, m, p0, p1); break;
    case LG_ISA_AVX2: gemm_halves(c, a, w, m, p0, p1, MR2, tile2); break;
#endif
    default: gemm_halves(c, a, w, m, p0, p1, MRG, tile_gen); break;
    }
}
