/* sbert_gemm.c - C (m, n) += A (m, k) . W^T for BERT's projections with
 * weights packed once at load, on AVX-512 (docs/bert.md, "GEMM").
 *
 * Why not OpenBLAS alone: its run-time CPU detection picks the SSE3
 * "Prescott" kernel on some machines (measured on the dev machines: 25-28
 * GFLOPS per thread, against 70 with its SkylakeX kernel forced), and it
 * packs the weight matrix again on every call. The weights never change,
 * so here they are packed once, at load, into 32-column panels, and a
 * 12 x 32 register-blocked AVX-512 kernel runs over them. Whichever of this
 * kernel and OpenBLAS's sgemm is faster on the machine is chosen at load
 * (lg_gemm_prefer_packed); on CPUs without AVX-512 OpenBLAS is used.
 */
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_internal.h"

#ifdef __x86_64__
#include <immintrin.h>
#define GEMM_X86 1
#endif

#define NR LG_GEMM_PANEL /* columns of a panel (32): two zmm registers */
#define MR 12            /* rows of a register tile */
#define MB 120           /* rows of A kept in L2 while the panels stream */

/* ---- Packing ------------------------------------------------------------- */

void lg_gemm_free(lg_gemm_w *p) {
    if (!p) return;
    free(p->packed);
    memset(p, 0, sizeof *p);
}

lg_err lg_gemm_pack(const float *w, int n, int k, lg_gemm_w *out, lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->k = k;
    out->np = (n + NR - 1) / NR * NR;
    size_t bytes = (size_t)out->np * (size_t)k * sizeof(float);
    bytes = (bytes + 63) / 64 * 64;
    out->packed = aligned_alloc(64, bytes ? bytes : 64);
    if (!out->packed) return lg_fail(err, LG_ENOMEM, "out of memory (packed weights)");
    /* packed (np / NR, k, NR): panel p holds columns p*NR .. p*NR+NR-1 */
    for (int p = 0; p < out->np / NR; p++)
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++) {
                int col = p * NR + j;
                out->packed[((size_t)p * (size_t)k + (size_t)kk) * NR + (size_t)j] =
                    col < n ? w[(size_t)col * (size_t)k + (size_t)kk] : 0.0f;
            }
    return LG_OK;
}

/* ---- AVX-512 kernel -------------------------------------------------------- */

#ifdef GEMM_X86
#define AVX512 __attribute__((target("avx512f")))

/* c (rows, NR cols masked by m0/m1) += a (rows, k) . panel (k, NR) */
AVX512 __attribute__((always_inline)) static inline void tile(float *c, int ldc, const float *a,
                                                              int lda, const float *bp, int k,
                                                              const int rows, __mmask16 m0,
                                                              __mmask16 m1) {
    __m512 acc[MR][2];
    for (int i = 0; i < rows; i++) {
        acc[i][0] = _mm512_maskz_loadu_ps(m0, c + (size_t)i * (size_t)ldc);
        acc[i][1] = _mm512_maskz_loadu_ps(m1, c + (size_t)i * (size_t)ldc + 16);
    }
    for (int kk = 0; kk < k; kk++) {
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
    case r: tile(c, ldc, a, lda, bp, k, r, m0, m1); break;

AVX512 static void tile_rows(float *c, int ldc, const float *a, int lda, const float *bp, int k,
                             int rows, __mmask16 m0, __mmask16 m1) {
    /* clang-format off */
    switch (rows) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6)
        TILE_CASE(7) TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12)
    default:
        break;
    }
    /* clang-format on */
}

/* columns [p0 * NR, p1 * NR) of C (clipped to n): whole panels only, so
 * that threads given disjoint panel ranges never share an output element
 * and every element is summed in the same order as by a single thread */
AVX512 static void gemm_avx512(float *c, const float *a, const lg_gemm_w *w, int m, int p0,
                               int p1) {
    int n = w->n, k = w->k;
    for (int i0 = 0; i0 < m; i0 += MB) {
        int i1 = i0 + MB < m ? i0 + MB : m;
        for (int p = p0; p < p1; p++) {
            int cols = n - p * NR < NR ? n - p * NR : NR;
            __mmask16 m0 = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
            __mmask16 m1 = (__mmask16)(cols >= 32  ? 0xFFFF
                                       : cols > 16 ? (1u << (cols - 16)) - 1
                                                   : 0);
            const float *bp = w->packed + (size_t)p * (size_t)k * NR;
            for (int i = i0; i < i1; i += MR) {
                int rows = i1 - i < MR ? i1 - i : MR;
                tile_rows(c + (size_t)i * (size_t)n + (size_t)p * NR, n, a + (size_t)i * (size_t)k,
                          k, bp, k, rows, m0, m1);
            }
        }
    }
}
#endif

int lg_gemm_available(void) {
#ifdef GEMM_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void lg_gemm_run(float *c, const float *a, const lg_gemm_w *w, int m) {
    lg_gemm_run_panels(c, a, w, m, 0, w->np / NR);
}

void lg_gemm_run_panels(float *c, const float *a, const lg_gemm_w *w, int m, int p0, int p1) {
#ifdef GEMM_X86
    if (p1 > w->np / NR) p1 = w->np / NR;
    if (p0 < p1) gemm_avx512(c, a, w, m, p0, p1);
#else
    (void)c;
    (void)a;
    (void)w;
    (void)m;
    (void)p0;
    (void)p1;
#endif
}
