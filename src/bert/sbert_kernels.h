/* sbert_kernels.h - the forward pass's compute kernels, called by the
 * batch driver in sbert.c: projections (the one place BLAS plugs in) in
 * sbert_kernels.c; the few-row projection, GELU, LayerNorm and
 * self-attention compiled once per ISA path in sbert_simd.c (body in
 * sbert_simd.h). Private to src/bert/ (docs/bert.md). */
#ifndef LOGIFY_BERT_SBERT_KERNELS_H
#define LOGIFY_BERT_SBERT_KERNELS_H

#include <stddef.h>

#include "bert/sbert_internal.h"

#define SB_SMALL_M 16 /* up to this many rows, dot products instead of sgemm */
/* packed projections: rows per block of bias, product and GELU (sbert.c) */
#define SB_ROW_BLOCK 120

typedef float sb_v8 __attribute__((vector_size(32)));
typedef float sb_v16 __attribute__((vector_size(64)));
/* helpers inlined into the kernels: same optimisation options, or GCC
 * refuses to inline them */
#define SB_INLINE __attribute__((optimize("O3", "no-trapping-math"), always_inline)) static inline
#define SB_PAD16(t) (((t) + 15) / 16 * 16)
/* attention: queries per block; the block's scores (SB_QBLOCK, T padded to
 * 16) are computed before its contexts, so that one head's keys and then
 * its values each stay in L1 while the block runs (a multiple of 4) */
#define SB_QBLOCK 32
/* attention: the row stride of one head's transposed keys (head_dim rows
 * of T): T padded to 16, plus 16 so that the stride is never a multiple
 * of 4 KB's fraction that maps every row to the same few L1 sets (a 256-
 * token line: 1 KB, 8 rows per set, conflict misses) */
#define SB_KT_LD(t) (SB_PAD16(t) + 16)

/* The element-wise kernels of one ISA path (sbert_simd.c). */
struct sb_kernels {
    /* c (m, n; row stride ldc) = beta c + a (m, k) . w^T, dot products */
    void (*matmul_small)(float *c, int ldc, const float *a, const float *w, int m, int n, int k,
                         float beta);
    /* y (n) = gelu(y), the erf form */
    void (*gelu)(float *y, size_t n);
    /* x (n) = LayerNorm(x + b) * g + beta; b may be NULL */
    void (*add_layernorm)(float *x, const float *b, const float *g, const float *beta, int n,
                          float eps);
    /* self-attention of one sequence of T tokens, heads [h0, h1) */
    void (*attention)(const lg_sbert *m, const float *qkv, float *ctx, float *scores, float *kt,
                      int T, int h0, int h1);
};

/* The table of an ISA path (generic for a path this build lacks). */
const sb_kernels *sb_kernels_for(lg_isa isa);

/* Columns [c0, c1) of C (m, n) += A (m, k) . W^T (sbert_kernels.c). */
void sb_matmul_wt(const lg_sbert *m, float *c, const float *a, const float *w,
                  const lg_gemm_w *pw, int rows, int n, int k, int c0, int c1);

#endif
