/* sbert_kernels.h - the forward pass's compute kernels, called by the
 * batch driver in sbert.c: projections (the one place BLAS plugs in), GELU
 * and LayerNorm in sbert_kernels.c, self-attention in sbert_attention.c.
 * Private to src/bert/ (docs/bert.md). */
#ifndef LOGIFY_BERT_SBERT_KERNELS_H
#define LOGIFY_BERT_SBERT_KERNELS_H

#include <stddef.h>

#include "bert/sbert_internal.h"

/* element-wise kernels: vectorised, with AVX2 / AVX-512 clones picked at
 * run time (the library itself is built for the baseline x86-64) */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define SB_KERNEL                                                                                  \
    __attribute__((optimize("O3", "no-trapping-math"), target_clones("avx512f", "avx2", "default")))
#else
#define SB_KERNEL __attribute__((optimize("O3", "no-trapping-math")))
#endif
#define SB_SMALL_M 16 /* up to this many rows, dot products instead of sgemm */

typedef float sb_v8 __attribute__((vector_size(32)));
typedef float sb_v16 __attribute__((vector_size(64)));
/* helpers inlined into the kernels: same optimisation options, or GCC
 * refuses to inline them */
#define SB_INLINE __attribute__((optimize("O3", "no-trapping-math"), always_inline)) static inline
#define SB_PAD16(t) (((t) + 15) / 16 * 16)

/* Columns [c0, c1) of C (m, n) += A (m, k) . W^T (sbert_kernels.c). */
void sb_matmul_wt(const lg_sbert *m, float *c, const float *a, const float *w,
                  const lg_gemm_w *pw, int rows, int n, int k, int c0, int c1);
/* y (n) = gelu(y), the erf form. */
void sb_gelu(float *y, size_t n);
/* x (n) = LayerNorm(x + b) * g + beta; b may be NULL. */
void sb_add_layernorm(float *x, const float *b, const float *g, const float *beta, int n,
                      float eps);
/* Self-attention of one sequence of T tokens, heads [h0, h1)
 * (sbert_attention.c). */
void sb_attention(const lg_sbert *m, const float *qkv, float *ctx, float *scores, float *kt,
                  int T, int h0, int h1);

#endif
