/* srcfeat.c - the `source` column as one more feature of an encoded row
 * (include/logify/srcfeat.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/srcfeat.h"

uint32_t lg_srcfeat_index(const char *src, size_t len, size_t dim) {
    uint64_t h = 0xcbf29ce484222325ull ^ 0x53524346ull; /* FNV-1a, its own kind ("SRCF") */
    for (size_t i = 0; i < len && i < LG_SRCFEAT_MAX; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c | 0x20);
        h = (h ^ c) * 0x100000001b3ull;
    }
    h ^= h >> 33; /* murmur3 finaliser */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)(h & (dim - 1));
}

/* position of feature f in row i, or the row's end */
static size_t find_in_row(const lg_embeddings *X, size_t i, uint32_t f) {
    for (size_t q = X->indptr[i]; q < X->indptr[i + 1]; q++)
        if (X->indices[q] == f) return q;
    return X->indptr[i + 1];
}

lg_err lg_srcfeat_add(lg_embeddings *X, const char *const *srcs, const size_t *lens, double v,
                      lg_errmsg *err) {
    if (!X->sparse || !srcs) return LG_OK;
    const size_t n = X->n_rows;
    size_t added = 0; /* rows that get a new entry (not a hash collision with their own) */
    for (size_t i = 0; i < n; i++)
        if (srcs[i] && lens[i] > 0)
            added += find_in_row(X, i, lg_srcfeat_index(srcs[i], lens[i], X->dim)) ==
                     X->indptr[i + 1];
    size_t nnz = X->indptr[n];
    lg_err e = lg_embeddings_reserve_sparse(X, n, X->dim, nnz + added, err);
    if (e) return e;
    const float keep = (float)sqrt(1.0 - v * v);
    /* from the last row back: row i moves right by the new entries of the
     * rows before it, and its own new entry goes at its end */
    size_t shift = added;
    for (size_t i = n; i-- > 0;) {
        size_t a = X->indptr[i], b = X->indptr[i + 1];
        int has = srcs[i] && lens[i] > 0;
        uint32_t f = has ? lg_srcfeat_index(srcs[i], lens[i], X->dim) : 0;
        size_t at = has ? find_in_row(X, i, f) : b;
        int adds = has && at == b;
        shift -= (size_t)adds;
        for (size_t q = b; q-- > a;) {
            X->indices[q + shift] = X->indices[q];
            X->values[q + shift] = has ? X->values[q] * keep : X->values[q];
        }
        if (adds) {
            X->indices[b + shift] = f;
            X->values[b + shift] = (float)v;
        } else if (has) {
            X->values[at + shift] += (float)v;
        }
        X->indptr[i + 1] = b + shift + (size_t)adds;
    }
    return LG_OK;
}
