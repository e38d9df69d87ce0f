/* encoder_impl.h - the interface an encoder implementation is written
 * against (src/model/encoder_<name>.c): its operations table and the wrapper
 * that turns it into an lg_encoder (src/model/encoder.c). Private to
 * src/model/; users see include/logify/encoder.h. */
#ifndef LOGIFY_MODEL_ENCODER_IMPL_H
#define LOGIFY_MODEL_ENCODER_IMPL_H

#include "logify/encoder.h"

/* ---- For implementations --------------------------------------------------- */

typedef struct {
    const char *name; /* "hash", "sbert" */
    /* may set *out = NULL when no scratch is needed */
    lg_err (*scratch_new)(const void *ctx, void **out, lg_errmsg *err);
    void (*scratch_free)(void *scratch);
    /* contract of lg_encoder_encode_batch */
    lg_err (*encode_batch)(const void *ctx, void *scratch, const char *const *msgs,
                           const size_t *lens, size_t n, lg_embeddings *out, lg_errmsg *err);
    void (*ctx_free)(void *ctx);
} lg_encoder_ops;

typedef struct {
    const char *spec; /* canonical spec; copied */
    size_t dim;
    int sparse;
    uint64_t config_hash;
    const char *config_json; /* JSON object text; copied; NULL = "{}" */
} lg_encoder_info;

/* Wraps an implementation into an lg_encoder that owns ctx (freed with
 * ops->ctx_free, also when this call fails). */
lg_err lg_encoder_wrap(const lg_encoder_ops *ops, void *ctx, const lg_encoder_info *info,
                       lg_encoder **out, lg_errmsg *err);

#endif
