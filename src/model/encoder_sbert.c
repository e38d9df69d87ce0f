/* encoder_sbert.c - the "sbert:DIR" encoder: a sentence-transformers model
 * directory run by Logify's own BERT (include/logify/sbert.h), dense rows.
 *
 * - The loaded model (mmapped weights) is the encoder's immutable context,
 *   shared by all threads; each encoder scratch owns an lg_sbert_scratch.
 * - Logs repeat, so each scratch keeps an embedding cache keyed by the
 *   message's exact bytes (FNV-1a + full compare). Identical messages in a
 *   batch are encoded once. The cache is bounded (SB_CACHE_BYTES of
 *   vectors, at most SB_CACHE_MAX_ENTRIES); when a batch would overflow it,
 *   it is emptied first. It is
 *   per scratch (per thread), so lookups need no lock.
 * - Rows are L2-normalised (also for models without a Normalize module) and
 *   an empty message gives a zero row, as encoder.h requires.
 * - config hash: FNV-1a over config.json, vocab.txt (or tokenizer.json when
 *   that is the vocabulary loaded), modules.json, tokenizer/pooling/
 *   sentence-bert configs and the whole safetensors file.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logify/encoder.h"
#include "model/encoder_impl.h"
#include "logify/sbert.h"

#define SB_CACHE_BYTES ((size_t)64 << 20) /* vectors held per scratch */
#define SB_CACHE_KEY_MAX 4096             /* longer messages are not cached */
#define SB_CACHE_MAX_ENTRIES 65536        /* and at most this many (small models) */

typedef struct {
    lg_sbert *m;
    int dim;
    int threads;
} sbert_ctx;

typedef struct {
    uint64_t h;
    char *key; /* message bytes (malloc'd), NULL = empty slot */
    size_t len;
    float *vec;   /* (dim) */
    long pending; /* >= 0: index among this batch's misses, vector not yet filled */
} cache_slot;

typedef struct {
    lg_sbert_scratch *s;
    cache_slot *slots; /* open addressing, n_slots power of two */
    size_t n_slots, used, max_entries;
    float *vecs; /* (max_entries, dim) vector storage */
    /* per-batch work arrays */
    const char **miss_txt;
    size_t *miss_len;
    float *miss_out;  /* (misses, dim) */
    size_t *row_slot; /* (n) slot of each row, or SIZE_MAX when uncached */
    size_t work_cap;
    long hits, misses; /* statistics */
} sbert_scratch;

/* ---- Context ------------------------------------------------------------- */

static void ctx_free(void *p) {
    sbert_ctx *c = p;
    if (!c) return;
    lg_sbert_free(c->m);
    free(c);
}

static uint64_t hash_file(const char *dir, const char *name, uint64_t h) {
    char path[PATH_MAX + 64], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (lg_read_file(path, 64u << 20, &text, &len, NULL) != LG_OK) return lg_fnv1a64("-", 1, h);
    h = lg_fnv1a64(text, len, h);
    free(text);
    return h;
}

/* ---- Scratch and cache ---------------------------------------------------- */

static void cache_clear(sbert_scratch *s) {
    for (size_t i = 0; i < s->n_slots; i++) {
        free(s->slots[i].key);
        s->slots[i].key = NULL;
    }
    s->used = 0;
}

static void scratch_free(void *p) {
    sbert_scratch *s = p;
    if (!s) return;
    if (s->slots) cache_clear(s);
    free(s->slots);
    free(s->vecs);
    free(s->miss_txt);
    free(s->miss_len);
    free(s->miss_out);
    free(s->row_slot);
    lg_sbert_scratch_free(s->s);
    free(s);
}

static lg_err scratch_new(const void *ctxp, void **out, lg_errmsg *err) {
    const sbert_ctx *c = ctxp;
    *out = NULL;
    sbert_scratch *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "sbert encoder scratch: out of memory");
    lg_err e = lg_sbert_scratch_new(c->m, &s->s, err);
    if (e) {
        free(s);
        return e;
    }
    lg_sbert_scratch_set(s->s, 32, c->threads);
    s->max_entries = SB_CACHE_BYTES / ((size_t)c->dim * sizeof(float));
    if (s->max_entries > SB_CACHE_MAX_ENTRIES) s->max_entries = SB_CACHE_MAX_ENTRIES;
    s->n_slots = 16;
    while (s->n_slots < 2 * s->max_entries)
        s->n_slots <<= 1;
    s->slots = calloc(s->n_slots, sizeof *s->slots);
    s->vecs = malloc(s->max_entries * (size_t)c->dim * sizeof(float));
    if (!s->slots || !s->vecs) {
        scratch_free(s);
        return lg_fail(err, LG_ENOMEM, "out of memory (embedding cache)");
    }
    *out = s;
    return LG_OK;
}

static lg_err work_reserve(sbert_scratch *s, size_t n, int dim, lg_errmsg *err) {
    if (n <= s->work_cap) return LG_OK;
    free(s->miss_txt);
    free(s->miss_len);
    free(s->miss_out);
    free(s->row_slot);
    s->miss_txt = malloc(n * sizeof *s->miss_txt);
    s->miss_len = malloc(n * sizeof *s->miss_len);
    s->miss_out = malloc(n * (size_t)dim * sizeof *s->miss_out);
    s->row_slot = malloc(n * sizeof *s->row_slot);
    if (!s->miss_txt || !s->miss_len || !s->miss_out || !s->row_slot) {
        s->work_cap = 0;
        return lg_fail(err, LG_ENOMEM, "sbert encoder work buffer: out of memory");
    }
    s->work_cap = n;
    return LG_OK;
}

/* Slot of key, or of the empty slot where it would go. */
static size_t cache_find(const sbert_scratch *s, const char *key, size_t len, uint64_t h) {
    size_t mask = s->n_slots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const cache_slot *c = &s->slots[i];
        if (!c->key || (c->h == h && c->len == len && !memcmp(c->key, key, len))) return i;
    }
}

/* ---- Encoding ------------------------------------------------------------- */

static void l2_normalise(float *v, int dim) {
    double ss = 0;
    for (int d = 0; d < dim; d++)
        ss += (double)v[d] * v[d];
    if (ss <= 0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int d = 0; d < dim; d++)
        v[d] *= inv;
}

static lg_err encode_batch(const void *ctxp, void *scratchp, const char *const *msgs,
                           const size_t *lens, size_t n, lg_embeddings *out, lg_errmsg *err) {
    const sbert_ctx *c = ctxp;
    sbert_scratch *s = scratchp;
    int dim = c->dim;
    lg_err e = lg_embeddings_reserve_dense(out, n, (size_t)dim, err);
    if (e || n == 0) return e;
    if ((e = work_reserve(s, n, dim, err))) return e;
    int use_cache = n <= s->max_entries / 2;
    if (use_cache && s->used + n > s->max_entries) cache_clear(s);
    size_t misses = 0;
    for (size_t i = 0; i < n; i++) {
        const char *msg = msgs[i] ? msgs[i] : "";
        size_t len = msgs[i] ? lens[i] : 0;
        s->row_slot[i] = SIZE_MAX;
        if (len == 0) continue; /* zero row */
        if (!use_cache || len > SB_CACHE_KEY_MAX) {
            s->miss_txt[misses] = msg;
            s->miss_len[misses] = len;
            s->row_slot[i] = SIZE_MAX - 1 - misses; /* direct: row from miss_out */
            misses++;
            continue;
        }
        uint64_t h = lg_fnv1a64(msg, len, 0x5be7);
        size_t k = cache_find(s, msg, len, h);
        cache_slot *cs = &s->slots[k];
        if (!cs->key) { /* new entry: encode it with this batch */
            cs->key = lg_strndup(msg, len);
            if (!cs->key) return lg_fail(err, LG_ENOMEM, "sbert encoder cache key: out of memory");
            cs->h = h;
            cs->len = len;
            cs->vec = s->vecs + s->used * (size_t)dim;
            cs->pending = (long)misses;
            s->used++;
            s->miss_txt[misses] = msg;
            s->miss_len[misses] = len;
            misses++;
            s->misses++;
        } else {
            s->hits++;
        }
        s->row_slot[i] = k;
    }
    if (misses &&
        (e = lg_sbert_encode(c->m, s->s, s->miss_txt, s->miss_len, misses, s->miss_out, err))) {
        /* drop the entries that never got their vector */
        for (size_t i = 0; i < n; i++)
            if (s->row_slot[i] < s->n_slots && s->slots[s->row_slot[i]].pending >= 0) {
                cache_clear(s);
                break;
            }
        return e;
    }
    for (size_t i = 0; i < n; i++) {
        float *row = out->dense + i * (size_t)dim;
        size_t k = s->row_slot[i];
        if (k == SIZE_MAX) {
            memset(row, 0, (size_t)dim * sizeof *row);
        } else if (k >= s->n_slots) {
            memcpy(row, s->miss_out + (SIZE_MAX - 1 - k) * (size_t)dim, (size_t)dim * sizeof *row);
            l2_normalise(row, dim);
        } else {
            cache_slot *cs = &s->slots[k];
            if (cs->pending >= 0) {
                memcpy(cs->vec, s->miss_out + (size_t)cs->pending * (size_t)dim,
                       (size_t)dim * sizeof *cs->vec);
                l2_normalise(cs->vec, dim);
                cs->pending = -1;
            }
            memcpy(row, cs->vec, (size_t)dim * sizeof *row);
        }
    }
    return LG_OK;
}

static const lg_encoder_ops sbert_ops = {"sbert", scratch_new, scratch_free, encode_batch,
                                         ctx_free};

/* ---- Factory ----------------------------------------------------------------- */

lg_err lg_encoder_sbert_new(const char *dir, lg_encoder **out, lg_errmsg *err) {
    *out = NULL;
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return lg_fail(err, LG_ENOTFOUND, "sbert:%s: no such directory", dir);
    sbert_ctx *c = calloc(1, sizeof *c);
    if (!c) return lg_fail(err, LG_ENOMEM, "sbert encoder: out of memory");
    lg_err e = lg_sbert_load(abs, &c->m, err);
    if (e) {
        free(c);
        return e;
    }
    c->dim = lg_sbert_dim(c->m);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = ncpu < 1 ? 1 : (ncpu > 8 ? 8 : (int)ncpu);
    lg_sbert_info i;
    lg_sbert_info_get(c->m, &i);
    /* the vocabulary file is the one loaded: vocab.txt or tokenizer.json */
    const char *files[] = {"config.json", i.tokenizer, "modules.json", "tokenizer_config.json",
                           "sentence_bert_config.json"};
    uint64_t h = 0x5be7;
    for (size_t k = 0; k < sizeof files / sizeof *files; k++)
        h = hash_file(abs, files[k], h);
    h = lg_fnv1a64(&i.pooling, sizeof i.pooling, h);
    h = lg_fnv1a64(&i.normalize, sizeof i.normalize, h);
    h = lg_sbert_weights_hash(c->m, h);
    char spec[PATH_MAX + 8], json[PATH_MAX + 512];
    snprintf(spec, sizeof spec, "sbert:%s", abs);
    snprintf(
        json, sizeof json,
        "{\"type\": \"sbert\", \"dir\": \"%s\", \"hidden\": %d, \"layers\": %d, \"heads\": %d, "
        "\"intermediate\": %d, \"max_seq_length\": %d, \"pooling\": \"%s\", \"normalize\": %s, "
        "\"dtype\": \"%s\", \"do_lower_case\": %s}",
        strpbrk(abs, "\"\\") ? "(path with quotes)" : abs, i.hidden, i.layers, i.heads,
        i.intermediate, i.max_seq_length, i.pooling == LG_SBERT_POOL_CLS ? "cls" : "mean",
        i.normalize ? "true" : "false", i.dtype, i.do_lower_case ? "true" : "false");
    lg_encoder_info info = {spec, (size_t)c->dim, 0, h, json};
    return lg_encoder_wrap(&sbert_ops, c, &info, out, err);
}
