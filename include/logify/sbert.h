/* sbert.h - Sentence-BERT in C: loads a sentence-transformers model
 * directory (config.json, vocab.txt + tokenizer_config.json or tokenizer.json,
 * model.safetensors, modules.json, 1_Pooling/config.json,
 * sentence_bert_config.json), tokenizes with BERT's BasicTokenizer +
 * WordPiece and runs the batched BERT forward pass on OpenBLAS sgemm,
 * then mean/CLS pooling and optional L2 normalisation (docs/bert.md).
 *
 * Threading: a loaded lg_sbert is immutable (weights are mmapped
 * read-only) and may be shared by any number of threads. Each thread
 * that calls lg_sbert_encode needs its own lg_sbert_scratch (which owns
 * the helper threads that encode uses).
 */
#ifndef LOGIFY_SBERT_H
#define LOGIFY_SBERT_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lg_sbert lg_sbert;                 /* immutable model */
typedef struct lg_sbert_scratch lg_sbert_scratch; /* per-thread activations */

typedef enum { LG_SBERT_POOL_MEAN = 0, LG_SBERT_POOL_CLS = 1 } lg_sbert_pooling;

/* What a loaded model looks like (filled by lg_sbert_info). */
typedef struct {
    int hidden; /* hidden size, = embedding dimension */
    int layers;
    int heads;
    int intermediate;
    int max_positions;  /* config.json max_position_embeddings */
    int max_seq_length; /* tokens per text incl. [CLS]/[SEP] (truncation) */
    int vocab_size;
    int do_lower_case;
    int normalize; /* a Normalize module is present */
    lg_sbert_pooling pooling;
    const char *dtype;     /* "F32", "F16" or "BF16": storage of the weights */
    const char *gemm;      /* projection kernel: "packed-avx512", "packed-avx2",
                              "packed-generic" or "openblas" */
    const char *isa;       /* ISA path of the kernels: "avx512", "avx2" or "generic" */
    const char *tokenizer; /* "vocab.txt" or "tokenizer.json": where the vocabulary came from */
} lg_sbert_info;

/* Loads and validates a model directory. Missing or inconsistent files
 * fail with LG_ENOTFOUND / LG_EMODEL and a message naming the file and
 * field. Caller frees *out with lg_sbert_free. */
lg_err lg_sbert_load(const char *dir, lg_sbert **out, lg_errmsg *err);
void lg_sbert_free(lg_sbert *m);

/* Embedding dimension (hidden size). */
int lg_sbert_dim(const lg_sbert *m);
void lg_sbert_info_get(const lg_sbert *m, lg_sbert_info *out);
/* FNV-1a 64 of the weights file's bytes (model.safetensors), continuing
 * from h: what a sentence encoder records to recognise these weights. */
uint64_t lg_sbert_weights_hash(const lg_sbert *m, uint64_t h);

/* Per-thread scratch. Caller frees with lg_sbert_scratch_free. */
lg_err lg_sbert_scratch_new(const lg_sbert *m, lg_sbert_scratch **out, lg_errmsg *err);
void lg_sbert_scratch_free(lg_sbert_scratch *s);

/* Tokenizes one text exactly as the model sees it: [CLS] pieces [SEP],
 * truncated to max_seq_length (never rejected). Writes at most cap ids
 * into ids (OUT) and the count into *n_ids (OUT). An invalid UTF-8 byte
 * becomes U+FFFD, which BERT's text cleaning removes (as it removes NUL
 * and control characters). */
lg_err lg_sbert_tokenize(const lg_sbert *m, const char *text, size_t len, int32_t *ids, size_t cap,
                         size_t *n_ids, lg_errmsg *err);

/* Encodes n texts (texts[i] of lens[i] bytes; lens may be NULL for
 * NUL-terminated texts) into out (OUT, (n, dim) row-major floats).
 * Texts are sorted by length and run in batches. threads > 1: with at
 * least that many texts the batches are spread over the threads; with
 * fewer (one message) each batch is split across them (projections by
 * output columns, attention by heads). The helper threads belong to s and
 * persist until lg_sbert_scratch_free. The vectors are the same, bit for
 * bit, whatever the thread count (on the packed kernel; within 1e-5 on
 * OpenBLAS when the batches differ). OpenBLAS's process-wide thread count
 * is never changed. Row i of out always belongs to texts[i]. */
lg_err lg_sbert_encode(const lg_sbert *m, lg_sbert_scratch *s, const char *const *texts,
                       const size_t *lens, size_t n, float *out, lg_errmsg *err);

/* Batch size (texts per forward pass, default 32) and threads (default 1)
 * used by lg_sbert_encode with this scratch. */
void lg_sbert_scratch_set(lg_sbert_scratch *s, int batch, int threads);

/* Where the time goes (`logify embed --stats`): the parts of the forward
 * pass, timed by the thread doing each (projections without their bias
 * copy and GELU; attention of all heads a thread runs). */
enum {
    LG_SBERT_PART_TOKENIZE = 0, /* WordPiece + sorting by length */
    LG_SBERT_PART_EMBED,        /* embedding sums + their LayerNorm */
    LG_SBERT_PART_QKV,          /* query/key/value projection */
    LG_SBERT_PART_ATTENTION,    /* scores, softmax, context */
    LG_SBERT_PART_ATTN_OUT,     /* attention output projection */
    LG_SBERT_PART_LAYERNORM,    /* the two LayerNorms of each layer */
    LG_SBERT_PART_FFN_UP,       /* intermediate projection */
    LG_SBERT_PART_GELU,         /* its activation */
    LG_SBERT_PART_FFN_DOWN,     /* output projection */
    LG_SBERT_PART_POOL,         /* pooling + normalisation */
    LG_SBERT_PARTS
};
/* "tokenize", "embeddings", "qkv", "attention", "attn_out", "layernorm",
 * "ffn_up", "gelu", "ffn_down", "pooling" */
const char *lg_sbert_part_name(int part);
/* Thread CPU seconds spent in each part by encodes with this scratch (and
 * its helper threads) since it was created (CPU time: a loaded machine
 * does not inflate them); their sum over the wall time is the threads
 * kept busy. */
void lg_sbert_scratch_stats(const lg_sbert_scratch *s, double part[LG_SBERT_PARTS]);

/* FLOPs of one forward pass over a sequence of n tokens (for benchmarks). */
double lg_sbert_flops(const lg_sbert *m, size_t n_tokens);

/* ---- Downloading a model (sbert_pull.c) ---------------------------------- */

typedef struct {
    const char *endpoint; /* base URL; NULL: https://huggingface.co (the CLI passes $HF_ENDPOINT) */
    const char *token;    /* sent as "Authorization: Bearer"; NULL: none ($HF_TOKEN in the CLI) */
    const char *revision; /* branch, tag or commit; NULL: "main" */
    int progress;         /* 1: draw a progress bar on stderr */
    int retries;          /* extra attempts per file after a broken transfer (resumed) */
} lg_sbert_pull_opts;

/* Downloads the files of a sentence-transformers model NAME ("owner/repo")
 * from a Hugging Face hub layout (<endpoint>/<name>/resolve/<rev>/<file>)
 * into dir (created if needed). Each file goes to <dir>/<file>.incomplete
 * first, is resumed with an HTTP Range request after a broken transfer (also
 * across runs), checked (size, JSON, safetensors header) and renamed into
 * place atomically. Finally the whole directory is loaded with
 * lg_sbert_load as validation. Optional files answering 404 are skipped; a
 * required one fails with LG_ENOTFOUND naming the URL. */
lg_err lg_sbert_pull(const char *name, const char *dir, const lg_sbert_pull_opts *o,
                     lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
