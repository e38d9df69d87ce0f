/* sbert_simd.h - the body of the element-wise kernels (the few-row
 * projection, GELU, LayerNorm, self-attention), written once in GNU C
 * vectors and compiled once per ISA by sbert_simd.c, which includes this
 * file three times with SB_FN(name) (the ISA's suffix) and SB_TGT (its
 * target attribute) defined. No include guard, on purpose. Private to
 * src/bert/ (docs/bert.md, "ISA paths"). */

/* Few rows (a single short message) on OpenBLAS: sgemm would pack the
 * whole weight matrix for a handful of rows; dot products read each weight
 * row once while the m input rows stay in L1. c (m, n; row stride ldc) =
 * beta c + a (m, k) . w^T. */
SB_TGT static void SB_FN(matmul_small)(float *c, int ldc, const float *a, const float *w, int m,
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

/* y (n) = gelu(y), the erf form: 0.5 x (1 + erf(x / sqrt 2)). */
SB_TGT static void SB_FN(gelu)(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = y[i];
        y[i] = 0.5f * v * (1.0f + erf_fast(v * 0.70710678118654752f));
    }
}

/* the sum of (x[i] - c)^2 (sq 1) or of x[i] - c (sq 0) over i < n, on 16
 * fixed lanes (element i to lane i % 16), then a fixed tree: the same
 * operations whatever the vector width, so every path gives the same bits,
 * and 16 independent chains instead of one (a serial sum of 384 floats was
 * bound by the latency of its additions) */
SB_TGT __attribute__((always_inline)) static inline float SB_FN(sum16)(const float *x, float c,
                                                                      int n, const int sq) {
    float z[16] = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++)
            z[l] += sq ? (x[i + l] - c) * (x[i + l] - c) : x[i + l] - c;
    for (int l = 0; i + l < n; l++)
        z[l] += sq ? (x[i + l] - c) * (x[i + l] - c) : x[i + l] - c;
    for (int l = 0; l < 8; l++)
        z[l] += z[l + 8];
    for (int l = 0; l < 4; l++)
        z[l] += z[l + 4];
    return (z[0] + z[2]) + (z[1] + z[3]);
}

/* x (n) = LayerNorm(x + b) * g + beta; b may be NULL. */
SB_TGT static void SB_FN(add_layernorm)(float *x, const float *b, const float *g,
                                        const float *beta, int n, float eps) {
    if (b)
        for (int i = 0; i < n; i++)
            x[i] += b[i];
    float mean = SB_FN(sum16)(x, 0.0f, n, 0) / (float)n;
    float var = SB_FN(sum16)(x, mean, n, 1) / (float)n;
    float inv = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++)
        x[i] = (x[i] - mean) * inv * g[i] + beta[i];
}

/* this path's native vector: SB_VW floats (16 on AVX-512, 8 on AVX2, 4
 * elsewhere); every loop below does the same operations per lane whatever
 * the width, so the paths agree lane for lane */
typedef float SB_FN(vf) __attribute__((vector_size(SB_VW * sizeof(float))));
#define VF SB_FN(vf)
typedef int32_t SB_FN(vi) __attribute__((vector_size(SB_VW * sizeof(int32_t))));
#define VI SB_FN(vi)

/* a where mask (all ones), else b */
#define VSEL(mask, a, b) ((VF)(((VI)(a) & (mask)) | ((VI)(b) & ~(mask))))

/* e^x for x <= 0 (softmax after subtracting the row maximum), lane by
 * lane: n = round(x / ln 2), r = x - n ln 2 (Cody-Waite: ln 2 in two
 * parts, one fused multiply-add each), e^r by Cephes' expf polynomial
 * (|r| <= ln 2 / 2; relative error ~1e-7), times 2^n. Branch-free. Inputs
 * below -87.3 give e^-87.3 (~1e-38) instead of a denormal or zero. On
 * AVX-512 and AVX2 the rounding is one instruction (vrndscaleps /
 * vroundps) and on AVX-512 the scaling too (vscalefps): 13 instructions
 * where the portable form (kept for the generic path: floor(t + 0.5) by
 * two conversions and a fix-up, clamps and the exponent's bits by masks)
 * took about twice as many; the softmax's exponentials were a sixth of
 * attention's time on the avx512 path and a quarter on avx2 (long lines,
 * Xeon, 2026-12-07). Both vector paths make the same roundings (the
 * scaling by 2^n is exact either way), so avx2 and avx512 agree bit for
 * bit; generic agrees within rounding. */
SB_TGT __attribute__((always_inline)) static inline VF SB_FN(exp_v)(VF x) {
#if SB_VW == 16 || SB_VW == 8
    /* one body for both: SB_I(op) is the ISA's intrinsic, SB_R its register */
#if SB_VW == 16
#define SB_I(op) _mm512_##op
#define SB_ROUND(t) _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    typedef __m512 SB_R;
#else
#define SB_I(op) _mm256_##op
#define SB_ROUND(t) _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    typedef __m256 SB_R;
#endif
    SB_R v = SB_I(max_ps)(SB_I(min_ps)((SB_R)x, SB_I(set1_ps)(88.0f)), SB_I(set1_ps)(-87.3f));
    SB_R fn = SB_ROUND(SB_I(mul_ps)(v, SB_I(set1_ps)(1.44269504088896341f)));
    SB_R r = SB_I(fnmadd_ps)(fn, SB_I(set1_ps)(0.693359375f), v);
    r = SB_I(fnmadd_ps)(fn, SB_I(set1_ps)(-2.12194440e-4f), r);
    /* p = e^r: Cephes' polynomial */
    SB_R p = SB_I(fmadd_ps)(r, SB_I(set1_ps)(1.9875691500e-4f), SB_I(set1_ps)(1.3981999507e-3f));
    p = SB_I(fmadd_ps)(p, r, SB_I(set1_ps)(8.3334519073e-3f));
    p = SB_I(fmadd_ps)(p, r, SB_I(set1_ps)(4.1665795894e-2f));
    p = SB_I(fmadd_ps)(p, r, SB_I(set1_ps)(1.6666665459e-1f));
    p = SB_I(fmadd_ps)(p, r, SB_I(set1_ps)(5.0000001201e-1f));
    p = SB_I(add_ps)(SB_I(fmadd_ps)(p, SB_I(mul_ps)(r, r), r), SB_I(set1_ps)(1.0f));
#undef SB_I
#undef SB_ROUND
#if SB_VW == 16
    return (VF)_mm512_scalef_ps(p, fn);
#else
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127)),
                                  23);
    return (VF)_mm256_mul_ps(p, _mm256_castsi256_ps(e));
#endif
#else
    const VF lo = x - x + -87.3f, hi = x - x + 88.0f, one = x - x + 1.0f;
    x = VSEL(x < lo, lo, x);
    x = VSEL(x > hi, hi, x);
    VF t = x * 1.44269504088896341f + 0.5f;
    VF fn = __builtin_convertvector(__builtin_convertvector(t, VI), VF);
    fn -= VSEL(fn > t, one, one - one);
    VF r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    VF p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    VI e = (__builtin_convertvector(fn, VI) + 127) << 23;
    return p * (VF)e;
#endif
}

/* softmax of one row of scores over its T real keys, on 16 lanes (then a
 * fixed tree): the padding up to Tp gets -inf for the maximum and 0 after
 * the exponential. Returns 1 / the sum (the row is left unnormalised). */
SB_TGT __attribute__((always_inline)) static inline float SB_FN(softmax_row)(float *s, int T,
                                                                             int Tp) {
    float m16[16], z16[16];
    for (int j = T; j < Tp; j++)
        s[j] = -INFINITY;
    for (int l = 0; l < 16; l++)
        m16[l] = s[l];
    for (int j = 16; j < Tp; j += 16)
        for (int l = 0; l < 16; l++)
            m16[l] = s[j + l] > m16[l] ? s[j + l] : m16[l];
    float mx = m16[0];
    for (int l = 1; l < 16; l++)
        mx = m16[l] > mx ? m16[l] : mx;
    for (int j = 0; j < Tp; j += SB_VW) {
        VF x;
        memcpy(&x, s + j, sizeof x);
        x = SB_FN(exp_v)(x - mx);
        memcpy(s + j, &x, sizeof x);
    }
    for (int j = T; j < Tp; j++)
        s[j] = 0.0f;
    for (int l = 0; l < 16; l++)
        z16[l] = s[l];
    for (int j = 16; j < Tp; j += 16)
        for (int l = 0; l < 16; l++)
            z16[l] += s[j + l];
    for (int l = 0; l < 8; l++)
        z16[l] += z16[l + 8];
    for (int l = 0; l < 4; l++)
        z16[l] += z16[l + 4];
    return 1.0f / ((z16[0] + z16[2]) + (z16[1] + z16[3]));
}

/* Self-attention of one sequence of T tokens, heads [h0, h1) (the context
 * columns of those heads only). qkv (T, 3H) with the bias added and queries
 * pre-scaled by 1/sqrt(head_dim); ctx (T, H) out; scores (SB_QBLOCK Tp)
 * and kt (head_dim (SB_KT_LD(T) + Tp)) scratch, Tp = T rounded up to 16.
 * A block of SB_QBLOCK queries gets all its scores and softmaxes, then
 * all its contexts (the keys, then the values, stay in L1). Plain loops on native
 * vectors: per head the products are too small for BLAS calls to pay.
 * Per head the keys are transposed and the values copied to consecutive
 * rows (in place a value row is 3H floats from the next: every query
 * re-read them from L2). Queries go 4 at a time (a group of fewer repeats
 * its last query, computed, never stored): 8 independent accumulator
 * chains while head_dim runs for the scores, each key's value row loaded
 * once for the 4 queries' contexts (even and odd keys in separate
 * accumulators). One query alone was bound by the latency of a single
 * chain of multiply-adds: attention took a quarter of the forward pass on
 * log lines (docs/bert.md, "Performance"). Every score and context element
 * is the same sequence of operations whatever the vector width or the
 * group, so the paths and thread counts agree bit for bit. */
SB_TGT static void SB_FN(attention)(const lg_sbert *m, const float *qkv, float *ctx,
                                    float *scores, float *kt, int T, int h0, int h1) {
    int H = m->hidden, dh = H / m->heads, ld = 3 * H, Tp = SB_PAD16(T), lk = SB_KT_LD(T);
    for (int h = h0; h < h1; h++) {
        const float *q = qkv + h * dh, *k = qkv + H + h * dh, *v = qkv + 2 * H + h * dh;
        float *c = ctx + h * dh, *vh = kt + (size_t)dh * (size_t)lk;
        /* kt (dh, Tp) = this head's keys, transposed, zero-padded to Tp;
         * vh (T, dh) = its values */
        for (int j = 0; j < T; j++) {
            const float *kj = k + (size_t)j * (size_t)ld;
            for (int d = 0; d < dh; d++)
                kt[(size_t)d * (size_t)lk + (size_t)j] = kj[d];
            memcpy(vh + (size_t)j * (size_t)dh, v + (size_t)j * (size_t)ld,
                   (size_t)dh * sizeof *vh);
        }
        for (int d = 0; d < dh; d++)
            for (int j = T; j < Tp; j++)
                kt[(size_t)d * (size_t)lk + (size_t)j] = 0.0f;
        for (int qb0 = 0; qb0 < T; qb0 += SB_QBLOCK) {
            int qb1 = T - qb0 < SB_QBLOCK ? T : qb0 + SB_QBLOCK;
            float invb[SB_QBLOCK + 3];
            /* scores and softmax of the block's queries, 4 at a time */
            for (int i0 = qb0; i0 < qb1; i0 += 4) {
                int nq = qb1 - i0 < 4 ? qb1 - i0 : 4;
                const float *q0 = q + (size_t)i0 * (size_t)ld, *q1 = nq > 1 ? q0 + ld : q0,
                            *q2 = nq > 2 ? q0 + 2 * ld : q1, *q3 = nq > 3 ? q0 + 3 * ld : q2;
                float *s0 = scores + (size_t)(i0 - qb0) * (size_t)Tp, *s1 = s0 + Tp,
                      *s2 = s1 + Tp, *s3 = s2 + Tp;
                /* s_r (Tp) = q_r K^T */
                int j0 = 0;
                for (; j0 + 2 * SB_VW <= Tp; j0 += 2 * SB_VW) {
                    VF a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, c0 = {0}, c1 = {0}, e0 = {0},
                       e1 = {0}, k0, k1;
                    for (int d = 0; d < dh; d++) {
                        const float *kd = kt + (size_t)d * (size_t)lk + j0;
                        memcpy(&k0, kd, sizeof k0);
                        memcpy(&k1, kd + SB_VW, sizeof k1);
                        a0 += q0[d] * k0;
                        a1 += q0[d] * k1;
                        b0 += q1[d] * k0;
                        b1 += q1[d] * k1;
                        c0 += q2[d] * k0;
                        c1 += q2[d] * k1;
                        e0 += q3[d] * k0;
                        e1 += q3[d] * k1;
                    }
                    memcpy(s0 + j0, &a0, sizeof a0);
                    memcpy(s0 + j0 + SB_VW, &a1, sizeof a1);
                    memcpy(s1 + j0, &b0, sizeof b0);
                    memcpy(s1 + j0 + SB_VW, &b1, sizeof b1);
                    memcpy(s2 + j0, &c0, sizeof c0);
                    memcpy(s2 + j0 + SB_VW, &c1, sizeof c1);
                    memcpy(s3 + j0, &e0, sizeof e0);
                    memcpy(s3 + j0 + SB_VW, &e1, sizeof e1);
                }
                for (; j0 < Tp; j0 += SB_VW) {
                    VF a0 = {0}, b0 = {0}, c0 = {0}, e0 = {0}, k0;
                    for (int d = 0; d < dh; d++) {
                        memcpy(&k0, kt + (size_t)d * (size_t)lk + j0, sizeof k0);
                        a0 += q0[d] * k0;
                        b0 += q1[d] * k0;
                        c0 += q2[d] * k0;
                        e0 += q3[d] * k0;
                    }
                    memcpy(s0 + j0, &a0, sizeof a0);
                    memcpy(s1 + j0, &b0, sizeof b0);
                    memcpy(s2 + j0, &c0, sizeof c0);
                    memcpy(s3 + j0, &e0, sizeof e0);
                }
                float *inv = invb + (i0 - qb0);
                inv[0] = SB_FN(softmax_row)(s0, T, Tp);
                inv[1] = nq > 1 ? SB_FN(softmax_row)(s1, T, Tp) : inv[0];
                inv[2] = nq > 2 ? SB_FN(softmax_row)(s2, T, Tp) : inv[1];
                inv[3] = nq > 3 ? SB_FN(softmax_row)(s3, T, Tp) : inv[2];
            }
            /* their contexts, 4 at a time */
            for (int i0 = qb0; i0 < qb1; i0 += 4) {
                int nq = qb1 - i0 < 4 ? qb1 - i0 : 4;
                const float *inv = invb + (i0 - qb0);
                float *s0 = scores + (size_t)(i0 - qb0) * (size_t)Tp, *s1 = s0 + Tp,
                      *s2 = s1 + Tp, *s3 = s2 + Tp;
                if (nq < 2) s1 = s0;
                if (nq < 3) s2 = s1;
                if (nq < 4) s3 = s2;
                /* ctx_r (dh) = sum_j p_rj v_j */
                float *cr[4];
                for (int r = 0; r < 4; r++)
                    cr[r] = c + (size_t)(i0 + (r < nq ? r : nq - 1)) * (size_t)H;
                int d0 = 0;
                for (; d0 + SB_VW <= dh; d0 += SB_VW) {
                    VF ea = {0}, oa = {0}, eb = {0}, ob = {0}, ec = {0}, oc = {0}, ee = {0},
                       oe = {0}, v0, v1;
                    int j = 0;
                    for (; j + 2 <= T; j += 2) {
                        const float *vj = vh + (size_t)j * (size_t)dh + d0;
                        memcpy(&v0, vj, sizeof v0);
                        memcpy(&v1, vj + dh, sizeof v1);
                        ea += s0[j] * v0;
                        oa += s0[j + 1] * v1;
                        eb += s1[j] * v0;
                        ob += s1[j + 1] * v1;
                        ec += s2[j] * v0;
                        oc += s2[j + 1] * v1;
                        ee += s3[j] * v0;
                        oe += s3[j + 1] * v1;
                    }
                    if (j < T) {
                        memcpy(&v0, vh + (size_t)j * (size_t)dh + d0, sizeof v0);
                        ea += s0[j] * v0;
                        eb += s1[j] * v0;
                        ec += s2[j] * v0;
                        ee += s3[j] * v0;
                    }
                    /* last row first: a repeated query's row is the real one's */
                    ee = (ee + oe) * inv[3];
                    memcpy(cr[3] + d0, &ee, sizeof ee);
                    ec = (ec + oc) * inv[2];
                    memcpy(cr[2] + d0, &ec, sizeof ec);
                    eb = (eb + ob) * inv[1];
                    memcpy(cr[1] + d0, &eb, sizeof eb);
                    ea = (ea + oa) * inv[0];
                    memcpy(cr[0] + d0, &ea, sizeof ea);
                }
                for (int d = d0; d < dh; d++) /* other head sizes */
                    for (int r = nq - 1; r >= 0; r--) {
                        const float *sr = scores + (size_t)(i0 - qb0 + r) * (size_t)Tp;
                        float e = 0, o = 0;
                        int j = 0;
                        for (; j + 2 <= T; j += 2) {
                            e += sr[j] * vh[(size_t)j * (size_t)dh + (size_t)d];
                            o += sr[j + 1] * vh[(size_t)(j + 1) * (size_t)dh + (size_t)d];
                        }
                        if (j < T) e += sr[j] * vh[(size_t)j * (size_t)dh + (size_t)d];
                        cr[r][d] = (e + o) * inv[r];
                    }
            }
        }
    }
}
#undef VF
#undef VI
#undef VSEL

static const sb_kernels SB_FN(sb_kernels) = {
    .matmul_small = SB_FN(matmul_small),
    .gelu = SB_FN(gelu),
    .add_layernorm = SB_FN(add_layernorm),
    .attention = SB_FN(attention),
};
