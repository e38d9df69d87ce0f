/* cluster_int.h - internals shared by the clustering modules (not part of
 * the library's interface): the id table that src/cluster/cluster_dedup.c and
 * src/cluster/cluster_embed.c use to find identical vectors and identical messages.
 */
#ifndef LOGIFY_CLUSTER_INT_H
#define LOGIFY_CLUSTER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "logify/cluster.h"

/* Open-addressing table from a 64-bit hash to a dense id (0, 1, 2, ...);
 * equality of the keys behind two equal hashes is the caller's callback,
 * so that the table holds no keys itself. */
typedef struct {
    size_t cap;     /* slots, a power of 2 */
    size_t count;   /* ids handed out */
    uint64_t *hash; /* (cap) */
    uint32_t *id;   /* (cap) UINT32_MAX = empty */
} lg_idtable;

/* Is the key of `id` the one being looked up? */
typedef int (*lg_idtable_eq)(void *ctx, uint32_t id);

lg_err lg_idtable_init(lg_idtable *t, size_t expect, lg_errmsg *err);
void lg_idtable_free(lg_idtable *t);
/* The id of the key hashing to h (eq confirms); when absent, it gets the
 * next id (t->count before the call) and *added is 1. */
lg_err lg_idtable_get(lg_idtable *t, uint64_t h, lg_idtable_eq eq, void *ctx, uint32_t *id,
                      int *added, lg_errmsg *err);

/* 64-bit hash of len bytes. */
uint64_t lg_hash_bytes(const void *p, size_t len);

/* Adds vec (d floats) unless a bit-identical vector is there; *id its
 * distinct vector. LG_ELIMIT past max_distinct (0 = none). */
lg_err lg_vecset_add(lg_vecset *v, lg_idtable *t, const float *vec, size_t max_distinct,
                     uint32_t *id, lg_errmsg *err);
/* Fills v->weight and v->first_row from v->row_vec (v->n rows). */
lg_err lg_vecset_finish(lg_vecset *v, lg_errmsg *err);

#endif
