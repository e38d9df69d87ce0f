/* sbert_kernels.c - the projections of the forward pass: C += A W^T by
 * OpenBLAS, by the packed kernel of sbert_gemm.c (AVX-512, AVX2 or
 * generic), or by dot products for a few rows (sbert_simd.c); and the
 * load-time choice between OpenBLAS and the packed kernel. Moved out of
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

int lg_sbert_gemm_prefer_packed(lg_isa isa) {
    enum { M = 192, N = 1536, K = 384 };
    float *a = malloc((size_t)M * K * sizeof *a), *w = malloc((size_t)N * K * sizeof *w),
          *c = malloc((size_t)M * N * sizeof *c);
    lg_gemm_w pw = {0};
    int prefer = 0;
    if (lg_blas_load(NULL)) { /* no OpenBLAS to compare with (sbert_load.c loads it first) */
        prefer = 1;
        goto out;
    }
    if (!a || !w || !c) goto out;
    for (size_t i = 0; i < (size_t)M * K; i++)
        a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        w[i] = (float)(i % 7) * 0.01f;
    memset(c, 0, (size_t)M * N * sizeof *c);
    if (lg_gemm_pack(w, N, K, isa, &pw, NULL)) goto out;
    /* OpenBLAS runs with the thread count the process gave it (never
     * changed here: that count is process-wide); the packed kernel on one
     * thread. Compared per thread: the packed kernel scales with the team
     * (disjoint panels), OpenBLAS with its own threads. */
    int blas_threads = lg_blas()->openblas_get_num_threads();
    if (blas_threads < 1) blas_threads = 1;
    double best_blas = 1e9, best_packed = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = lg_now();
        lg_blas()->cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, w, K,
                               1.0f, c, N);
        double t1 = lg_now();
        lg_gemm_run(c, a, &pw, M);
        double t2 = lg_now();
        if (t1 - t0 < best_blas) best_blas = t1 - t0;
        if (t2 - t1 < best_packed) best_packed = t2 - t1;
    }
    prefer = best_packed < best_blas * blas_threads;
    lg_log(LG_LOG_DEBUG,
           "sbert: sgemm %.2f ms (%d threads), packed %s kernel %.2f ms (1 thread): using %s",
           best_blas * 1e3, blas_threads, lg_isa_name(isa), best_packed * 1e3,
           prefer ? "the packed kernel" : "OpenBLAS");
out:
    lg_gemm_free(&pw);
    free(a);
    free(w);
    free(c);
    return prefer;
}
