/* encoder.h - sentence encoders: turn a batch of log messages into vectors
 * for the model stage (src/model/model.c) and for `logify cluster`.
 *
 * One interface, several implementations, chosen by a spec string:
 *   "hash"                  the embedded default (src/model/encoder_hash.c): no
 *                           weights; normalise + mask, hashed word 1-2-grams
 *                           and character n-grams, sublinear tf, L2 norm;
 *                           SPARSE output (CSR), dim 2^15 by default.
 *   "hash:dim=N,seed=S"     the same with another dimension (a power of two,
 *                           2^8..2^24) or hash seed.
 *   "sbert:DIR"             a sentence-transformers directory run by Logify's
 *                           own BERT (src/model/encoder_sbert.c, include/logify/
 *                           sbert.h): DENSE output, e.g. 384 floats a row.
 *
 * Shape of the objects (as in hs.h / llama2.c):
 *   lg_encoder          immutable once built; share it between threads.
 *   lg_encoder_scratch  per-thread working memory (token buffers, BERT
 *                       activations); one per thread, reused across calls.
 *   lg_embeddings       caller-owned output of one batch, sparse (CSR) or
 *                       dense, grown as needed and reused across batches
 *                       (so steady-state encoding allocates nothing).
 *
 * Encoding is batched: a dense encoder (BERT) gets the whole batch at once
 * and may sort it by length and run sgemm over it; the hash encoder loops.
 * Row i of the output always belongs to msgs[i].
 *
 * Adding an encoder: write a file src/model/encoder_<name>.c with an
 * lg_encoder_ops table (src/model/encoder_impl.h) and a factory that calls
 * lg_encoder_wrap(), and add its prefix to lg_encoder_new() in
 * src/model/encoder_spec.c.
 */
#ifndef LOGIFY_ENCODER_H
#define LOGIFY_ENCODER_H

#include "logify/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Output of one batch --------------------------------------------------- */

/* Hard cap on one batch's embedding storage (bytes), so a huge batch fails
 * with LG_ELIMIT instead of exhausting memory. */
#define LG_EMBEDDINGS_MAX_BYTES ((size_t)1 << 31)

typedef struct {
    size_t n_rows; /* rows of the last batch */
    size_t dim;    /* columns (the encoder's dimension) */
    int sparse;    /* 1: CSR fields below are valid; 0: dense is valid */

    /* sparse (CSR): row i is indices/values[indptr[i] .. indptr[i+1]-1];
     * within a row the indices are distinct (not necessarily sorted) */
    size_t *indptr;    /* (n_rows + 1) */
    uint32_t *indices; /* (nnz) column of each stored value, < dim */
    float *values;     /* (nnz) */

    /* dense: row-major */
    float *dense; /* (n_rows, dim) */

    /* storage bookkeeping; only the lg_embeddings_* functions touch these */
    size_t indptr_cap, nnz_cap, dense_cap;
} lg_embeddings;

/* Empty output; no allocation until the first batch. */
void lg_embeddings_init(lg_embeddings *e);
/* Frees the storage; e is empty (and reusable) afterwards. */
void lg_embeddings_free(lg_embeddings *e);
/* Stored values of a sparse batch (indptr[n_rows]); n_rows * dim if dense. */
size_t lg_embeddings_nnz(const lg_embeddings *e);

/* For encoder implementations: make room for a batch and set n_rows, dim
 * and sparse. Sparse: indptr gets n_rows + 1 slots and indices/values at
 * least nnz (call again with a larger nnz to grow; contents kept). Dense:
 * dense gets n_rows * dim floats. LG_ELIMIT past LG_EMBEDDINGS_MAX_BYTES. */
lg_err lg_embeddings_reserve_sparse(lg_embeddings *e, size_t n_rows, size_t dim, size_t nnz,
                                    lg_errmsg *err);
lg_err lg_embeddings_reserve_dense(lg_embeddings *e, size_t n_rows, size_t dim, lg_errmsg *err);

/* Writes row `row` as dim dense floats into out (zeros where a sparse row
 * stores nothing). */
void lg_embeddings_row_dense(const lg_embeddings *e, size_t row, float *out /* (dim) */);
/* Writes the whole batch densely into out. Note: the hash encoder's dim is
 * large (32768 by default): n_rows * dim floats. */
void lg_embeddings_to_dense(const lg_embeddings *e, float *out /* (n_rows, dim) */);

/* ---- The encoder ----------------------------------------------------------- */

typedef struct lg_encoder lg_encoder;
typedef struct lg_encoder_scratch lg_encoder_scratch;

/* Builds an encoder from a spec ("hash", "hash:dim=65536", "sbert:DIR").
 * LG_EINVAL for an unknown or malformed spec, LG_EUNSUPPORTED when the
 * implementation is not in this build. Caller frees with lg_encoder_free. */
lg_err lg_encoder_new(const char *spec, lg_encoder **out, lg_errmsg *err);
void lg_encoder_free(lg_encoder *enc);

/* Canonical spec (e.g. "hash:dim=32768,seed=1" for "hash"); owned by enc. */
const char *lg_encoder_spec(const lg_encoder *enc);
/* Short family name: "hash", "sbert". */
const char *lg_encoder_name(const lg_encoder *enc);
/* Output dimension. */
size_t lg_encoder_dim(const lg_encoder *enc);
/* 1 when encode_batch produces CSR rows, 0 when dense rows. */
int lg_encoder_is_sparse(const lg_encoder *enc);
/* A hash of everything that changes the vectors (parameters, normalisation
 * version, for sbert the config and weights). A model bundle records it and
 * refuses to load when the rebuilt encoder hashes differently. */
uint64_t lg_encoder_config_hash(const lg_encoder *enc);
/* A JSON object (text) describing the configuration, recorded in the
 * bundle for people to read; owned by enc. */
const char *lg_encoder_config_json(const lg_encoder *enc);

/* Per-thread scratch. Caller frees with lg_encoder_scratch_free. */
lg_err lg_encoder_scratch_new(const lg_encoder *enc, lg_encoder_scratch **out, lg_errmsg *err);
void lg_encoder_scratch_free(lg_encoder_scratch *s);

/* Encodes msgs[0..n-1] (lens[i] bytes each; need not be NUL-terminated;
 * any bytes, invalid UTF-8 included) into out, replacing its previous
 * contents. Each row is L2-normalised (an empty message gives a zero row).
 * n == 0 is fine. */
lg_err lg_encoder_encode_batch(const lg_encoder *enc, lg_encoder_scratch *s,
                               const char *const *msgs, const size_t *lens, size_t n,
                               lg_embeddings *out, lg_errmsg *err);

/* Convenience for the clusterer: encode and write dense rows into out
 * (caller-allocated, n * lg_encoder_dim(enc) floats). Uses its own
 * temporary lg_embeddings. */
lg_err lg_encoder_encode_dense(const lg_encoder *enc, lg_encoder_scratch *s,
                               const char *const *msgs, const size_t *lens, size_t n,
                               float *out /* (n, dim) */, lg_errmsg *err);

/* Factories (called by lg_encoder_new). `params` is the text after
 * "hash:" (NULL or "" for the defaults). */
lg_err lg_encoder_hash_new(const char *params, lg_encoder **out, lg_errmsg *err);
/* The hash encoder's normalisation of one message, for tests, docs and
 * debugging: its tokens joined by single blanks, placeholders included
 * ("user user0 logged in from <ip>"). Appends to out. */
lg_err lg_encoder_hash_normalise(const char *msg, size_t len, lg_buf *out, lg_errmsg *err);
/* hash:...,hdr=1: the length in bytes of the header the encoder
 * recognises at the start of msg (timestamp, level, pid, component; 0:
 * none), whose words it hashes apart from the message's. */
size_t lg_encoder_hash_header_len(const char *msg, size_t len);
/* DIR: a sentence-transformers model directory. Returns LG_EUNSUPPORTED
 * until the Sentence-BERT engine lands. */
lg_err lg_encoder_sbert_new(const char *dir, lg_encoder **out, lg_errmsg *err);

#ifdef __cplusplus
}
#endif
#endif
