/* sbert_internal.h - types shared by the Sentence-BERT modules
 * (tokenizer.c, tokenizer_json.c, safetensors.c, sbert_load.c, sbert.c). Not installed;
 * the public API is include/logify/sbert.h. */
#ifndef LOGIFY_SBERT_INTERNAL_H
#define LOGIFY_SBERT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "logify/common.h"
#include "logify/sbert.h"

/* ---- WordPiece tokenizer (tokenizer.c) ----------------------------------- */

typedef struct lg_wordpiece lg_wordpiece;

typedef struct {
    int do_lower_case; /* lower-case (and by default strip accents) */
    int strip_accents; /* -1: follow do_lower_case, 0/1 explicit */
    int chinese_chars; /* split CJK ideographs into single tokens (default 1) */
} lg_wordpiece_opts;

/* Loads vocab.txt (one token a line, id = line number). Caller frees with
 * lg_wordpiece_free. */
lg_err lg_wordpiece_load(const char *vocab_path, const lg_wordpiece_opts *o, lg_wordpiece **out,
                         lg_errmsg *err);
/* Builds from an in-memory vocab text (same format). */
lg_err lg_wordpiece_from_text(const char *text, size_t len, const char *name,
                              const lg_wordpiece_opts *o, lg_wordpiece **out, lg_errmsg *err);

#define LG_WP_PREFIX_MAX 16       /* bytes of the continuing-subword prefix */
#define LG_WP_MAX_WORD_LIMIT 1000 /* largest max_input_chars_per_word accepted */

/* Every setting of the tokenizer, as tokenizer.json spells them. */
typedef struct {
    int lower;             /* lower-case */
    int strip;             /* strip accents (NFD, drop Mn); -1: follow lower */
    int chinese;           /* CJK ideographs become words of their own */
    int clean;             /* drop NUL/U+FFFD/controls, whitespace -> space */
    const char *unk_token; /* must be in the vocabulary */
    const char *prefix;    /* continuing-subword prefix ("##"), at most LG_WP_PREFIX_MAX bytes */
    size_t max_chars;      /* max_input_chars_per_word, 1..LG_WP_MAX_WORD_LIMIT */
} lg_wordpiece_spec;

/* Builds from tokens[0..n) (id = index; copied). A token given twice is
 * refused. name labels error messages. Caller frees with lg_wordpiece_free. */
lg_err lg_wordpiece_new(const char *const *tokens, size_t n, const lg_wordpiece_spec *sp,
                        const char *name, lg_wordpiece **out, lg_errmsg *err);
/* Adds a token matched literally in the raw text before anything else
 * (longest first) and emitted as `id` (HF's added tokens; the vocab.txt
 * path adds [CLS] [SEP] [PAD] [MASK] [UNK]). Content is copied. */
lg_err lg_wordpiece_add_token(lg_wordpiece *t, const char *content, int32_t id, const char *name,
                              lg_errmsg *err);
void lg_wordpiece_free(lg_wordpiece *t);
/* Largest id + 1 (vocabulary and added tokens). */
size_t lg_wordpiece_vocab_size(const lg_wordpiece *t);
/* Id of a token, or -1. */
int32_t lg_wordpiece_id(const lg_wordpiece *t, const char *tok);
/* The vocabulary token of an id (not added tokens), or NULL. */
const char *lg_wordpiece_token(const lg_wordpiece *t, int32_t id);

/* Tokenizes text (without [CLS]/[SEP]) into ids (OUT); stops after cap ids
 * (the rest is truncated, never an error). *n_ids (OUT) = ids written. */
lg_err lg_wordpiece_encode(const lg_wordpiece *t, const char *text, size_t len, int32_t *ids,
                           size_t cap, size_t *n_ids, lg_errmsg *err);

/* ---- tokenizer.json (tokenizer_json.c) ---------------------------------- */

/* tokenizer_config.json's settings, which replace a BertNormalizer's as
 * transformers' BertTokenizerFast does; -1 = not set. */
typedef struct {
    int lower;   /* do_lower_case */
    int strip;   /* strip_accents; -2: null (follow lower-case) */
    int chinese; /* tokenize_chinese_chars */
} lg_tokenizer_json_cfg;

typedef struct {
    lg_wordpiece *tok;      /* owned; lg_tokenizer_json_free */
    int32_t cls_id, sep_id; /* from the post_processor */
    int32_t unk_id, pad_id; /* model.unk_token; [PAD] or -1 */
    int max_length;         /* truncation.max_length, 0: none */
    int lower;              /* lower-cases */
} lg_tokenizer_json;

/* Reads tokenizer.json (WordPiece only; see tokenizer_json.c for what is
 * accepted). cfg may be NULL. On error *out holds nothing to free. */
lg_err lg_tokenizer_json_load(const char *path, const lg_tokenizer_json_cfg *cfg,
                              lg_tokenizer_json *out, lg_errmsg *err);
/* Same over bytes in memory; name labels the messages. */
lg_err lg_tokenizer_json_parse(const char *text, size_t len, const char *name,
                               const lg_tokenizer_json_cfg *cfg, lg_tokenizer_json *out,
                               lg_errmsg *err);
void lg_tokenizer_json_free(lg_tokenizer_json *t);

/* ---- safetensors (safetensors.c) ----------------------------------------- */

typedef enum { LG_ST_F32 = 0, LG_ST_F16, LG_ST_BF16, LG_ST_OTHER } lg_st_dtype;

typedef struct {
    char *name;
    lg_st_dtype dtype;
    const char *dtype_name; /* as in the header */
    int ndim;
    int64_t shape[8];
    const uint8_t *data; /* into the mmapped file */
    size_t nbytes;
} lg_st_tensor;

typedef struct {
    void *map;
    size_t map_len;
    lg_st_tensor *tensors;
    size_t n_tensors;
} lg_safetensors;

/* mmaps path read-only and validates the header (size, JSON, dtypes,
 * shapes vs byte ranges, ranges inside the file and non-overlapping)
 * before any tensor is touched. Caller frees with lg_safetensors_close. */
lg_err lg_safetensors_open(const char *path, lg_safetensors *st, lg_errmsg *err);
/* Same over bytes already in memory (borrowed; for tests and fuzzing). */
lg_err lg_safetensors_parse(const void *buf, size_t len, const char *name, lg_safetensors *st,
                            lg_errmsg *err);
void lg_safetensors_close(lg_safetensors *st);
const lg_st_tensor *lg_safetensors_find(const lg_safetensors *st, const char *name);
/* Converts n elements of t to float (F32/F16/BF16). */
void lg_st_to_f32(const lg_st_tensor *t, float *dst, size_t n);

/* ---- Packed-weight GEMM (sbert_gemm.c) ----------------------------------- */

/* The instruction set of the packed GEMM and of the element-wise kernels
 * (sbert_simd.c). */
typedef enum { LG_ISA_GENERIC = 0, LG_ISA_AVX2 = 1, LG_ISA_AVX512 = 2 } lg_isa;
/* "generic", "avx2", "avx512" */
const char *lg_isa_name(lg_isa isa);
/* 1 when this CPU can run the path (generic: always; avx2: AVX2 + FMA). */
int lg_isa_supported(lg_isa isa);
/* The widest path this CPU can run. */
lg_isa lg_isa_best(void);
/* "avx512" | "avx2" | "generic" (as $LOGIFY_ISA spells it); LG_EINVAL for
 * another name or a path this CPU cannot run. */
lg_err lg_isa_parse(const char *s, lg_isa *out, lg_errmsg *err);

struct lg_q8_w; /* int8 weights (sbert_quant.h) */

typedef struct {
    int n, k;      /* the weight is W (n, k), as nn.Linear stores it */
    int np;        /* n rounded up to the panel width */
    lg_isa isa;    /* the kernel lg_gemm_run uses */
    float *packed; /* (np / 32) column panels of k x 32, 64-byte aligned:
                      (k, 32) for AVX-512, two halves (2, k, 16) otherwise */
    const struct lg_q8_w *q8; /* set when the model is quantised (--quantize int8): the
                                 product runs on these int8 weights instead (packed NULL) */
} lg_gemm_w;

/* Packs W (n, k) once for the kernel of `isa` (panels of 32 columns for
 * every ISA, laid out for its kernel). Caller frees with lg_gemm_free. */
lg_err lg_gemm_pack(const float *w, int n, int k, lg_isa isa, lg_gemm_w *out, lg_errmsg *err);
void lg_gemm_free(lg_gemm_w *p);
#define LG_GEMM_PANEL 32 /* columns of a packed panel */
/* C (m, n) += A (m, k) . W^T; row-major, ldc = n, lda = k. */
void lg_gemm_run(float *c, const float *a, const lg_gemm_w *w, int m);
/* The same for the columns of panels [p0, p1) only (column p * LG_GEMM_PANEL
 * onwards, clipped to n): threads given disjoint panel ranges write disjoint
 * columns, and each element is the same sum, in the same order, as in
 * lg_gemm_run (bit-identical results). */
void lg_gemm_run_panels(float *c, const float *a, const lg_gemm_w *w, int m, int p0, int p1);

/* ---- The model (sbert_load.c, sbert.c) ------------------------------------ */

/* sbert.c: a batch is split across a scratch's threads only when each gets
 * at least `flops` FLOPs a layer (default when negative); tests set 0 to
 * split even the tiny fixtures. */
void lg_sbert_scratch_split_min(lg_sbert_scratch *s, double flops);

/* sbert_kernels.c: 1 when the projections of path `isa` run on the packed
 * kernel rather than OpenBLAS; a rule on the ISA alone (no timing), so
 * that every load on a CPU makes the same choice and gives the same bits. */
int lg_sbert_gemm_prefer_packed(lg_isa isa);

/* The element-wise kernels of one ISA (sbert_simd.c). */
typedef struct sb_kernels sb_kernels;

typedef struct {
    const float *wqkv;            /* (3*hidden, hidden): query, key, value rows stacked */
    const float *bqkv;            /* (3*hidden) */
    const float *wo;              /* (hidden, hidden) attention output */
    const float *bo;              /* (hidden) */
    const float *ln1_g, *ln1_b;   /* (hidden) attention LayerNorm */
    const float *wi;              /* (intermediate, hidden) */
    const float *bi;              /* (intermediate) */
    const float *wout;            /* (hidden, intermediate) */
    const float *bout;            /* (hidden) */
    const float *ln2_g, *ln2_b;   /* (hidden) output LayerNorm */
    lg_gemm_w pqkv, po, pi, pout; /* packed copies when use_packed */
} lg_bert_layer;

struct lg_sbert {
    /* hyper-parameters */
    int hidden, layers, heads, intermediate, max_positions, type_vocab, vocab_size;
    int max_seq_length;
    float ln_eps;
    lg_sbert_pooling pooling;
    int normalize;
    int do_lower_case;
    const char *dtype;
    int32_t cls_id, sep_id, pad_id, unk_id;
    const char *tokenizer; /* the file it came from: "vocab.txt" or "tokenizer.json" */
    int tok_max_length;    /* tokenizer.json truncation.max_length, 0: none */
    /* read-only weights */
    const float *word_emb;            /* (vocab, hidden) */
    const float *pos_emb;             /* (max_positions, hidden) */
    const float *type_emb;            /* (type_vocab, hidden); row 0 used */
    const float *emb_ln_g, *emb_ln_b; /* (hidden) */
    lg_bert_layer *layer;             /* (layers) */
    int use_packed;                   /* projections on sbert_gemm.c instead of OpenBLAS */
    lg_isa isa;                       /* of the packed GEMM and the element-wise kernels */
    const sb_kernels *kern;           /* the element-wise kernels of isa */
    const char *gemm;                 /* "packed-avx512", "packed-avx2", "packed-generic",
                                         "openblas" or an int8 kernel ("int8-avx512vnni", ...) */
    struct lg_q8_w *q8;               /* (layers, 4) int8 projections, or NULL (sbert_quant.c) */
    /* ownership */
    lg_wordpiece *tok;
    lg_safetensors st;
    void **owned; /* converted / stacked tensors to free */
    size_t n_owned, cap_owned;
};

#endif
