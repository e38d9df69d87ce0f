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

/* x (n) = LayerNorm(x + b) * g + beta; b may be NULL. */
SB_TGT static void SB_FN(add_layernorm)(float *x, const float *b, const float *g,
                                        const float *beta, int n, float eps) {
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

/* Self-attention of one sequence of T tokens, heads [h0, h1) (the context
 * columns of those heads only). qkv (T, 3H) with the bias added and queries
 * pre-scaled by 1/sqrt(head_dim); ctx (T, H) out; scores (Tp) and kt
 * (head_dim, Tp) scratch, Tp = T rounded up to 16. Plain loops, all
 * vectorised along T or head_dim (no horizontal sums): per head the
 * products are too small for BLAS calls to pay. Per head the keys are
 * transposed so that 64 scores of a query stay in registers while head_dim
 * runs; 16 context columns stay in registers while the keys run (even and
 * odd keys in two accumulators). */
SB_TGT static void SB_FN(attention)(const lg_sbert *m, const float *qkv, float *ctx,
                                    float *scores, float *kt, int T, int h0, int h1) {
    int H = m->hidden, dh = H / m->heads, ld = 3 * H, Tp = SB_PAD16(T);
    for (int h = h0; h < h1; h++) {
        const float *q = qkv + h * dh, *k = qkv + H + h * dh, *v = qkv + 2 * H + h * dh;
        float *c = ctx + h * dh;
        /* kt (dh, Tp) = this head's keys, transposed, zero-padded to Tp */
        for (int j = 0; j < T; j++) {
            const float *kj = k + (size_t)j * (size_t)ld;
            for (int d = 0; d < dh; d++)
                kt[(size_t)d * (size_t)Tp + (size_t)j] = kj[d];
        }
        for (int d = 0; d < dh; d++)
            for (int j = T; j < Tp; j++)
                kt[(size_t)d * (size_t)Tp + (size_t)j] = 0.0f;
        for (int i = 0; i < T; i++) {
            /* s (Tp) = q_i K^T: 64 scores in registers while d runs */
            const float *qi = q + (size_t)i * (size_t)ld;
            float *s = scores, mx = -INFINITY, sum = 0;
            int j0 = 0;
            for (; j0 + 64 <= Tp; j0 += 64) {
                sb_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, k0, k1, k2, k3;
                for (int d = 0; d < dh; d++) {
                    const float *kd = kt + (size_t)d * (size_t)Tp + j0;
                    memcpy(&k0, kd, sizeof k0);
                    memcpy(&k1, kd + 16, sizeof k1);
                    memcpy(&k2, kd + 32, sizeof k2);
                    memcpy(&k3, kd + 48, sizeof k3);
                    a0 += qi[d] * k0;
                    a1 += qi[d] * k1;
                    a2 += qi[d] * k2;
                    a3 += qi[d] * k3;
                }
                memcpy(s + j0, &a0, sizeof a0);
                memcpy(s + j0 + 16, &a1, sizeof a1);
                memcpy(s + j0 + 32, &a2, sizeof a2);
                memcpy(s + j0 + 48, &a3, sizeof a3);
            }
            for (; j0 < Tp; j0 += 16) {
                sb_v16 a0 = {0}, k0;
                for (int d = 0; d < dh; d++) {
                    memcpy(&k0, kt + (size_t)d * (size_t)Tp + j0, sizeof k0);
                    a0 += qi[d] * k0;
                }
                memcpy(s + j0, &a0, sizeof a0);
            }
            for (int j = 0; j < T; j++)
                mx = s[j] > mx ? s[j] : mx;
            for (int j = 0; j < T; j++)
                s[j] = exp_fast(s[j] - mx);
            for (int j = 0; j < T; j++)
                sum += s[j];
            float inv = 1.0f / sum;
            /* ctx_i (dh) = sum_j p_ij v_j */
            float *ci = c + (size_t)i * (size_t)H;
            int d0 = 0;
            for (; d0 + 16 <= dh; d0 += 16) {
                sb_v16 a0 = {0}, a1 = {0}, v0, v1;
                int j = 0;
                for (; j + 2 <= T; j += 2) {
                    const float *vj = v + (size_t)j * (size_t)ld + d0;
                    memcpy(&v0, vj, sizeof v0);
                    memcpy(&v1, vj + ld, sizeof v1);
                    a0 += s[j] * v0;
                    a1 += s[j + 1] * v1;
                }
                if (j < T) {
                    memcpy(&v0, v + (size_t)j * (size_t)ld + d0, sizeof v0);
                    a0 += s[j] * v0;
                }
                a0 = (a0 + a1) * inv;
                memcpy(ci + d0, &a0, sizeof a0);
            }
            for (int d = d0; d < dh; d++) { /* other head sizes */
                float a = 0;
                for (int j = 0; j < T; j++)
                    a += s[j] * v[(size_t)j * (size_t)ld + (size_t)d];
                ci[d] = a * inv;
            }
        }
    }
}

static const sb_kernels SB_FN(sb_kernels) = {
    .matmul_small = SB_FN(matmul_small),
    .gelu = SB_FN(gelu),
    .add_layernorm = SB_FN(add_layernorm),
    .attention = SB_FN(attention),
};
