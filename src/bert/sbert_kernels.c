/* sbert_kernels.c - the forward pass's dense kernels: the projections
 * (C += A W^T by OpenBLAS, by the packed AVX-512 kernel of sbert_gemm.c, or
 * by dot products for a few rows; and the load-time choice between the
 * first two), GELU and LayerNorm, vectorised with AVX2 / AVX-512 clones.
 * Moved out of sbert.c (issue 15); the driver that calls them is sbert.c,
 * attention is sbert_attention.c. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bert/sbert_kernels.h"

/* ---- Projections ------------------------------------------------------------
 * The single place BLAS plugs in. */

/* Few rows (a single short message): sgemm would pack the whole weight
 * matrix for a handful of rows; dot products read each weight row once
 * while the m input rows stay in L1. c (m, n; row stride ldc) = beta c +
 * a (m, k) . w^T. */
SB_KERNEL static void matmul_wt_small(float *c, int ldc, const float *a, const float *w, int m,
                                      int n, int k, float beta) {
    for (int j = 0; j < n; j++) {
        const float *wj = w + (size_t)j * (size_t)k;
        for (int r = 0; r < m; r++) {
            const float *ar = a + (size_t)r * (size_t)k;
            sb_v8 s0 = {0}, s1 = {0}, x0, y0, x1, y1;
            int i = 0;
            for (; i + 16 <= k; i += 16) {
                memcpy(&x0, ar + i, sizeof x0);
                memcpy(&y0, wj + i, sizeof y0);
                memcpy(&x1, ar + i + 8, sizeof x1);
                memcpy(&y1, wj + i + 8, sizeof y1);
                s0 += x0 * y0;
                s1 += x1 * y1;
            }
            s0 += s1;
            float sum = ((s0[0] + s0[4]) + (s0[1] + s0[5])) + ((s0[2] + s0[6]) + (s0[3] + s0[7]));
            for (; i < k; i++)
                sum += ar[i] * wj[i];
            float *cc = c + (size_t)r * (size_t)ldc + j;
            *cc = beta != 0.0f ? beta * *cc + sum : sum;
        }
    }
}

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
        matmul_wt_small(c + c0, n, a, w + (size_t)c0 * (size_t)k, rows, c1 - c0, k, 1.0f);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c1 - c0, k, 1.0f, a, k,
                    w + (size_t)c0 * (size_t)k, k, 1.0f, c + c0, n);
    }
}

int lg_sbert_gemm_prefer_packed(void) {
    enum { M = 192, N = 1536, K = 384 };
    float *a = malloc((size_t)M * K * sizeof *a), *w = malloc((size_t)N * K * sizeof *w),
          *c = malloc((size_t)M * N * sizeof *c);
    lg_gemm_w pw = {0};
    int prefer = 0;
    if (!a || !w || !c) goto out;
    for (size_t i = 0; i < (size_t)M * K; i++)
        a[i] = (float)(i % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        w[i] = (float)(i % 7) * 0.01f;
    memset(c, 0, (size_t)M * N * sizeof *c);
    if (lg_gemm_pack(w, N, K, &pw, NULL)) goto out;
    /* OpenBLAS runs with the thread count the process gave it (never
     * changed here: that count is process-wide); the packed kernel on one
     * thread. Compared per thread: the packed kernel scales with the team
     * (disjoint panels), OpenBLAS with its own threads. */
    int blas_threads = openblas_get_num_threads();
    if (blas_threads < 1) blas_threads = 1;
    double best_blas = 1e9, best_packed = 1e9;
    for (int round = 0; round < 3; round++) {
        double t0 = lg_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, w, K, 1.0f, c, N);
        double t1 = lg_now();
        lg_gemm_run(c, a, &pw, M);
        double t2 = lg_now();
        if (t1 - t0 < best_blas) best_blas = t1 - t0;
        if (t2 - t1 < best_packed) best_packed = t2 - t1;
    }
    prefer = best_packed < best_blas * blas_threads;
    lg_log(LG_LOG_DEBUG,
           "sbert: sgemm %.2f ms (%d threads), packed kernel %.2f ms (1 thread): using %s",
           best_blas * 1e3, blas_threads, best_packed * 1e3,
           prefer ? "the packed kernel" : "OpenBLAS");
out:
    lg_gemm_free(&pw);
    free(a);
    free(w);
    free(c);
    return prefer;
}

/* ---- Element-wise kernels ------------------------------------------------------ */

/* erf(x) for float, rational approximation (Eigen's generic_fast_erf_float):
 * |error| < 5e-7 on the whole line, branch-free so that the GELU loop
 * vectorises (glibc's erff does not). */
SB_INLINE float erf_fast(float x) {
    x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

/* y (n) = sb_gelu(y), the erf form: 0.5 x (1 + erf(x / sqrt 2)). */
SB_KERNEL void sb_gelu(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = y[i];
        y[i] = 0.5f * v * (1.0f + erf_fast(v * 0.70710678118654752f));
    }
}

/* x (n) = LayerNorm(x + b) * g + beta; b may be NULL. */
SB_KERNEL void sb_add_layernorm(float *x, const float *b, const float *g, const float *beta,
                                 int n, float eps) {
    if (b)
        for (int i = 0; i < n; i++)
            x[i] += b[i];
    float mean = 0;
    for (int i = 0; i < n; i++)
        mean += x[i];
    mean /= (float)n;
    float var = 0;
    for (int i = 0; i < n; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)n;
    float inv = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mean) * inv * g[i] + beta[i];
}
