/* llm_cache.c - the LLM stage's template cache: (model, label set, masked
 * message template) -> label, so that a thousand lines of one pattern cost
 * one call. A chained hash table behind one mutex (lookups are rare next to
 * the network round trips they save), optionally persisted as JSON lines:
 *
 *   {"model": "...", "labelset": "9f0c...", "template": "...", "label": "..."}
 *
 * The file is read when the client is created and rewritten (temporary
 * file + rename) when it is freed, if anything changed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "llm_int.h"

#define CACHE_MAX_FILE (256u << 20)
#define CACHE_MAX_FIELD 8192 /* bytes of one template read from the file */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    char *model, *labelset, *tmpl, *label;
} entry;

struct llm_cache {
    pthread_mutex_t mu;
    entry **buckets;  /* (n_buckets) */
    size_t n_buckets; /* power of two */
    size_t count, max;
    char *path; /* NULL: memory only */
    int dirty;
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
    for (size_t i = 0; i < c->n_buckets; i++) {
        entry *e = c->buckets[i];
        while (e) {
            entry *next = e->next;
            entry_free(e);
            e = next;
        }
    }
    free(c->buckets);
    free(c->path);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static entry *find(llm_cache *c, uint64_t h, const char *model, const char *labelset,
                   const char *tmpl) {
    for (entry *e = c->buckets[h & (c->n_buckets - 1)]; e; e = e->next)
        if (e->hash == h && !strcmp(e->tmpl, tmpl) && !strcmp(e->labelset, labelset) &&
            !strcmp(e->model, model))
            return e;
    return NULL;
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

/* Inserts or replaces; the caller holds the lock. Returns 1 if changed. */
static int put_locked(llm_cache *c, const char *model, const char *labelset, const char *tmpl,
                      const char *label) {
    uint64_t h = key_hash(model, labelset, tmpl);
    entry *e = find(c, h, model, labelset, tmpl);
    if (e) {
        if (!strcmp(e->label, label)) return 0;
        char *l = lg_strdup(label);
        if (!l) return 0;
        free(e->label);
        e->label = l;
        return 1;
    }
    if (c->count >= c->max) return 0;
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
    maybe_grow(c);
    entry **slot = &c->buckets[h & (c->n_buckets - 1)];
    e->next = *slot;
    *slot = e;
    c->count++;
    return 1;
}

/* ---- File ------------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && json_string_length(v) < CACHE_MAX_FIELD ? json_string_value(v)
                                                                        : NULL;
}

static lg_err load(llm_cache *c, lg_errmsg *err) {
    char *text = NULL;
    size_t len = 0;
    if (access(c->path, F_OK) != 0) return LG_OK; /* first run */
    lg_err e = lg_read_file(c->path, CACHE_MAX_FILE, &text, &len, err);
    if (e) return e;
    size_t bad = 0;
    char *line = text;
    while (line < text + len) {
        char *nl = memchr(line, '\n', (size_t)(text + len - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(text + len - line);
        if (n) {
            json_t *o = json_loadb(line, n, 0, NULL);
            const char *m = jstr(o, "model"), *ls = jstr(o, "labelset"), *t = jstr(o, "template"),
                       *l = jstr(o, "label");
            if (m && ls && t && l && *l)
                put_locked(c, m, ls, t, l);
            else
                bad++;
            json_decref(o);
        }
        line += n + 1;
    }
    free(text);
    if (bad) lg_log(LG_LOG_WARN, "llm cache %s: %zu malformed lines ignored", c->path, bad);
    return LG_OK;
}

lg_err llm_cache_new(const char *path, size_t max_entries, llm_cache **out, lg_errmsg *err) {
    *out = NULL;
    llm_cache *c = calloc(1, sizeof *c);
    if (!c) return lg_fail(err, LG_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    c->n_buckets = 1024;
    c->max = max_entries;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets || (path && !(c->path = lg_strdup(path)))) {
        llm_cache_free(c);
        return lg_fail(err, LG_ENOMEM, "out of memory");
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
    if (e) snprintf(label, cap, "%s", e->label);
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

lg_err llm_cache_save(llm_cache *c, lg_errmsg *err) {
    if (!c || !c->path) return LG_OK;
    pthread_mutex_lock(&c->mu);
    lg_err e = LG_OK;
    if (!c->dirty) goto done;
    size_t n = strlen(c->path) + 16;
    char *tmp = malloc(n);
    if (!tmp) {
        e = lg_fail(err, LG_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(tmp, n, "%s.tmpXXXXXX", c->path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0) close(fd);
        e = lg_fail(err, LG_EIO, "llm cache %s: cannot write a temporary file", c->path);
        free(tmp);
        goto done;
    }
    for (size_t i = 0; i < c->n_buckets && !e; i++) {
        for (entry *en = c->buckets[i]; en && !e; en = en->next) {
            json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "model", en->model, "labelset",
                                  en->labelset, "template", en->tmpl, "label", en->label);
            char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
            if (!s || fprintf(f, "%s\n", s) < 0)
                e = lg_fail(err, LG_EIO, "llm cache %s: write failed", c->path);
            free(s);
            json_decref(o);
        }
    }
    if (fclose(f) != 0 && !e) e = lg_fail(err, LG_EIO, "llm cache %s: write failed", c->path);
    if (!e && rename(tmp, c->path) != 0)
        e = lg_fail(err, LG_EIO, "llm cache %s: cannot replace the file", c->path);
    if (e)
        unlink(tmp);
    else
        c->dirty = 0;
    free(tmp);
done:
    pthread_mutex_unlock(&c->mu);
    return e;
}
