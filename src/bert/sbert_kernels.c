/* sbert_kernels.c - the projections of the forward pass: C += A W^T by
 * OpenBLAS, by the packed kernel of sbert_gemm.c (AVX-512, AVX2 or
 * generic), or by dot products for a few rows (sbert_simd.c); and the
 * load-time rule between OpenBLAS and the packed kernel. Moved out of
 * sbert.c (issue 15); the driver that calls it is sbert.c. GELU, LayerNorm
 * and attention are in sbert_simd.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/dynlib_blas.h"
#include "bert/sbert_kernels.h"

/* ---- Projections ------------------------------------------------------------
 * The single place BLAS plugs in. */

/* Columns [c0, c1) of C (m, n) += A (m, k) . W^T, W (n, k) row-major as
 * stored by nn.Linear (pw: its packed copy when the model uses the packed
 * kernel; c0 and c1 are then multiples of LG_GEMM_PANEL, or n). Each
 * element of C is the same sum whatever the column range: threads given
 * disjoint ranges get bit-identical results. The one place BLAS plugs in. */
void sb_matmul_wt(const lg_sbert *m, float *c, const float *a, const float *w,
                  const lg_gemm_w *pw, int rows, int n, int k, int c0, int c1) {
    if (c0 >= c1) return;
    if (m->use_packed) {
        lg_gemm_run_panels(c, a, pw, rows, c0 / LG_GEMM_PANEL,
                           (c1 + LG_GEMM_PANEL - 1) / LG_GEMM_PANEL);
    } else if (rows <= SB_SMALL_M) {
        m->kern->matmul_small(c + c0, n, a, w + (size_t)c0 * (size_t)k, rows, c1 - c0, k, 1.0f);
    } else {
        lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c1 - c0, k, 1.0f,
                               a, k, w + (size_t)c0 * (size_t)k, k, 1.0f, c + c0, n);
    }
}

/* The projection kernel by CPU feature, never by a timing: a timing at load
 * flipped between the packed kernel and OpenBLAS from run to run when the
 * two were close or the machine was loaded (8 loads of 20 took OpenBLAS
 * with OPENBLAS_NUM_THREADS=1 on the Xeon of 2026-12-07), and the two do
 * not give the same bits, so `embed` output changed between runs. On the
 * avx512 and avx2 paths the packed kernel: on a batch (480 rows) it is on
 * a par with OpenBLAS's kernel for the CPU, and for the few rows of one
 * log line 2-3x faster (OpenBLAS packs the whole weight matrix on every
 * call); docs/bert.md, "GEMM choice". On the generic path OpenBLAS, whose
 * hand-written kernels for the CPU (NEON, SVE, SSE) beat the portable tile
 * the compiler vectorises (LOGIFY_ISA=generic or LOGIFY_SBERT_GEMM=packed
 * still force that tile). */
int lg_sbert_gemm_prefer_packed(lg_isa isa) {
    return isa == LG_ISA_AVX512 || isa == LG_ISA_AVX2;
}
