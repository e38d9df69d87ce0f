/* sbert_quant.h - int8 projections (`--quantize int8`, docs/bert.md
 * "int8"): dynamic quantisation of BERT's linear layers as ONNX Runtime
 * and llama.cpp do it, in blocks of 32 along k as llama.cpp's q8_0.
 * Weights int8 per output channel and block (symmetric, scale max|w| /
 * 127), quantised once at load; activations int8 per row (token) and
 * block, quantised when the product runs; int32 sums per block; the
 * epilogue of each block dequantises and adds to C. A SmoothQuant
 * factor per input channel, measured at load on built-in calibration
 * texts, moves the activations' outlier channels into the weights.
 * Three kernels: AVX-512 VNNI (vpdpbusd, unsigned x signed: activations
 * shifted by +128 and 128 * sum(w) per column and block subtracted,
 * precomputed at load), AVX2 (vpmaddubsw on |a| and sign(w, a), then
 * vpmaddwd: no saturation) and portable C. The int32 sums are exact on
 * every path, and the epilogue is the same float operations in the same
 * order, so all three give the same bits. Private to src/bert/. */
#ifndef LOGIFY_BERT_SBERT_QUANT_H
#define LOGIFY_BERT_SBERT_QUANT_H

#include <stdint.h>

#include "bert/sbert_internal.h"

#define LG_Q8_MAX 127  /* quantised values are in [-127, 127] on both sides */
#define LG_Q8_BLOCK 32 /* k per scale (a block's int32 sum is exact on every path) */

/* A weight W (n, k) quantised for lg_q8_run_panels. */
struct lg_q8_w {
    int n, k;
    int kp;         /* k rounded up to LG_Q8_BLOCK */
    int np;         /* n rounded up to LG_GEMM_PANEL */
    lg_isa isa;     /* kernel: LG_ISA_AVX512 is the VNNI one */
    int8_t *packed; /* (np / 32, kp / 4, 32, 4): per panel and group of 4 k, the 4 bytes
                       of each of its 32 columns; zero-padded; 64-byte aligned */
    float *scale;   /* (np / 32, kp / LG_Q8_BLOCK, 32) per panel, block and column:
                       w ~ q * scale; 0 on padding */
    int32_t *corr;  /* (np / 32, kp / LG_Q8_BLOCK, 32) 128 * sum of the block's q: the
                       VNNI kernel's +128 shift */
    float *smooth;  /* (k) each row of A is multiplied by this before it is quantised
                       (1 / s_k: the weights' columns were multiplied by s_k), or NULL */
    float *amax;    /* (k) only while the model calibrates: max |a| per input channel
                       seen so far (lg_q8_run_panels then computes nothing) */
};
typedef struct lg_q8_w lg_q8_w;

/* The int8 kernel that goes with the float path `isa`: avx512 needs
 * AVX512-VNNI (+BW), else the AVX2 kernel runs; avx2 and generic as is. */
lg_isa lg_q8_isa(lg_isa isa);
/* "int8-avx512vnni", "int8-avx2", "int8-generic" */
const char *lg_q8_name(lg_isa isa);

/* Quantises W (n, k) per output channel for the kernel of `isa` (as
 * returned by lg_q8_isa). s (k), when not NULL, is a smoothing factor per
 * input channel (SmoothQuant): column k of W is multiplied by s[k] and
 * every row of A will be divided by it. Caller frees with lg_q8_free. */
lg_err lg_q8_pack(const float *w, int n, int k, const float *s, lg_isa isa, lg_q8_w *out,
                  lg_errmsg *err);
void lg_q8_free(lg_q8_w *w);

/* With y = x * mul (mul (k) may be NULL: y = x), per block of
 * LG_Q8_BLOCK: q = round(y * 127 / max|y|) (ties to even) XOR flip, the
 * tail [k, kp) = flip (a zero); scale (OUT, kp / LG_Q8_BLOCK) = max|y| /
 * 127 per block (0 for a zero block). flip: 0x80 turns the signed value
 * into VNNI's unsigned q + 128. */
void lg_q8_quantize_row(const float *x, const float *mul, int k, int kp, uint8_t flip, int8_t *q,
                        float *scale);

/* Columns [p0 * 32, p1 * 32) (clipped to n) of C (m, n) += A (m, k) . W^T
 * with A quantised per row here: for each block b in order, c = c +
 * (float)sum_b(qa qw) * (scale_a[b] * scale_w[b]), a multiply then an add
 * (never fused), whatever the path, the rows or the panel range. */
/* Returns 1; 0 when w is calibrating (w->amax): then it only records
 * max |a| per input channel, and the caller computes the float product. */
int lg_q8_run_panels(float *c, const float *a, const lg_q8_w *w, int m, int p0, int p1);

/* ---- The model's hooks (sbert_quant_model.c, called by sbert_load.c) ------ */

/* $LOGIFY_SBERT_QUANTIZE ("int8" or "none"; unset or empty: none) into
 * *int8 (OUT); another value is LG_EINVAL naming it. */
lg_err sb_quant_from_env(int *int8, lg_errmsg *err);
/* Quantises the four projections of every layer (after load_weights; the
 * float path's isa chosen): first the float model encodes a built-in set
 * of calibration texts to measure max |a| per input channel of each
 * projection, then the smoothing factors s_k = sqrt(max|a_k| / max|w_k|)
 * are folded into the weights, which are quantised. The packed-weight
 * slots then point to the int8 copies; the projections run on them. */
lg_err sb_quant_model(lg_sbert *m, lg_errmsg *err);
/* Frees what sb_quant_model made (nothing when it did not run). */
void sb_quant_free(lg_sbert *m);

#endif
