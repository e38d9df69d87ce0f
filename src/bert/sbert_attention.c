/* sbert_attention.c - BERT self-attention of one sequence, a range of
 * heads at a time (so the thread team can split a batch by heads), with
 * the branch-free exp of its softmax. Called by the batch driver in sbert.c;
 * moved out of it (issue 15). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "bert/sbert_kernels.h"

/* e^x for x <= 0 (softmax after subtracting the row maximum): Cephes'
 * expf polynomial with a Cody-Waite reduction, branch-free so the loop
 * vectorises (glibc's expf does not); relative error ~1e-7. Inputs below
 * -87.3 give e^-87.3 (~1e-38) instead of a denormal or zero. */
SB_INLINE float exp_fast(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
    float fn = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union {
        int32_t i;
        float f;
    } scale;
    scale.i = ((int32_t)fn + 127) << 23;
    return p * scale.f;
}

/* Self-attention of one sequence of T tokens, heads [h0, h1) (the context
 * columns of those heads only). qkv (T, 3H) with the bias
 * added and queries pre-scaled by 1/sqrt(head_dim); ctx (T, H) out;
 * scores (Tp) and kt (head_dim, Tp) scratch, Tp = T rounded up to 16. Plain loops, all vectorised
 * along T or head_dim (no horizontal sums): per head the products are too
 * small for BLAS calls to pay. */
SB_KERNEL void sb_attention(const lg_sbert *m, const float *qkv, float *ctx, float *scores,
                             float *kt, int T, int h0, int h1) {
    int H = m->hidden, nh = m->heads, dh = H / nh, ld = 3 * H, Tp = SB_PAD16(T);
    (void)nh;
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
            /* ctx_i (dh) = sum_j p_ij v_j: 16 columns in registers at a time,
             * even and odd j in separate accumulators */
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
