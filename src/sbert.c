/* sbert.c - the BERT forward pass and Sentence-BERT pooling on OpenBLAS.
 *
 * One batch = up to `batch` texts of similar length (texts are sorted by
 * token count first). Their tokens are packed row after row into one
 * (M, hidden) activation matrix, M = the batch's real tokens: every
 * projection is then one sgemm over the whole batch and no FLOP is spent
 * on padding. The padding mask of Hugging Face's BertModel (padded keys get
 * a large negative score, i.e. exactly zero weight after softmax) becomes
 * "each query attends to its own sequence's real tokens only"; padded
 * query rows are never computed and pooling sees real tokens only, which is
 * what the mask achieves in the reference.
 *
 * Threads take whole batches (work queue); each has its own scratch; the
 * weights are read-only and shared. Model loading is in sbert_load.c.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sbert_internal.h"

#define SB_MAX_THREADS 64
/* element-wise kernels: vectorised, with AVX2 / AVX-512 clones picked at
 * run time (the library itself is built for the baseline x86-64) */
#if defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SB_KERNEL                                                                                  \
    __attribute__((optimize("O3", "no-trapping-math"), target_clones("avx512f", "avx2", "default")))
#else
#define SB_KERNEL __attribute__((optimize("O3", "no-trapping-math")))
#endif
#define SB_MAX_BATCH 4096
#define SB_SMALL_M 16 /* up to this many rows, dot products instead of sgemm */

struct lg_sbert_scratch {
    const lg_sbert *m;
    int batch, threads;
    size_t cap_rows; /* rows allocated in the activation buffers */
    float *x;        /* (rows, hidden) hidden states */
    float *qkv;      /* (rows, 3*hidden) queries | keys | values */
    float *ctx;      /* (rows, hidden) attention context */
    float *ffn;      /* (rows, intermediate) */
    float *scores;   /* (max_seq padded to 16) attention scores of one query */
    float *kt;       /* (head_dim, max_seq padded) one head's keys, transposed */
    lg_sbert_scratch *workers[SB_MAX_THREADS]; /* extra threads' scratch */
};

/* ---- Kernels --------------------------------------------------------------
 * The single place BLAS plugs in, and the fused element-wise loops. */

typedef float sb_v8 __attribute__((vector_size(32)));
typedef float sb_v16 __attribute__((vector_size(64)));
/* helpers inlined into the kernels: same optimisation options, or GCC
 * refuses to inline them */
#define SB_INLINE __attribute__((optimize("O3", "no-trapping-math"), always_inline)) static inline
#define SB_PAD16(t) (((t) + 15) / 16 * 16)

/* Few rows (a single short message): sgemm would pack the whole weight
 * matrix for a handful of rows; dot products read each weight row once
 * while the m input rows stay in L1. c (m, n) = beta c + a (m, k) . w^T. */
SB_KERNEL static void matmul_wt_small(float *c, const float *a, const float *w, int m, int n, int k,
                                      float beta) {
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
            float *cc = c + (size_t)r * (size_t)n + j;
            *cc = beta != 0.0f ? beta * *cc + sum : sum;
        }
    }
}

/* C (m, n) += A (m, k) . W^T, W (n, k) row-major as stored by nn.Linear
 * (pw: its packed copy when the model uses the packed kernel). The one
 * place BLAS plugs in. */
static void matmul_wt(const lg_sbert *m, float *c, const float *a, const float *w,
                      const lg_gemm_w *pw, int rows, int n, int k) {
    if (m->use_packed) {
        lg_gemm_run(c, a, pw, rows);
    } else if (rows <= SB_SMALL_M) {
        matmul_wt_small(c, a, w, rows, n, k, 1.0f);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k, 1.0f, a, k, w, k, 1.0f, c,
                    n);
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
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1); /* as each worker thread runs it */
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
    openblas_set_num_threads(saved);
    prefer = best_packed < best_blas;
    lg_log(LG_LOG_DEBUG, "sbert: sgemm %.2f ms, packed kernel %.2f ms: using %s", best_blas * 1e3,
           best_packed * 1e3, prefer ? "the packed kernel" : "OpenBLAS");
out:
    lg_gemm_free(&pw);
    free(a);
    free(w);
    free(c);
    return prefer;
}

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

/* y (n) = gelu(y), the erf form: 0.5 x (1 + erf(x / sqrt 2)). */
SB_KERNEL static void gelu(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = y[i];
        y[i] = 0.5f * v * (1.0f + erf_fast(v * 0.70710678118654752f));
    }
}

/* c (rows, n): every row = b (n); sgemm then accumulates onto the bias. */
static void fill_rows(float *c, const float *b, int rows, int n) {
    for (int r = 0; r < rows; r++)
        memcpy(c + (size_t)r * n, b, (size_t)n * sizeof *c);
}

/* x (n) = LayerNorm(x + b) * g + beta; b may be NULL. */
SB_KERNEL static void add_layernorm(float *x, const float *b, const float *g, const float *beta,
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

/* Self-attention of one sequence of T tokens. qkv (T, 3H) with the bias
 * added and queries pre-scaled by 1/sqrt(head_dim); ctx (T, H) out;
 * scores (Tp) and kt (head_dim, Tp) scratch, Tp = T rounded up to 16. Plain loops, all vectorised
 * along T or head_dim (no horizontal sums): per head the products are too
 * small for BLAS calls to pay. */
SB_KERNEL static void attention(const lg_sbert *m, const float *qkv, float *ctx, float *scores,
                                float *kt, int T) {
    int H = m->hidden, nh = m->heads, dh = H / nh, ld = 3 * H, Tp = SB_PAD16(T);
    for (int h = 0; h < nh; h++) {
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

/* ---- Scratch ------------------------------------------------------------- */

static void scratch_release(lg_sbert_scratch *s) {
    free(s->x);
    free(s->qkv);
    free(s->ctx);
    free(s->ffn);
    s->x = s->qkv = s->ctx = s->ffn = NULL;
    s->cap_rows = 0;
}

/* Makes room for `rows` packed tokens. */
static lg_err scratch_reserve(lg_sbert_scratch *s, size_t rows, lg_errmsg *err) {
    if (rows <= s->cap_rows) return LG_OK;
    const lg_sbert *m = s->m;
    scratch_release(s);
    size_t H = (size_t)m->hidden;
    s->x = malloc(rows * H * sizeof(float));
    s->qkv = malloc(rows * 3 * H * sizeof(float));
    s->ctx = malloc(rows * H * sizeof(float));
    s->ffn = malloc(rows * (size_t)m->intermediate * sizeof(float));
    if (!s->x || !s->qkv || !s->ctx || !s->ffn) {
        scratch_release(s);
        return lg_fail(err, LG_ENOMEM, "out of memory for %zu tokens of activations", rows);
    }
    s->cap_rows = rows;
    return LG_OK;
}

lg_err lg_sbert_scratch_new(const lg_sbert *m, lg_sbert_scratch **out, lg_errmsg *err) {
    *out = NULL;
    lg_sbert_scratch *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "out of memory");
    s->m = m;
    s->batch = 32;
    s->threads = 1;
    size_t T = (size_t)m->max_seq_length;
    size_t Tp = (size_t)SB_PAD16(T);
    s->scores = malloc(Tp * sizeof *s->scores);
    s->kt = malloc(Tp * (size_t)(m->hidden / m->heads) * sizeof *s->kt);
    if (!s->scores || !s->kt) {
        free(s->scores);
        free(s->kt);
        free(s);
        return lg_fail(err, LG_ENOMEM, "out of memory");
    }
    *out = s;
    return LG_OK;
}

void lg_sbert_scratch_free(lg_sbert_scratch *s) {
    if (!s) return;
    for (int i = 0; i < SB_MAX_THREADS; i++)
        lg_sbert_scratch_free(s->workers[i]);
    scratch_release(s);
    free(s->scores);
    free(s->kt);
    free(s);
}

void lg_sbert_scratch_set(lg_sbert_scratch *s, int batch, int threads) {
    s->batch = batch < 1 ? 1 : (batch > SB_MAX_BATCH ? SB_MAX_BATCH : batch);
    s->threads = threads < 1 ? 1 : (threads > SB_MAX_THREADS ? SB_MAX_THREADS : threads);
}

/* ---- Tokenization -------------------------------------------------------- */

lg_err lg_sbert_tokenize(const lg_sbert *m, const char *text, size_t len, int32_t *ids, size_t cap,
                         size_t *n_ids, lg_errmsg *err) {
    *n_ids = 0;
    size_t maxlen = (size_t)m->max_seq_length;
    if (cap < 2) return lg_fail(err, LG_EINVAL, "token buffer too small");
    if (maxlen > cap) maxlen = cap;
    size_t n = 0;
    lg_err e = lg_wordpiece_encode(m->tok, text, len, ids + 1, maxlen - 2, &n, err);
    if (e) return e;
    ids[0] = m->cls_id;
    ids[n + 1] = m->sep_id;
    *n_ids = n + 2;
    return LG_OK;
}

/* ---- Forward pass -------------------------------------------------------- */

typedef struct {
    const int32_t *ids;  /* all texts' ids, packed */
    const size_t *off;   /* (n) start of text i in ids */
    const int *len;      /* (n) token count of text i */
    const size_t *order; /* texts sorted by length */
    size_t n, batch, n_batches;
    float *out; /* (n, hidden) */
    atomic_size_t next;
} encode_job;

/* Runs batch b of the job with scratch s (sized beforehand). */
static void run_batch(lg_sbert_scratch *s, encode_job *job, size_t b) {
    const lg_sbert *m = s->m;
    int H = m->hidden, FF = m->intermediate;
    size_t first = b * job->batch, last = first + job->batch;
    if (last > job->n) last = job->n;
    int nb = (int)(last - first), M = 0;
    for (size_t i = first; i < last; i++)
        M += job->len[job->order[i]];

    /* embeddings: x (M, H) = LN(word + position + token type 0) */
    int r = 0;
    for (size_t i = first; i < last; i++) {
        size_t t = job->order[i];
        const int32_t *ids = job->ids + job->off[t];
        for (int p = 0; p < job->len[t]; p++, r++) {
            float *x = s->x + (size_t)r * H;
            const float *we = m->word_emb + (size_t)ids[p] * H, *pe = m->pos_emb + (size_t)p * H;
            for (int d = 0; d < H; d++)
                x[d] = we[d] + pe[d] + m->type_emb[d];
            add_layernorm(x, NULL, m->emb_ln_g, m->emb_ln_b, H, m->ln_eps);
        }
    }

    for (int l = 0; l < m->layers; l++) {
        const lg_bert_layer *L = &m->layer[l];
        /* qkv (M, 3H) = x Wqkv^T + bqkv (queries pre-scaled at load) */
        fill_rows(s->qkv, L->bqkv, M, 3 * H);
        matmul_wt(m, s->qkv, s->x, L->wqkv, &L->pqkv, M, 3 * H, H);
        /* attention per sequence over its real tokens */
        size_t row0 = 0;
        for (size_t i = first; i < last; i++) {
            int T = job->len[job->order[i]];
            attention(m, s->qkv + row0 * 3 * H, s->ctx + row0 * H, s->scores, s->kt, T);
            row0 += (size_t)T;
        }
        /* x = LN(x + ctx Wo^T + bo): the residual is sgemm's C (beta 1) */
        matmul_wt(m, s->x, s->ctx, L->wo, &L->po, M, H, H);
        for (int row = 0; row < M; row++)
            add_layernorm(s->x + (size_t)row * H, L->bo, L->ln1_g, L->ln1_b, H, m->ln_eps);
        /* ffn (M, I) = gelu(x Wi^T + bi) */
        fill_rows(s->ffn, L->bi, M, FF);
        matmul_wt(m, s->ffn, s->x, L->wi, &L->pi, M, FF, H);
        gelu(s->ffn, (size_t)M * (size_t)FF);
        /* x = LN(x + ffn Wout^T + bout) */
        matmul_wt(m, s->x, s->ffn, L->wout, &L->pout, M, H, FF);
        for (int row = 0; row < M; row++)
            add_layernorm(s->x + (size_t)row * H, L->bout, L->ln2_g, L->ln2_b, H, m->ln_eps);
    }

    /* pooling over real tokens, then optional L2 normalisation */
    size_t row0 = 0;
    for (int i = 0; i < nb; i++) {
        size_t t = job->order[first + (size_t)i];
        int T = job->len[t];
        float *o = job->out + t * (size_t)H;
        const float *xs = s->x + row0 * H;
        if (m->pooling == LG_SBERT_POOL_CLS) {
            memcpy(o, xs, (size_t)H * sizeof *o);
        } else {
            memset(o, 0, (size_t)H * sizeof *o);
            for (int p = 0; p < T; p++)
                for (int d = 0; d < H; d++)
                    o[d] += xs[(size_t)p * H + d];
            for (int d = 0; d < H; d++)
                o[d] /= (float)T;
        }
        if (m->normalize) {
            double ss = 0;
            for (int d = 0; d < H; d++)
                ss += (double)o[d] * o[d];
            float nrm = (float)sqrt(ss);
            float inv = 1.0f / (nrm > 1e-12f ? nrm : 1e-12f);
            for (int d = 0; d < H; d++)
                o[d] *= inv;
        }
        row0 += (size_t)T;
    }
}

typedef struct {
    lg_sbert_scratch *s;
    encode_job *job;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *a = p;
    for (;;) {
        size_t b = atomic_fetch_add(&a->job->next, 1);
        if (b >= a->job->n_batches) break;
        run_batch(a->s, a->job, b);
    }
    return NULL;
}

/* Orders idx by len[idx], ties by index (counting sort: stable, O(n)). */
static lg_err sort_by_len(size_t *idx, const int *len, size_t n, int max_len, lg_errmsg *err) {
    size_t *count = calloc((size_t)max_len + 2, sizeof *count);
    if (!count) return lg_fail(err, LG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        count[len[i] + 1]++;
    for (int l = 1; l <= max_len + 1; l++)
        count[l] += count[l - 1];
    for (size_t i = 0; i < n; i++)
        idx[count[len[i]]++] = i;
    free(count);
    return LG_OK;
}

lg_err lg_sbert_encode(const lg_sbert *m, lg_sbert_scratch *s, const char *const *texts,
                       const size_t *lens, size_t n, float *out, lg_errmsg *err) {
    if (n == 0) return LG_OK;
    if (s->m != m) return lg_fail(err, LG_EINVAL, "scratch belongs to another model");
    size_t maxlen = (size_t)m->max_seq_length;
    lg_err e = LG_OK;
    encode_job job;
    memset(&job, 0, sizeof job);
    int32_t *ids = NULL, *one = malloc(maxlen * sizeof *one);
    size_t *off = malloc(n * sizeof *off), *order = malloc(n * sizeof *order), total = 0, cap = 0;
    int *len = malloc(n * sizeof *len);
    if (!one || !off || !order || !len) {
        e = lg_fail(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    /* tokenize every text, packed */
    for (size_t i = 0; i < n; i++) {
        size_t k;
        const char *t = texts[i] ? texts[i] : "";
        size_t tl = lens ? lens[i] : strlen(t);
        if ((e = lg_sbert_tokenize(m, t, tl, one, maxlen, &k, err))) goto out;
        if (total + k > cap) {
            size_t nc = cap ? cap * 2 : 4096;
            while (nc < total + k)
                nc *= 2;
            int32_t *np = realloc(ids, nc * sizeof *np);
            if (!np) {
                e = lg_fail(err, LG_ENOMEM, "out of memory");
                goto out;
            }
            ids = np;
            cap = nc;
        }
        memcpy(ids + total, one, k * sizeof *one);
        off[i] = total;
        len[i] = (int)k;
        total += k;
    }
    if ((e = sort_by_len(order, len, n, (int)maxlen, err))) goto out;

    /* batches: never fewer than one per thread when there is enough work */
    size_t threads = (size_t)s->threads, batch = (size_t)s->batch;
    if (threads > 1 && n < batch * threads) batch = (n + threads - 1) / threads;
    if (batch < 1) batch = 1;
    job.ids = ids;
    job.off = off;
    job.len = len;
    job.order = order;
    job.n = n;
    job.batch = batch;
    job.n_batches = (n + batch - 1) / batch;
    job.out = out;
    atomic_init(&job.next, 0);
    size_t rows = 0;
    for (size_t b = 0; b < job.n_batches; b++) {
        size_t r = 0;
        for (size_t i = b * batch; i < n && i < (b + 1) * batch; i++)
            r += (size_t)len[order[i]];
        if (r > rows) rows = r;
    }
    size_t nw = threads < job.n_batches ? threads : job.n_batches;
    /* several workers: one BLAS thread each; one batch: BLAS may use all */
    openblas_set_num_threads(nw > 1 ? 1 : (int)threads);
    if ((e = scratch_reserve(s, rows, err))) goto out;
    for (size_t w = 1; w < nw; w++) {
        if (!s->workers[w] && (e = lg_sbert_scratch_new(m, &s->workers[w], err))) goto out;
        if ((e = scratch_reserve(s->workers[w], rows, err))) goto out;
    }
    pthread_t tid[SB_MAX_THREADS];
    worker_arg args[SB_MAX_THREADS];
    size_t started = 1;
    args[0].s = s;
    args[0].job = &job;
    for (size_t w = 1; w < nw; w++) {
        args[w].s = s->workers[w];
        args[w].job = &job;
        if (pthread_create(&tid[w], NULL, worker_main, &args[w]) != 0) break;
        started++;
    }
    worker_main(&args[0]);
    for (size_t w = 1; w < started; w++)
        pthread_join(tid[w], NULL);
out:
    free(ids);
    free(one);
    free(off);
    free(order);
    free(len);
    return e;
}
