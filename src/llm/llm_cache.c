/* llm_cache.c - the LLM stage's template cache: (model, label set, masked
 * message template) -> label, so that a thousand lines of one pattern cost
 * one call.
 *
 * A chained hash table plus a recency list (least recently used evicted),
 * both behind one mutex: a lookup already takes the lock, so moving the hit
 * to the front costs four pointer writes, no more than a CLOCK bit would,
 * and lookups are rare next to the network round trips they save. The
 * cache holds at most `max` entries; adding one more evicts the least
 * recently used (a hit or a put makes an entry the most recent).
 *
 * Optionally persisted as JSON lines, least recently used first, so that
 * reading the file back in order restores the recency order (and a file
 * longer than the cache keeps its most recent lines):
 *
 *   {"model":"...","labelset":"9f0c...","template":"...","label":"..."}
 *
 * The format is the one earlier versions wrote (their line order was
 * arbitrary; such a file loads with an arbitrary recency order). The file
 * is read when the client is created and rewritten (temporary file +
 * rename) by llm_cache_save, when anything changed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm/llm_int.h"
#include "logify/csv.h"
#include "logify/jsonguard.h"

#define CACHE_MAX_FILE (256u << 20)
#define CACHE_MAX_FIELD 8192 /* bytes of one template read from the file */

typedef struct entry {
    struct entry *next;          /* hash chain */
    struct entry *newer, *older; /* recency list */
    uint64_t hash;
    char *model, *labelset, *tmpl, *label;
} entry;

struct llm_cache {
    pthread_mutex_t mu; /* guards everything below but path */
    entry **buckets;    /* (n_buckets) */
    size_t n_buckets;   /* power of two */
    entry *newest, *oldest;
    size_t count, max;
    uint64_t evictions;
    int dirty;               /* entries or their order changed since the last save */
    char *path;              /* NULL: memory only */
    pthread_mutex_t save_mu; /* one save at a time (taken before mu) */
};

static uint64_t key_hash(const char *model, const char *labelset, const char *tmpl) {
    uint64_t h = lg_fnv1a64(model, strlen(model), 0);
    h = lg_fnv1a64("\x1f", 1, h);
    h = lg_fnv1a64(labelset, strlen(labelset), h);
    h = lg_fnv1a64("\x1f", 1, h);
    return lg_fnv1a64(tmpl, strlen(tmpl), h);
}

static void entry_free(entry *e) {
    free(e->model);
    free(e->labelset);
    free(e->tmpl);
    free(e->label);
    free(e);
}

void llm_cache_free(llm_cache *c) {
    if (!c) return;
    entry *e = c->newest;
    while (e) {
        entry *older = e->older;
        entry_free(e);
        e = older;
    }
    free(c->buckets);
    free(c->path);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->save_mu);
    free(c);
}

/* ---- Table and recency list (the caller holds mu) ----------------------------------- */

static entry *find(llm_cache *c, uint64_t h, const char *model, const char *labelset,
                   const char *tmpl) {
    for (entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->tmpl, tmpl) && !strcmp(e->labelset, labelset) &&
            !strcmp(e->model, model))
            return e;
    return NULL;
}

static void list_unlink(llm_cache *c, entry *e) {
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push_newest(llm_cache *c, entry *e) {
    e->newer = NULL;
    e->older = c->newest;
    if (c->newest) c->newest->newer = e;
    c->newest = e;
    if (!c->oldest) c->oldest = e;
}

/* Makes e the most recently used entry. */
static void touch(llm_cache *c, entry *e) {
    if (c->newest == e) return;
    list_unlink(c, e);
    list_push_newest(c, e);
    c->dirty = 1;
}

/* Removes and frees the least recently used entry. */
static void evict_oldest(llm_cache *c) {
    entry *e = c->oldest;
    if (!e) return;
    list_unlink(c, e);
    entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    entry_free(e);
    c->count--;
    c->evictions++;
}

/* Doubles the table when it gets crowded; failure just keeps it as is. */
static void maybe_grow(llm_cache *c) {
    if (c->count < c->n_buckets) return;
    size_t nb = c->n_buckets * 2;
    entry **b = calloc(nb, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < c->n_buckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
}

/* Inserts or replaces, as the most recent entry, evicting the least recent
 * one when full. Returns 1 if anything changed. */
static int put_locked(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                      const char *label) {
    uint64_t h = key_hash(model, labelset, tmpl);
    entry *e = find(c, h, model, labelset, tmpl);
    if (e) {
        int was_newest = c->newest == e;
        touch(c, e);
        if (!strcmp(e->label, label)) return !was_newest;
        char *l = lg_strdup(label);
        if (!l) return !was_newest;
        free(e->label);
        e->label = l;
        return 1;
    }
    if (c->max == 0) return 0;
    e = calloc(1, sizeof *e);
    if (!e) return 0;
    e->hash = h;
    e->model = lg_strdup(model);
    e->labelset = lg_strdup(labelset);
    e->tmpl = lg_strdup(tmpl);
    e->label = lg_strdup(label);
    if (!e->model || !e->labelset || !e->tmpl || !e->label) {
        entry_free(e);
        return 0;
    }
    while (c->count >= c->max)
        evict_oldest(c);
    maybe_grow(c);
    entry **slot = &c->buckets[h & (c->n_buckets - 1)];
    e->next = *slot;
    *slot = e;
    list_push_newest(c, e);
    c->count++;
    return 1;
}

/* ---- File ------------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v) < CACHE_MAX_FIELD ? json_string_value(v)
                                                                        : NULL;
}

/* Reads the file, oldest line first; the caller holds mu (or is alone). */
static lg_err load(llm_cache *c, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    if (access(c->path, F_OK) != 0) return LG_OK; /* first run */
    lg_err e = lg_read_file(c->path, CACHE_MAX_FILE, &text, &len, err);
    if (e) return e;
    size_t bad = 0, lines = 0;
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (n) {
            json_error_t je;
            int oom;
            json_t *o = lg_json_loadb(line, n, 0, &je, &oom);
            if (oom) { /* a byte of a label may be lost */
                free(text);
                return lg_fail(err, LG_ENOMEM, "llm cache %s: out of memory reading line %zu", c->path,
                               lines + bad + 1);
            }
            const char *m = jstr(o, "model"), *ls = jstr(o, "labelset"), *t = jstr(o, "template"),
                       *l = jstr(o, "label");
            if (m && ls && t && l && *l) {
                put_locked(c, m, ls, t, l);
                lines++;
            } else {
                bad++;
            }
            json_decref(o);
        }
        line += n + 1;
    }
    free(text);
    if (bad) lg_log(LG_LOG_WARN, "llm cache %s: %zu malformed lines ignored", c->path, bad);
    if (c->evictions)
        lg_log(LG_LOG_WARN, "llm cache %s: %zu lines for cache_size %zu: the %zu most recent kept",
               c->path, lines, c->max, c->count);
    c->evictions = 0; /* the counter is about this process's traffic */
    c->dirty = 0;
    return LG_OK;
}

lg_err llm_cache_new(const char *path, size_t max_entries, llm_cache **out, lg_errmsg *err) {
    *out = NULL;
    llm_cache *c = calloc(1, sizeof *c);
    if (!c) return lg_fail(err, LG_ENOMEM, "llm cache: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->save_mu, NULL);
    c->n_buckets = 1024;
    c->max = max_entries;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets || (path && !(c->path = lg_strdup(path)))) {
        llm_cache_free(c);
        return lg_fail(err, LG_ENOMEM, "llm cache: out of memory");
    }
    if (c->path) {
        lg_err e = load(c, err);
        if (e) {
            llm_cache_free(c);
            return e;
        }
    }
    *out = c;
    return LG_OK;
}

int llm_cache_get(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                  char *label, size_t cap) {
    if (!c) return 0;
    uint64_t h = key_hash(model, labelset, tmpl);
    pthread_mutex_lock(&c->mu);
    entry *e = find(c, h, model, labelset, tmpl);
    if (e) {
        snprintf(label, cap, "%s", e->label);
        touch(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return e != NULL;
}

void llm_cache_put(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                   const char *label) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    if (put_locked(c, model, labelset, tmpl, label)) c->dirty = 1;
    pthread_mutex_unlock(&c->mu);
}

size_t llm_cache_count(llm_cache *c) {
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    size_t n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

uint64_t llm_cache_evictions(llm_cache *c) {
    if (!c) return 0;
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->evictions;
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* Appends every entry, least recently used first, as JSON lines; the caller
 * holds mu. */
static lg_err serialize(llm_cache *c, lg_buf *out) {
    lg_err e = LG_OK;
    for (entry *en = c->oldest; en && !e; en = en->newer) {
        e = lg_buf_append(out, "{\"model\":", 9);
        if (!e) e = lg_json_put_string(out, en->model, strlen(en->model));
        if (!e) e = lg_buf_append(out, ",\"labelset\":", 12);
        if (!e) e = lg_json_put_string(out, en->labelset, strlen(en->labelset));
        if (!e) e = lg_buf_append(out, ",\"template\":", 12);
        if (!e) e = lg_json_put_string(out, en->tmpl, strlen(en->tmpl));
        if (!e) e = lg_buf_append(out, ",\"label\":", 9);
        if (!e) e = lg_json_put_string(out, en->label, strlen(en->label));
        if (!e) e = lg_buf_append(out, "}\n", 2);
    }
    return e;
}

/* The entries are copied out as text under the lock (lookups wait only for
 * that), then written without it; save_mu keeps two saves from crossing. */
lg_err llm_cache_save(llm_cache *c, lg_errmsg *err) {
    if (!c || !c->path) return LG_OK;
    pthread_mutex_lock(&c->save_mu);
    lg_buf text;
    lg_buf_init(&text, CACHE_MAX_FILE);
    char *tmp = NULL;
    FILE *f = NULL;
    lg_err e = LG_OK;
    pthread_mutex_lock(&c->mu);
    int dirty = c->dirty;
    if (dirty) {
        e = serialize(c, &text);
        if (!e) c->dirty = 0;
    }
    pthread_mutex_unlock(&c->mu);
    if (!dirty) goto done;
    if (e) {
        e = lg_fail(err, e, "llm cache %s: %s", c->path,
                    e == LG_ELIMIT ? "larger than 256 MiB: not saved" : lg_strerror(e));
        goto done;
    }
    size_t n = strlen(c->path) + 16;
    if (!(tmp = malloc(n))) {
        e = lg_fail(err, LG_ENOMEM, "llm cache save: out of memory");
        goto fail;
    }
    snprintf(tmp, n, "%s.tmpXXXXXX", c->path);
    int fd = mkstemp(tmp);
    f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        e = lg_fail(err, LG_EIO, "llm cache %s: cannot write a temporary file", c->path);
        free(tmp);
        tmp = NULL;
        goto fail;
    }
    if (text.len && fwrite(text.data, 1, text.len, f) != text.len)
        e = lg_fail(err, LG_EIO, "llm cache %s: write failed", c->path);
    if (fclose(f) != 0 && !e) e = lg_fail(err, LG_EIO, "llm cache %s: write failed", c->path);
    if (!e && rename(tmp, c->path) != 0)
        e = lg_fail(err, LG_EIO, "llm cache %s: cannot replace the file", c->path);
    if (e) unlink(tmp);
fail:
    if (e) { /* what was not written is still to be saved */
        pthread_mutex_lock(&c->mu);
        c->dirty = 1;
        pthread_mutex_unlock(&c->mu);
    }
done:
    free(tmp);
    lg_buf_free(&text);
    pthread_mutex_unlock(&c->save_mu);
    return e;
}
