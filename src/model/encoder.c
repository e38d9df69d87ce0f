/* encoder.c - the encoder interface: the wrapper object, per-thread
 * scratch and the lg_embeddings output buffers. The encoders themselves live
 * in src/model/encoder_<name>.c and are written against encoder_impl.h; the
 * choice of one by spec string (lg_encoder_new) is in encoder_spec.c, above
 * them, so that this file and the encoders do not depend on each other. */
#include "logify/encoder.h"
#include "model/encoder_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lg_encoder {
    const lg_encoder_ops *ops;
    void *ctx;         /* implementation's immutable context */
    char *spec;        /* canonical spec */
    char *config_json; /* JSON object text */
    size_t dim;
    int sparse;
    uint64_t config_hash;
};

struct lg_encoder_scratch {
    const lg_encoder *enc;
    void *impl; /* implementation's scratch, may be NULL */
};

/* ---- Embeddings ------------------------------------------------------------- */

void lg_embeddings_init(lg_embeddings *e) {
    memset(e, 0, sizeof *e);
}

void lg_embeddings_free(lg_embeddings *e) {
    if (!e) return;
    free(e->indptr);
    free(e->indices);
    free(e->values);
    free(e->dense);
    memset(e, 0, sizeof *e);
}

size_t lg_embeddings_nnz(const lg_embeddings *e) {
    if (e->sparse) return e->indptr ? e->indptr[e->n_rows] : 0;
    return e->n_rows * e->dim;
}

/* Grows *p to hold n elements of size sz (contents kept), doubling. */
static lg_err grow(void **p, size_t *cap, size_t n, size_t sz, lg_errmsg *err) {
    if (n <= *cap) return LG_OK;
    if (n > LG_EMBEDDINGS_MAX_BYTES / sz)
        return lg_fail(err, LG_ELIMIT, "embeddings batch over %zu bytes",
                       (size_t)LG_EMBEDDINGS_MAX_BYTES);
    size_t nc = *cap ? *cap : 64;
    while (nc < n)
        nc = nc > LG_EMBEDDINGS_MAX_BYTES / sz / 2 ? n : nc * 2;
    void *q = realloc(*p, nc * sz);
    if (!q) return lg_fail(err, LG_ENOMEM, "out of memory (embeddings)");
    *p = q;
    *cap = nc;
    return LG_OK;
}

lg_err lg_embeddings_reserve_sparse(lg_embeddings *e, size_t n_rows, size_t dim, size_t nnz,
                                    lg_errmsg *err) {
    lg_err r;
    size_t ic = e->indptr_cap, vc = e->nnz_cap;
    if ((r = grow((void **)&e->indptr, &ic, n_rows + 1, sizeof *e->indptr, err))) return r;
    e->indptr_cap = ic;
    size_t vc2 = vc;
    if ((r = grow((void **)&e->indices, &vc, nnz ? nnz : 1, sizeof *e->indices, err))) return r;
    if ((r = grow((void **)&e->values, &vc2, nnz ? nnz : 1, sizeof *e->values, err))) {
        /* keep the two arrays' capacity equal: shrink the record to what both hold */
        e->nnz_cap = vc2 < vc ? vc2 : vc;
        return r;
    }
    e->nnz_cap = vc < vc2 ? vc : vc2;
    e->n_rows = n_rows;
    e->dim = dim;
    e->sparse = 1;
    return LG_OK;
}

lg_err lg_embeddings_reserve_dense(lg_embeddings *e, size_t n_rows, size_t dim, lg_errmsg *err) {
    if (dim && n_rows > LG_EMBEDDINGS_MAX_BYTES / sizeof(float) / dim)
        return lg_fail(err, LG_ELIMIT, "embeddings batch over %zu bytes",
                       (size_t)LG_EMBEDDINGS_MAX_BYTES);
    size_t cells = n_rows * dim;
    lg_err r = grow((void **)&e->dense, &e->dense_cap, cells ? cells : 1, sizeof *e->dense, err);
    if (r) return r;
    e->n_rows = n_rows;
    e->dim = dim;
    e->sparse = 0;
    return LG_OK;
}

void lg_embeddings_row_dense(const lg_embeddings *e, size_t row, float *out) {
    if (!e->sparse) {
        memcpy(out, e->dense + row * e->dim, e->dim * sizeof *out);
        return;
    }
    memset(out, 0, e->dim * sizeof *out);
    for (size_t k = e->indptr[row]; k < e->indptr[row + 1]; k++)
        out[e->indices[k]] = e->values[k];
}

void lg_embeddings_to_dense(const lg_embeddings *e, float *out) {
    for (size_t i = 0; i < e->n_rows; i++)
        lg_embeddings_row_dense(e, i, out + i * e->dim);
}

/* ---- The encoder object ------------------------------------------------------ */

lg_err lg_encoder_wrap(const lg_encoder_ops *ops, void *ctx, const lg_encoder_info *info,
                       lg_encoder **out, lg_errmsg *err) {
    *out = NULL;
    lg_encoder *enc = calloc(1, sizeof *enc);
    if (enc) {
        enc->spec = lg_strdup(info->spec ? info->spec : ops->name);
        enc->config_json = lg_strdup(info->config_json ? info->config_json : "{}");
    }
    if (!enc || !enc->spec || !enc->config_json) {
        if (enc) {
            free(enc->spec);
            free(enc->config_json);
            free(enc);
        }
        if (ops->ctx_free) ops->ctx_free(ctx);
        return lg_fail(err, LG_ENOMEM, "encoder: out of memory");
    }
    enc->ops = ops;
    enc->ctx = ctx;
    enc->dim = info->dim;
    enc->sparse = info->sparse;
    enc->config_hash = info->config_hash;
    *out = enc;
    return LG_OK;
}

void lg_encoder_free(lg_encoder *enc) {
    if (!enc) return;
    if (enc->ops->ctx_free) enc->ops->ctx_free(enc->ctx);
    free(enc->spec);
    free(enc->config_json);
    free(enc);
}

const char *lg_encoder_spec(const lg_encoder *enc) {
    return enc->spec;
}
const char *lg_encoder_name(const lg_encoder *enc) {
    return enc->ops->name;
}
size_t lg_encoder_dim(const lg_encoder *enc) {
    return enc->dim;
}
int lg_encoder_is_sparse(const lg_encoder *enc) {
    return enc->sparse;
}
uint64_t lg_encoder_config_hash(const lg_encoder *enc) {
    return enc->config_hash;
}
const char *lg_encoder_config_json(const lg_encoder *enc) {
    return enc->config_json;
}

lg_err lg_encoder_scratch_new(const lg_encoder *enc, lg_encoder_scratch **out, lg_errmsg *err) {
    *out = NULL;
    lg_encoder_scratch *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "encoder scratch: out of memory");
    s->enc = enc;
    if (enc->ops->scratch_new) {
        lg_err e = enc->ops->scratch_new(enc->ctx, &s->impl, err);
        if (e) {
            free(s);
            return e;
        }
    }
    *out = s;
    return LG_OK;
}

void lg_encoder_scratch_free(lg_encoder_scratch *s) {
    if (!s) return;
    if (s->impl && s->enc->ops->scratch_free) s->enc->ops->scratch_free(s->impl);
    free(s);
}

lg_err lg_encoder_encode_batch(const lg_encoder *enc, lg_encoder_scratch *s,
                               const char *const *msgs, const size_t *lens, size_t n,
                               lg_embeddings *out, lg_errmsg *err) {
    if (s && s->enc != enc)
        return lg_fail(err, LG_EINVAL, "encoder scratch belongs to another encoder");
    lg_err e = enc->ops->encode_batch(enc->ctx, s ? s->impl : NULL, msgs, lens, n, out, err);
    if (e) return e;
    if (out->n_rows != n || out->dim != enc->dim || out->sparse != enc->sparse)
        return lg_fail(err, LG_EINTERNAL, "encoder %s returned a batch of the wrong shape",
                       enc->ops->name);
    return LG_OK;
}

lg_err lg_encoder_encode_dense(const lg_encoder *enc, lg_encoder_scratch *s,
                               const char *const *msgs, const size_t *lens, size_t n, float *out,
                               lg_errmsg *err) {
    lg_embeddings e;
    lg_embeddings_init(&e);
    lg_err r = lg_encoder_encode_batch(enc, s, msgs, lens, n, &e, err);
    if (!r) lg_embeddings_to_dense(&e, out);
    lg_embeddings_free(&e);
    return r;
}
