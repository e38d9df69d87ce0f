/* sbert_simd.c - the element-wise kernels (sbert_simd.h: the few-row
 * projection, GELU, LayerNorm, self-attention) compiled once per ISA path:
 * generic (the target's baseline: SSE2 on x86-64, NEON on aarch64), AVX2 +
 * FMA and AVX-512 on x86-64. The model picks a table at load
 * (sb_kernels_for, with the packed GEMM's ISA), so LOGIFY_ISA forces the
 * whole forward pass onto one path and the tests can run every path on one
 * machine. Replaces the target_clones of sbert_kernels.c and
 * sbert_attention.c (their ifunc resolvers could not follow LOGIFY_ISA). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bert/sbert_kernels.h"

#ifdef __x86_64__
#include <immintrin.h> /* the vector paths' exponential (sbert_simd.h) */
#endif

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

#define SB_OPT __attribute__((optimize("O3", "no-trapping-math")))

#define SB_FN(name) name##_generic
#define SB_TGT SB_OPT
#define SB_VW 4
#include "bert/sbert_simd.h"
#undef SB_FN
#undef SB_TGT
#undef SB_VW

#ifdef __x86_64__
#define SB_FN(name) name##_avx2
#define SB_TGT SB_OPT __attribute__((target("avx2,fma")))
#define SB_VW 8
#include "bert/sbert_simd.h"
#undef SB_FN
#undef SB_TGT
#undef SB_VW

#define SB_FN(name) name##_avx512
#define SB_TGT SB_OPT __attribute__((target("avx512f,avx2,fma")))
#define SB_VW 16
#include "bert/sbert_simd.h"
#undef SB_FN
#undef SB_TGT
#undef SB_VW
#endif

const sb_kernels *sb_kernels_for(lg_isa isa) {
#ifdef __x86_64__
    if (isa == LG_ISA_AVX512) return &sb_kernels_avx512;
    if (isa == LG_ISA_AVX2) return &sb_kernels_avx2;
#endif
    (void)isa;
    return &sb_kernels_generic;
}
