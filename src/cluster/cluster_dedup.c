/* cluster_dedup.c - the distinct rows of an embedding matrix. Log files are
 * repetitive and the hash encoder masks numbers and ids, so most rows share
 * their vector with many others; DBSCAN and the silhouette weighted by the
 * multiplicities are exactly those of all rows (src/cluster/dbscan.c) at the cost of
 * the distinct vectors only. Rows are hashed (their bytes) and compared
 * exactly: bit-identical rows are one vector, anything else stays apart.
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"

#define ID_EMPTY UINT32_MAX

/* ---- Hash ---------------------------------------------------------------------- */

static inline uint64_t mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t lg_hash_bytes(const void *p, size_t len) {
    const unsigned char *b = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len, w;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001B3ull;
        h ^= h >> 29;
    }
    w = 0;
    if (i < len) {
        memcpy(&w, b + i, len - i);
        h = (h ^ w) * 0x100000001B3ull;
    }
    return mix64(h);
}

/* ---- Id table -------------------------------------------------------------------- */

static lg_err table_alloc(lg_idtable *t, size_t cap, lg_errmsg *err) {
    t->hash = malloc(cap * sizeof *t->hash);
    t->id = malloc(cap * sizeof *t->id);
    if (!t->hash || !t->id) {
        free(t->hash), free(t->id);
        t->hash = NULL, t->id = NULL;
        return lg_fail(err, LG_ENOMEM, "dedup: out of memory for a table of %zu slots", cap);
    }
    for (size_t s = 0; s < cap; s++) t->id[s] = ID_EMPTY;
    t->cap = cap;
    return LG_OK;
}

lg_err lg_idtable_init(lg_idtable *t, size_t expect, lg_errmsg *err) {
    memset(t, 0, sizeof *t);
    size_t cap = 64;
    while (cap < 2 * expect && cap < ((size_t)1 << 40)) cap <<= 1;
    return table_alloc(t, cap, err);
}

void lg_idtable_free(lg_idtable *t) {
    free(t->hash), free(t->id);
    memset(t, 0, sizeof *t);
}

static lg_err table_grow(lg_idtable *t, lg_errmsg *err) {
    lg_idtable old = *t;
    lg_err e = table_alloc(t, 2 * old.cap, err);
    if (e) {
        *t = old;
        return e;
    }
    for (size_t s = 0; s < old.cap; s++) {
        if (old.id[s] == ID_EMPTY) continue;
        size_t q = (size_t)old.hash[s] & (t->cap - 1);
        while (t->id[q] != ID_EMPTY) q = (q + 1) & (t->cap - 1);
        t->hash[q] = old.hash[s];
        t->id[q] = old.id[s];
    }
    free(old.hash), free(old.id);
    return LG_OK;
}

lg_err lg_idtable_get(lg_idtable *t, uint64_t h, lg_idtable_eq eq, void *ctx, uint32_t *id,
                      int *added, lg_errmsg *err) {
    *added = 0;
    size_t q = (size_t)h & (t->cap - 1);
    for (; t->id[q] != ID_EMPTY; q = (q + 1) & (t->cap - 1))
        if (t->hash[q] == h && eq(ctx, t->id[q])) {
            *id = t->id[q];
            return LG_OK;
        }
    if (t->count >= ID_EMPTY - 1) return lg_fail(err, LG_ELIMIT, "dedup: more than 2^32 - 2 keys");
    t->hash[q] = h;
    t->id[q] = (uint32_t)t->count++;
    *id = t->id[q];
    *added = 1;
    if (2 * t->count > t->cap) return table_grow(t, err); /* load <= 1/2 */
    return LG_OK;
}

/* ---- Distinct vectors -------------------------------------------------------------- */

void lg_vecset_init(lg_vecset *v) { memset(v, 0, sizeof *v); }

void lg_vecset_free(lg_vecset *v) {
    if (!v) return;
    free(v->x), free(v->row_vec), free(v->weight), free(v->first_row);
    memset(v, 0, sizeof *v);
}

/* Makes room in v->x for one more vector (capacity doubles). */
static lg_err reserve_one(lg_vecset *v, lg_errmsg *err) {
    if (v->m < v->x_cap) return LG_OK;
    size_t cap = v->x_cap ? 2 * v->x_cap : 256;
    if (v->d && cap > SIZE_MAX / sizeof(float) / v->d)
        return lg_fail(err, LG_ENOMEM, "dedup: %zu vectors of %zu floats", cap, v->d);
    float *x = realloc(v->x, cap * v->d * sizeof *x);
    if (!x)
        return lg_fail(err, LG_ENOMEM, "dedup: out of memory for %zu vectors of %zu floats", cap,
                       v->d);
    v->x = x;
    v->x_cap = cap;
    return LG_OK;
}

typedef struct {
    const lg_vecset *v;
    const float *vec;
} vec_key;

static int vec_eq(void *ctx, uint32_t id) {
    const vec_key *k = ctx;
    return !memcmp(k->v->x + (size_t)id * k->v->d, k->vec, k->v->d * sizeof *k->vec);
}

lg_err lg_vecset_add(lg_vecset *v, lg_idtable *t, const float *vec, size_t max_distinct,
                     uint32_t *id, lg_errmsg *err) {
    vec_key k = {v, vec};
    int added;
    lg_err e =
        lg_idtable_get(t, lg_hash_bytes(vec, v->d * sizeof *vec), vec_eq, &k, id, &added, err);
    if (e || !added) return e;
    if (max_distinct && v->m >= max_distinct)
        return lg_fail(err, LG_ELIMIT, "more than %zu distinct vectors", max_distinct);
    if ((e = reserve_one(v, err))) return e;
    memcpy(v->x + v->m * v->d, vec, v->d * sizeof *vec);
    v->m++;
    return LG_OK;
}

lg_err lg_vecset_finish(lg_vecset *v, lg_errmsg *err) {
    free(v->weight), free(v->first_row);
    v->weight = calloc(v->m ? v->m : 1, sizeof *v->weight);
    v->first_row = malloc((v->m ? v->m : 1) * sizeof *v->first_row);
    if (!v->weight || !v->first_row) return lg_fail(err, LG_ENOMEM, "dedup: out of memory");
    for (size_t j = 0; j < v->m; j++) v->first_row[j] = SIZE_MAX;
    for (size_t i = 0; i < v->n; i++) {
        uint32_t j = v->row_vec[i];
        if (v->weight[j]++ == 0) v->first_row[j] = i;
    }
    return LG_OK;
}

lg_err lg_vecset_from_rows(const float *x, size_t n, size_t d, size_t max_distinct,
                           lg_vecset *out, lg_errmsg *err) {
    lg_vecset_init(out);
    lg_idtable t;
    lg_err e = lg_idtable_init(&t, n < 4096 ? n : 4096, err);
    if (e) return e;
    out->n = n;
    out->d = d;
    out->row_vec = malloc((n ? n : 1) * sizeof *out->row_vec);
    if (!out->row_vec) e = lg_fail(err, LG_ENOMEM, "dedup: out of memory for %zu rows", n);
    for (size_t i = 0; i < n && !e; i++) {
        e = lg_vecset_add(out, &t, x + i * d, max_distinct, &out->row_vec[i], err);
        if (e == LG_ELIMIT) /* say where */
            e = lg_fail(err, LG_ELIMIT, "more than %zu distinct vectors in the first %zu rows",
                        max_distinct, i + 1);
    }
    if (!e) e = lg_vecset_finish(out, err);
    lg_idtable_free(&t);
    if (e) lg_vecset_free(out);
    return e;
}
