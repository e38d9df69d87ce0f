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
 * Threads: each scratch owns a persistent team of helper threads (created
 * on first use, parked on a condition variable when idle; work is claimed
 * chunk by chunk, so a helper that is not running delays nothing). With at least as
 * many texts as threads, the team takes whole batches (work queue, one
 * scratch per member); with fewer (one message: the HTTP server, `embed` of
 * one line) the whole team works on each batch: every projection is split
 * by output columns (whole packed panels) and attention by heads. No
 * reduction is ever split, so on the packed kernel every float is computed
 * by the same operations in the same order whatever the thread count: the
 * results are bit-identical. OpenBLAS picks its kernel by the shape of a
 * call, so there a product split by columns is only within rounding of one
 * call; a text gets the same bits for a given thread count, busy or idle
 * (run_batch). OpenBLAS's process-wide thread count is never changed here
 * (docs/bert.md, "Threads"). Model loading is in sbert_load.c.
 *
 * Files: this one is the driver (scratch, tokenization, the batch loop,
 * the layer sequence, pooling); the kernels are in sbert_kernels.c
 * (projections, GELU, LayerNorm) and sbert_attention.c, the thread team
 * in sbert_team.c.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logify/dynlib_blas.h"
#include "bert/sbert_internal.h"
#include "bert/sbert_kernels.h"
#include "bert/sbert_team.h"

#define SB_MAX_BATCH 4096
/* Below this many FLOPs per layer and team member, a batch is not split
 * across threads: the region handoffs (4 a layer) cost more than they save
 * (measured, docs/bert.md "Threads"). */
#define SB_SPLIT_MIN_FLOPS 2e6

/* Encodes in flight in this process (lg_sbert_encode calls). */
static atomic_int sb_active;

struct lg_sbert_scratch {
    const lg_sbert *m;
    int batch, threads;
    size_t cap_rows; /* rows allocated in the activation buffers */
    float *x;        /* (rows, hidden) hidden states */
    float *qkv;      /* (rows, 3*hidden) queries | keys | values */
    float *ctx;      /* (rows, hidden) attention context */
    float *ffn;      /* (rows, intermediate) */
    float *scores;   /* (SB_QBLOCK, max_seq padded to 16) attention scores of a query block */
    float *kt;       /* (head_dim, max_seq padded) one head's keys, transposed, then
                        (max_seq padded, head_dim) its values */
    lg_sbert_scratch *workers[SB_MAX_THREADS]; /* extra threads' scratch */
    sb_team *team;    /* helper threads (threads - 1), created on first use */
    double split_min; /* SB_SPLIT_MIN_FLOPS unless a test changes it */
    double part[LG_SBERT_PARTS]; /* seconds per part of the forward pass, by this
                                    scratch's thread (lg_sbert_scratch_stats) */
};

/* CPU time of the calling thread, seconds: the parts are timed in CPU
 * time, so that on a loaded machine a part is not charged for the time
 * its thread waited for a core (wall clock made the shares follow the
 * load, not the work) */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* adds the CPU time since *t0 to part `p` of scratch s and restarts *t0 */
static void tick(lg_sbert_scratch *s, int p, double *t0) {
    double now = cpu_now();
    s->part[p] += now - *t0;
    *t0 = now;
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
    if (!s) return lg_fail(err, LG_ENOMEM, "sbert scratch: out of memory");
    s->m = m;
    s->batch = 32;
    s->threads = 1;
    s->split_min = SB_SPLIT_MIN_FLOPS;
    size_t T = (size_t)m->max_seq_length;
    size_t Tp = (size_t)SB_PAD16(T);
    s->scores = malloc(SB_QBLOCK * Tp * sizeof *s->scores);
    s->kt = malloc(((size_t)SB_KT_LD(T) + Tp) * (size_t)(m->hidden / m->heads) * sizeof *s->kt);
    if (!s->scores || !s->kt) {
        free(s->scores);
        free(s->kt);
        free(s);
        return lg_fail(err, LG_ENOMEM, "sbert scratch: out of memory");
    }
    *out = s;
    return LG_OK;
}

void lg_sbert_scratch_free(lg_sbert_scratch *s) {
    if (!s) return;
    sb_team_free(s->team); /* first: its helpers may still be parked on a region */
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

static const char *const part_names[LG_SBERT_PARTS] = {
    "tokenize", "embeddings", "qkv",  "attention", "attn_out",
    "layernorm", "ffn_up",    "gelu", "ffn_down",  "pooling"};

const char *lg_sbert_part_name(int part) {
    return part >= 0 && part < LG_SBERT_PARTS ? part_names[part] : "?";
}

void lg_sbert_scratch_stats(const lg_sbert_scratch *s, double part[LG_SBERT_PARTS]) {
    for (int p = 0; p < LG_SBERT_PARTS; p++) {
        part[p] = s->part[p];
        for (int i = 0; i < SB_MAX_THREADS; i++)
            if (s->workers[i]) part[p] += s->workers[i]->part[p];
    }
}

void lg_sbert_scratch_split_min(lg_sbert_scratch *s, double flops) {
    s->split_min = flops < 0 ? SB_SPLIT_MIN_FLOPS : flops;
}

/* The scratch's team with `want` members, (re)started if needed. NULL
 * (run on the caller alone) when want is 1 or memory is short. */
static sb_team *scratch_team(lg_sbert_scratch *s, int want) {
    if (want <= 1) return NULL;
    if (s->team && sb_team_want(s->team) == want) return s->team;
    sb_team_free(s->team);
    s->team = sb_team_new(want);
    return s->team;
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
    lg_sbert_scratch **member_scratch; /* (members) scratch of each team member */
    int busy; /* another encode is running: the caller's thread alone (run_batch) */
} encode_job;

/* One batch's forward pass, shared by the members of a team (or run by one
 * thread: team NULL). Each region function below does member `me` of
 * `members`' share; the serial parts run on the caller between regions. */
typedef struct {
    lg_sbert_scratch *s; /* activations (the caller's scratch) */
    const encode_job *job;
    size_t first, last; /* texts order[first .. last) */
    int M;              /* real tokens in the batch */
    const lg_bert_layer *L;
    sb_team *team;
    int split_gemm; /* projections split by columns (else OpenBLAS threads them) */
    int alone;      /* the team's regions, cut as the team would, run on the caller */
} fwd_pass;

/* [u0, u1): chunk c's share of n units */
static void share(int n, int c, int chunks, int *u0, int *u1) {
    *u0 = (int)((long)n * c / chunks);
    *u1 = (int)((long)n * (c + 1) / chunks);
}

/* Panels of LG_GEMM_PANEL columns in a projection to n outputs */
static int panels(int n) {
    return (n + LG_GEMM_PANEL - 1) / LG_GEMM_PANEL;
}

/* the scratch of team member `member` (member 0: the thread that owns f->s) */
static lg_sbert_scratch *member_scratch(const fwd_pass *f, int member) {
    return member == 0 ? f->s : f->job->member_scratch[member];
}

/* Chunk ch's columns of C (M, n) [+]= A W^T, in whole panels: bias (when
 * b) written into them first, GELU applied to them after (when act). On
 * the packed kernel, a block of SB_ROW_BLOCK rows at a time (bias, product,
 * GELU), so that the block's C is still in cache for the next step: a long
 * batch's FFN activations (8,192 rows x 1,536) are 50 MB, and three whole
 * passes over them went to memory. Same bits: an element of the packed
 * product does not depend on the rows around it. */
static void projection_share(const fwd_pass *f, float *c, const float *a, const float *w,
                             const lg_gemm_w *pw, const float *b, int n, int k, int act, int ch,
                             int chunks, int member, int part) {
    const lg_sbert *m = f->s->m;
    lg_sbert_scratch *own = member_scratch(f, member);
    double t0 = cpu_now();
    int p0, p1;
    share(panels(n), ch, chunks, &p0, &p1);
    int c0 = p0 * LG_GEMM_PANEL, c1 = p1 * LG_GEMM_PANEL < n ? p1 * LG_GEMM_PANEL : n;
    if (c0 >= c1) return;
    int block = m->use_packed ? SB_ROW_BLOCK : f->M;
    for (int r0 = 0; r0 < f->M; r0 += block) {
        int r1 = f->M - r0 < block ? f->M : r0 + block;
        float *cb = c + (size_t)r0 * (size_t)n;
        if (b)
            for (int r = r0; r < r1; r++)
                memcpy(c + (size_t)r * (size_t)n + c0, b + c0, (size_t)(c1 - c0) * sizeof *c);
        sb_matmul_wt(m, cb, a + (size_t)r0 * (size_t)k, w, pw, r1 - r0, n, k, c0, c1);
        tick(own, part, &t0);
        if (act) {
            for (int r = r0; r < r1; r++)
                m->kern->gelu(c + (size_t)r * (size_t)n + c0, (size_t)(c1 - c0));
            tick(own, LG_SBERT_PART_GELU, &t0);
        }
    }
}

/* qkv (M, 3H) = x Wqkv^T + bqkv (queries pre-scaled at load) */
static void region_qkv(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    const lg_bert_layer *L = f->L;
    int H = f->s->m->hidden;
    projection_share(f, f->s->qkv, f->s->x, L->wqkv, &L->pqkv, L->bqkv, 3 * H, H, 0, ch, chunks,
                     member, LG_SBERT_PART_QKV);
}

/* ctx (M, H): attention of heads [h0, h1) for every sequence; member me's
 * scores / kt buffers */
static void attention_heads(const fwd_pass *f, int me, int h0, int h1) {
    const lg_sbert *m = f->s->m;
    lg_sbert_scratch *own = member_scratch(f, me);
    int H = m->hidden;
    double t0 = cpu_now();
    size_t row0 = 0;
    for (size_t i = f->first; i < f->last; i++) {
        int T = f->job->len[f->job->order[i]];
        m->kern->attention(m, f->s->qkv + row0 * 3 * (size_t)H, f->s->ctx + row0 * (size_t)H,
                           own->scores, own->kt, T, h0, h1);
        row0 += (size_t)T;
    }
    tick(own, LG_SBERT_PART_ATTENTION, &t0);
}

static void region_attention(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    int h0, h1;
    share(f->s->m->heads, ch, chunks, &h0, &h1);
    attention_heads(f, member, h0, h1);
}

/* Both at once, when a head's query, key and value columns are whole
 * panels (head_dim a multiple of LG_GEMM_PANEL, or OpenBLAS): member me
 * projects the q/k/v columns of its heads, then runs their attention; one
 * handoff fewer per layer. */
static int qkv_fusable(const lg_sbert *m) {
    int dh = m->hidden / m->heads;
    return !m->use_packed || dh % LG_GEMM_PANEL == 0;
}

static void region_qkv_attention(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    const lg_sbert *m = f->s->m;
    const lg_bert_layer *L = f->L;
    int H = m->hidden, dh = H / m->heads, n = 3 * H, h0, h1;
    share(m->heads, ch, chunks, &h0, &h1);
    if (h0 >= h1) return;
    double t0 = cpu_now();
    for (int part = 0; part < 3; part++) { /* query, key, value */
        int c0 = part * H + h0 * dh, c1 = part * H + h1 * dh;
        for (int r = 0; r < f->M; r++)
            memcpy(f->s->qkv + (size_t)r * (size_t)n + c0, L->bqkv + c0,
                   (size_t)(c1 - c0) * sizeof(float));
        sb_matmul_wt(m, f->s->qkv, f->s->x, L->wqkv, &L->pqkv, f->M, n, H, c0, c1);
    }
    tick(member_scratch(f, member), LG_SBERT_PART_QKV, &t0);
    attention_heads(f, member, h0, h1);
}

/* x += ctx Wo^T: the residual is the GEMM's C */
static void region_out(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    int H = f->s->m->hidden;
    projection_share(f, f->s->x, f->s->ctx, f->L->wo, &f->L->po, NULL, H, H, 0, ch, chunks, member,
                     LG_SBERT_PART_ATTN_OUT);
}

/* ffn (M, I) = sb_gelu(x Wi^T + bi) */
static void region_ffn_up(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    const lg_sbert *m = f->s->m;
    projection_share(f, f->s->ffn, f->s->x, f->L->wi, &f->L->pi, f->L->bi, m->intermediate,
                     m->hidden, 1, ch, chunks, member, LG_SBERT_PART_FFN_UP);
}

/* x += ffn Wout^T */
static void region_ffn_down(void *p, int ch, int chunks, int member) {
    const fwd_pass *f = p;
    const lg_sbert *m = f->s->m;
    projection_share(f, f->s->x, f->s->ffn, f->L->wout, &f->L->pout, NULL, m->hidden,
                     m->intermediate, 0, ch, chunks, member, LG_SBERT_PART_FFN_DOWN);
}

/* Region fn over `units` units on the team (NULL: one chunk on the
 * caller), or on the caller alone with the team's cut (f->alone). */
static void run_region(fwd_pass *f, sb_team *team, sb_team_fn fn, int units) {
    if (f->alone)
        sb_team_run_alone(team, fn, f, units);
    else
        sb_team_run(team, fn, f, units);
}

/* A projection region to n outputs: on the whole team when projections
 * are split. */
static void run_projection(fwd_pass *f, sb_team_fn fn, int n) {
    run_region(f, f->split_gemm ? f->team : NULL, fn, panels(n));
}

/* FLOPs of one layer over M packed tokens (projections only: attention is
 * small next to them for short texts) */
static double layer_flops(const lg_sbert *m, size_t M) {
    double H = m->hidden, FF = m->intermediate;
    return 2.0 * (double)M * (4.0 * H * H + 2.0 * H * FF);
}

/* Runs batch b of the job with scratch s (sized beforehand), on s's thread
 * alone (team NULL) or split across the team. */
static void run_batch(lg_sbert_scratch *s, const encode_job *job, size_t b, sb_team *team) {
    const lg_sbert *m = s->m;
    int H = m->hidden;
    fwd_pass f = {.s = s, .job = job, .team = team};
    f.first = b * job->batch;
    f.last = f.first + job->batch;
    if (f.last > job->n) f.last = job->n;
    int nb = (int)(f.last - f.first);
    for (size_t i = f.first; i < f.last; i++)
        f.M += job->len[job->order[i]];
    int M = f.M;
    /* a small batch is not worth the handoffs: one thread */
    if (team && layer_flops(m, (size_t)M) < s->split_min * (double)sb_team_members(team))
        f.team = NULL;
    team = f.team;
    /* OpenBLAS threads a large product itself when the process lets it have
     * several threads: then it is called once, from the caller */
    f.split_gemm = m->use_packed || M <= SB_SMALL_M || lg_blas()->openblas_get_num_threads() <= 1;
    /* Another encode is running (lg_sbert_encode): this thread alone. The
     * packed kernel and the few-row dot products give every element the
     * same bits whatever the columns of a call; OpenBLAS does not (its
     * kernel depends on the product's shape: on SkylakeX a "small matrix"
     * kernel when rows x columns <= 1200, docs/bert.md "Threads"), so on
     * OpenBLAS split by columns the projections are still cut as the team
     * would cut them: a text gets the same vector busy or idle. */
    if (job->busy && team) {
        f.alone = f.split_gemm && !m->use_packed && M > SB_SMALL_M;
        if (!f.alone) f.team = team = NULL;
    }

    /* embeddings: x (M, H) = LN(word + position + token type 0) */
    double t0 = cpu_now();
    int r = 0;
    for (size_t i = f.first; i < f.last; i++) {
        size_t t = job->order[i];
        const int32_t *ids = job->ids + job->off[t];
        for (int p = 0; p < job->len[t]; p++, r++) {
            float *x = s->x + (size_t)r * H;
            const float *we = m->word_emb + (size_t)ids[p] * H, *pe = m->pos_emb + (size_t)p * H;
            for (int d = 0; d < H; d++)
                x[d] = we[d] + pe[d] + m->type_emb[d];
            m->kern->add_layernorm(x, NULL, m->emb_ln_g, m->emb_ln_b, H, m->ln_eps);
        }
    }
    tick(s, LG_SBERT_PART_EMBED, &t0);

    for (int l = 0; l < m->layers; l++) {
        const lg_bert_layer *L = f.L = &m->layer[l];
        /* qkv = x Wqkv^T + bqkv; attention per sequence over its real
         * tokens, heads across the team */
        if (team && f.split_gemm && qkv_fusable(m)) {
            run_region(&f, team, region_qkv_attention, m->heads);
        } else {
            run_projection(&f, region_qkv, 3 * H);
            run_region(&f, team, region_attention, m->heads);
        }
        /* x = LN(x + ctx Wo^T + bo) */
        run_projection(&f, region_out, H);
        t0 = cpu_now();
        for (int row = 0; row < M; row++)
            m->kern->add_layernorm(s->x + (size_t)row * H, L->bo, L->ln1_g, L->ln1_b, H, m->ln_eps);
        tick(s, LG_SBERT_PART_LAYERNORM, &t0);
        run_projection(&f, region_ffn_up, m->intermediate);
        /* x = LN(x + ffn Wout^T + bout) */
        run_projection(&f, region_ffn_down, H);
        t0 = cpu_now();
        for (int row = 0; row < M; row++)
            m->kern->add_layernorm(s->x + (size_t)row * H, L->bout, L->ln2_g, L->ln2_b, H,
                                   m->ln_eps);
        tick(s, LG_SBERT_PART_LAYERNORM, &t0);
    }

    /* pooling over real tokens, then optional L2 normalisation */
    t0 = cpu_now();
    size_t row0 = 0;
    for (int i = 0; i < nb; i++) {
        size_t t = job->order[f.first + (size_t)i];
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
    tick(s, LG_SBERT_PART_POOL, &t0);
}

/* Across batches: one chunk per member; whoever runs a chunk takes whole
 * batches from the queue with its own scratch until none is left. */
static void region_batches(void *p, int ch, int chunks, int member) {
    encode_job *job = p;
    (void)ch;
    (void)chunks;
    for (;;) {
        size_t b = atomic_fetch_add(&job->next, 1);
        if (b >= job->n_batches) break;
        run_batch(job->member_scratch[member], job, b, NULL);
    }
}

/* Orders idx by len[idx], ties by index (counting sort: stable, O(n)). */
static lg_err sort_by_len(size_t *idx, const int *len, size_t n, int max_len, lg_errmsg *err) {
    size_t *count = calloc((size_t)max_len + 2, sizeof *count);
    if (!count) return lg_fail(err, LG_ENOMEM, "sbert batch order: out of memory");
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
    int counted = 0; /* in sb_active */
    encode_job job;
    memset(&job, 0, sizeof job);
    lg_sbert_scratch *member_scratch[SB_MAX_THREADS];
    int32_t *ids = NULL, *one = malloc(maxlen * sizeof *one);
    size_t *off = malloc(n * sizeof *off), *order = malloc(n * sizeof *order), total = 0, cap = 0;
    int *len = malloc(n * sizeof *len);
    if (!one || !off || !order || !len) {
        e = lg_fail(err, LG_ENOMEM, "sbert batch: out of memory");
        goto out;
    }
    /* tokenize every text, packed */
    double t0 = cpu_now();
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
                e = lg_fail(err, LG_ENOMEM, "sbert batch: out of memory");
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
    tick(s, LG_SBERT_PART_TOKENIZE, &t0);

    /* At least as many texts as threads: the threads take whole batches
     * (never fewer batches than threads when there is enough work). Fewer
     * texts than threads: batches one after the other, each split across
     * all threads when it is big enough (docs/bert.md, "Threads"). */
    size_t threads = (size_t)s->threads, batch = (size_t)s->batch;
    int across = threads > 1 && n >= threads;
    int others = atomic_fetch_add_explicit(&sb_active, 1, memory_order_relaxed);
    counted = 1;
    if (across && n < batch * threads) batch = (n + threads - 1) / threads;
    if (batch < 1) batch = 1;
    job.ids = ids;
    job.off = off;
    job.len = len;
    job.order = order;
    job.n = n;
    job.batch = batch;
    job.n_batches = (n + batch - 1) / batch;
    job.out = out;
    job.member_scratch = member_scratch;
    atomic_init(&job.next, 0);
    size_t rows = 0;
    for (size_t b = 0; b < job.n_batches; b++) {
        size_t r = 0;
        for (size_t i = b * batch; i < n && i < (b + 1) * batch; i++)
            r += (size_t)len[order[i]];
        if (r > rows) rows = r;
    }
    /* the team always has `threads` members (resizing it would mean
     * starting threads again); across batches each needs activations */
    size_t members = threads;
    if (!across && layer_flops(m, rows) < s->split_min * (double)threads) members = 1;
    if ((e = scratch_reserve(s, rows, err))) goto out;
    member_scratch[0] = s;
    for (size_t w = 1; w < members; w++) {
        if (!s->workers[w] && (e = lg_sbert_scratch_new(m, &s->workers[w], err))) goto out;
        if (across && (e = scratch_reserve(s->workers[w], rows, err))) goto out;
        member_scratch[w] = s->workers[w];
    }
    sb_team *team = scratch_team(s, (int)members);
    /* Another encode running in this process (a busy server: one request
     * per thread): splitting one text across the team would only make the
     * threads fight over the cores, so each text stays on its own thread
     * (run_batch: with the same results). */
    job.busy = !across && others > 0;
    if (across) {
        sb_team_run(team, region_batches, &job, team ? sb_team_members(team) : 1);
    } else {
        for (size_t b = 0; b < job.n_batches; b++)
            run_batch(s, &job, b, team);
    }
out:
    if (counted) atomic_fetch_sub_explicit(&sb_active, 1, memory_order_relaxed);
    free(ids);
    free(one);
    free(off);
    free(order);
    free(len);
    return e;
}
