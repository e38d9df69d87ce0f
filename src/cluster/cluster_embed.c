/* cluster_embed.c - messages to the dense L2-normalised rows that DBSCAN and
 * UMAP work on (through the encoder interface, include/logify/encoder.h),
 * and .npy input/output for embeddings.
 *
 * Sparse encoders (the hash encoder: 2^15 columns, ~100-300 non-zeros a
 * row) are projected by a signed feature hash to LG_CLUSTER_PROJ_DIM
 * columns: dense sgemm on 512 columns is ~60x cheaper than on 32768, and
 * the cosine error it brings is measured in docs/cluster.md.
 *
 * lg_cluster_embed_distinct encodes each distinct message once and keeps
 * only the distinct vectors (src/cluster/cluster_dedup.c) with each row's index.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster_int.h"
#include "logify/cluster.h"
#include "logify/encoder.h"

#define EMBED_BATCH 512
#define NPY_MAX_HEADER 4096

/* Column j of the sparse space -> (column, sign) of the projection. */
static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* rows (nb, d) = the batch's embeddings, dense, projected when sparse and
 * d < full, L2-normalised. */
static void batch_rows(const lg_embeddings *emb, size_t nb, size_t d, size_t full, float *rows) {
    if (!emb->sparse) {
        memcpy(rows, emb->dense, nb * d * sizeof *rows);
    } else if (d == full) {
        for (size_t r = 0; r < nb; r++) lg_embeddings_row_dense(emb, r, rows + r * d);
    } else {
        memset(rows, 0, nb * d * sizeof *rows);
        for (size_t r = 0; r < nb; r++) {
            float *row = rows + r * d;
            for (size_t k = emb->indptr[r]; k < emb->indptr[r + 1]; k++) {
                uint64_t h = mix64(emb->indices[k]);
                float v = (h >> 63) ? -emb->values[k] : emb->values[k];
                row[(h & 0xFFFFFFFFu) % d] += v;
            }
        }
    }
    lg_l2_normalize_rows(rows, nb, d);
}

/* An encoder, its scratch and the dimension of the rows it gives. */
typedef struct {
    lg_encoder *enc;
    lg_encoder_scratch *s;
    lg_embeddings emb;
    size_t full, d;
} embedder;

static lg_err embedder_open(embedder *em, const char *spec, size_t proj_dim, lg_errmsg *err) {
    memset(em, 0, sizeof *em);
    lg_embeddings_init(&em->emb);
    lg_err e = lg_encoder_new(spec, &em->enc, err);
    if (!e) e = lg_encoder_scratch_new(em->enc, &em->s, err);
    if (e) return e;
    em->full = lg_encoder_dim(em->enc);
    em->d = lg_encoder_is_sparse(em->enc) && proj_dim ? proj_dim : em->full;
    return LG_OK;
}

static void embedder_close(embedder *em) {
    lg_embeddings_free(&em->emb);
    lg_encoder_scratch_free(em->s);
    lg_encoder_free(em->enc);
}

lg_err lg_cluster_embed(const char *spec, const char *const *msgs, const size_t *lens, size_t n,
                        size_t proj_dim, lg_progress_fn progress, void *puser, float **out,
                        size_t *dim, lg_errmsg *err) {
    *out = NULL;
    *dim = 0;
    embedder em;
    float *x = NULL; /* (n, d) */
    lg_err e = embedder_open(&em, spec, proj_dim, err);
    if (e) goto done;
    size_t d = em.d;
    if (n && d > LG_EMBEDDINGS_MAX_BYTES / sizeof(float) / n) {
        e = lg_fail(err, LG_ELIMIT,
                    "embeddings of %zu rows x %zu columns exceed %zu bytes; project (--dims) to "
                    "fewer columns",
                    n, d, (size_t)LG_EMBEDDINGS_MAX_BYTES);
        goto done;
    }
    x = calloc(n && d ? n * d : 1, sizeof *x);
    if (!x) {
        e = lg_fail(err, LG_ENOMEM, "out of memory for %zu x %zu embeddings", n, d);
        goto done;
    }
    for (size_t b0 = 0; b0 < n; b0 += EMBED_BATCH) {
        size_t nb = n - b0 < EMBED_BATCH ? n - b0 : EMBED_BATCH;
        if ((e = lg_encoder_encode_batch(em.enc, em.s, msgs + b0, lens + b0, nb, &em.emb, err)))
            goto done;
        batch_rows(&em.emb, nb, d, em.full, x + b0 * d);
        if ((e = lg_progress_check(progress, puser, "embed", b0 + nb, n, err))) goto done;
    }
    *out = x;
    x = NULL;
    *dim = d;
done:
    free(x);
    embedder_close(&em);
    return e;
}

/* ---- Distinct messages, distinct vectors ------------------------------------------- */

typedef struct {
    const char *const *msgs;
    const size_t *lens;
    const size_t *first; /* (texts) first row of each distinct text */
    size_t row;          /* the row being looked up */
} text_key;

static int text_eq(void *ctx, uint32_t id) {
    const text_key *k = ctx;
    size_t f = k->first[id];
    return k->lens[f] == k->lens[k->row] && !memcmp(k->msgs[f], k->msgs[k->row], k->lens[f]);
}

lg_err lg_cluster_embed_distinct(const char *spec, const char *const *msgs, const size_t *lens,
                                 size_t n, size_t proj_dim, size_t max_distinct,
                                 lg_progress_fn progress, void *puser, lg_vecset *out,
                                 lg_errmsg *err) {
    lg_vecset_init(out);
    embedder em;
    lg_idtable texts, vecs;
    memset(&texts, 0, sizeof texts);
    memset(&vecs, 0, sizeof vecs);
    size_t *first = NULL;     /* (distinct texts) their first row */
    uint32_t *text_of = NULL; /* (n) row -> distinct text */
    uint32_t *vec_of = NULL;  /* (distinct texts) -> distinct vector */
    float *rows = NULL;       /* (EMBED_BATCH, d) */
    const char **bm = NULL;
    size_t *bl = NULL;
    lg_err e = embedder_open(&em, spec, proj_dim, err);
    if (e) goto done;
    size_t d = em.d;
    out->n = n;
    out->d = d;
    first = malloc((n ? n : 1) * sizeof *first);
    text_of = malloc((n ? n : 1) * sizeof *text_of);
    out->row_vec = malloc((n ? n : 1) * sizeof *out->row_vec);
    rows = malloc(EMBED_BATCH * (d ? d : 1) * sizeof *rows);
    bm = malloc(EMBED_BATCH * sizeof *bm);
    bl = malloc(EMBED_BATCH * sizeof *bl);
    if (!first || !text_of || !out->row_vec || !rows || !bm || !bl) {
        e = lg_fail(err, LG_ENOMEM, "out of memory for %zu rows", n);
        goto done;
    }
    /* 1. distinct texts, numbered by first occurrence */
    if ((e = lg_idtable_init(&texts, n < 4096 ? n : 4096, err)) ||
        (e = lg_idtable_init(&vecs, 4096, err)))
        goto done;
    for (size_t i = 0; i < n; i++) {
        text_key k = {msgs, lens, first, i};
        int added;
        if ((e = lg_idtable_get(&texts, lg_hash_bytes(msgs[i], lens[i]), text_eq, &k, &text_of[i],
                                &added, err)))
            goto done;
        if (added) first[text_of[i]] = i;
    }
    size_t nt = texts.count;
    out->texts = nt;
    vec_of = malloc((nt ? nt : 1) * sizeof *vec_of);
    if (!vec_of) {
        e = lg_fail(err, LG_ENOMEM, "out of memory for %zu messages", nt);
        goto done;
    }
    /* 2. encode each distinct text once, in order; keep distinct vectors
     * (first occurrence order of texts = of rows, so of vectors too) */
    for (size_t t0 = 0; t0 < nt; t0 += EMBED_BATCH) {
        size_t nb = nt - t0 < EMBED_BATCH ? nt - t0 : EMBED_BATCH;
        for (size_t r = 0; r < nb; r++) bm[r] = msgs[first[t0 + r]], bl[r] = lens[first[t0 + r]];
        if ((e = lg_encoder_encode_batch(em.enc, em.s, bm, bl, nb, &em.emb, err))) goto done;
        batch_rows(&em.emb, nb, d, em.full, rows);
        for (size_t r = 0; r < nb; r++) {
            e = lg_vecset_add(out, &vecs, rows + r * d, max_distinct, &vec_of[t0 + r], err);
            if (e == LG_ELIMIT)
                e = lg_fail(err, LG_ELIMIT,
                            "more than %zu distinct embedding vectors (reached at row %zu of %zu)",
                            max_distinct, first[t0 + r] + 1, n);
            if (e) goto done;
        }
        if ((e = lg_progress_check(progress, puser, "embed", t0 + nb, nt, err))) goto done;
    }
    for (size_t i = 0; i < n; i++) out->row_vec[i] = vec_of[text_of[i]];
    e = lg_vecset_finish(out, err);
done:
    if (e) lg_vecset_free(out);
    lg_idtable_free(&texts);
    lg_idtable_free(&vecs);
    free(first), free(text_of), free(vec_of), free(rows), free(bm), free(bl);
    embedder_close(&em);
    return e;
}

/* ---- .npy ------------------------------------------------------------------------- */

lg_err lg_npy_header(size_t n, size_t d, lg_buf *out, lg_errmsg *err) {
    char dict[256];
    int len = snprintf(dict, sizeof dict,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", n, d);
    size_t total = 10 + (size_t)len + 1; /* magic(6) ver(2) hlen(2) dict \n */
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)len + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 255),
                             (unsigned char)(hlen >> 8)};
    lg_err e = lg_buf_append(out, pre, sizeof pre);
    if (!e) e = lg_buf_append(out, dict, (size_t)len);
    for (size_t i = 0; i < pad && !e; i++) e = lg_buf_putc(out, ' ');
    if (!e) e = lg_buf_putc(out, '\n');
    if (e) return lg_fail(err, e, "npy header");
    return LG_OK;
}

/* Value of 'key': in the header dict; NULL when absent. */
static const char *dict_value(const char *h, const char *key) {
    const char *p = strstr(h, key);
    if (!p) return NULL;
    p += strlen(key);
    while (*p == ' ' || *p == ':' || *p == '\'' ) p++;
    return p;
}

lg_err lg_npy_read(const char *path, float **out, size_t *n, size_t *d, lg_errmsg *err) {
    *out = NULL;
    *n = *d = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return lg_fail(err, LG_EIO, "%s: %s", path, strerror(errno));
    unsigned char pre[12];
    char hdr[NPY_MAX_HEADER + 1];
    float *x = NULL;
    double *tmp = NULL;
    lg_err e = LG_OK;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        e = lg_fail(err, LG_EPARSE, "%s: not a .npy file", path);
        goto done;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (fread(pre + 10, 1, 2, f) == 2) { /* versions 2 and 3: 4-byte length */
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        hlen = SIZE_MAX;
    }
    if (hlen > NPY_MAX_HEADER || fread(hdr, 1, hlen, f) != hlen) {
        e = lg_fail(err, LG_EPARSE, "%s: bad or oversized .npy header", path);
        goto done;
    }
    hdr[hlen] = '\0';
    const char *descr = dict_value(hdr, "'descr'"), *fo = dict_value(hdr, "'fortran_order'"),
               *shape = dict_value(hdr, "'shape'");
    int f8 = descr && !strncmp(descr, "<f8", 3), f4 = descr && !strncmp(descr, "<f4", 3);
    unsigned long long a = 0, b = 0;
    if (!(f4 || f8) || !fo || strncmp(fo, "False", 5) || !shape ||
        sscanf(shape, "(%llu, %llu)", &a, &b) != 2 || a == 0 || b == 0) {
        e = lg_fail(err, LG_EPARSE,
                    "%s: need a 2-D C-order float32/float64 array (header: %s)", path, hdr);
        goto done;
    }
    if (a * b > LG_EMBEDDINGS_MAX_BYTES / sizeof(float)) {
        e = lg_fail(err, LG_ELIMIT, "%s: %llu x %llu is too large", path, a, b);
        goto done;
    }
    size_t cnt = (size_t)(a * b);
    x = malloc(cnt * sizeof *x);
    if (!x) {
        e = lg_fail(err, LG_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (f4) {
        if (fread(x, sizeof *x, cnt, f) != cnt) e = lg_fail(err, LG_EPARSE, "%s: truncated", path);
    } else {
        tmp = malloc(cnt * sizeof *tmp);
        if (!tmp) e = lg_fail(err, LG_ENOMEM, "%s: out of memory", path);
        else if (fread(tmp, sizeof *tmp, cnt, f) != cnt) e = lg_fail(err, LG_EPARSE, "%s: truncated", path);
        else
            for (size_t i = 0; i < cnt; i++) x[i] = (float)tmp[i];
    }
    if (!e) {
        *out = x;
        x = NULL;
        *n = (size_t)a;
        *d = (size_t)b;
    }
done:
    free(x);
    free(tmp);
    fclose(f);
    return e;
}
