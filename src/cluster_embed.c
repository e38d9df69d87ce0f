/* cluster_embed.c - messages to the dense L2-normalised rows that DBSCAN and
 * UMAP work on (through the encoder interface, include/logify/encoder.h),
 * and .npy input/output for embeddings.
 *
 * Sparse encoders (the hash encoder: 2^15 columns, ~100-300 non-zeros a
 * row) are projected by a signed feature hash to LG_CLUSTER_PROJ_DIM
 * columns: dense sgemm on 512 columns is ~60x cheaper than on 32768, and
 * the cosine error it brings is measured in docs/cluster.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

lg_err lg_cluster_embed(const char *spec, const char *const *msgs, const size_t *lens, size_t n,
                        size_t proj_dim, lg_progress_fn progress, void *puser, float **out,
                        size_t *dim, lg_errmsg *err) {
    *out = NULL;
    *dim = 0;
    lg_encoder *enc = NULL;
    lg_encoder_scratch *s = NULL;
    lg_embeddings emb;
    lg_embeddings_init(&emb);
    lg_err e = lg_encoder_new(spec, &enc, err);
    if (e) return e;
    if ((e = lg_encoder_scratch_new(enc, &s, err))) goto done;
    int sparse = lg_encoder_is_sparse(enc);
    size_t full = lg_encoder_dim(enc);
    size_t d = sparse && proj_dim ? proj_dim : full;
    if (n && d > LG_EMBEDDINGS_MAX_BYTES / sizeof(float) / n) {
        e = lg_fail(err, LG_ELIMIT,
                    "embeddings of %zu rows x %zu columns exceed %zu bytes; project (--dims) to "
                    "fewer columns",
                    n, d, (size_t)LG_EMBEDDINGS_MAX_BYTES);
        goto done;
    }
    float *x = calloc(n && d ? n * d : 1, sizeof *x); /* (n, d) */
    if (!x) {
        e = lg_fail(err, LG_ENOMEM, "out of memory for %zu x %zu embeddings", n, d);
        goto done;
    }
    for (size_t b0 = 0; b0 < n; b0 += EMBED_BATCH) {
        size_t nb = n - b0 < EMBED_BATCH ? n - b0 : EMBED_BATCH;
        if ((e = lg_encoder_encode_batch(enc, s, msgs + b0, lens + b0, nb, &emb, err))) {
            free(x);
            goto done;
        }
        if (!emb.sparse) {
            memcpy(x + b0 * d, emb.dense, nb * d * sizeof *x);
        } else if (d == full) {
            for (size_t r = 0; r < nb; r++) lg_embeddings_row_dense(&emb, r, x + (b0 + r) * d);
        } else {
            for (size_t r = 0; r < nb; r++) {
                float *row = x + (b0 + r) * d;
                for (size_t k = emb.indptr[r]; k < emb.indptr[r + 1]; k++) {
                    uint64_t h = mix64(emb.indices[k]);
                    float v = (h >> 63) ? -emb.values[k] : emb.values[k];
                    row[(h & 0xFFFFFFFFu) % d] += v;
                }
            }
        }
        if (progress) progress(puser, "embed", b0 + nb, n);
    }
    lg_l2_normalize_rows(x, n, d);
    *out = x;
    *dim = d;
done:
    lg_embeddings_free(&emb);
    lg_encoder_scratch_free(s);
    lg_encoder_free(enc);
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
