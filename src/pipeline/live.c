/* live.c - live reload: the reference-counted pipeline set (lg_pset) and
 * the slot that swaps it (lg_live). See live.h for the contract and
 * docs/reload.md for the design.
 *
 * Sharing: a set is immutable after lg_pset_load but for its worker pool
 * (pool_mu) and its reference count (atomic). The live's current pointer
 * is read and retained under mu, so a set cannot be freed between reading
 * the pointer and counting the reference; swapping is the same lock; the
 * old set's reference is dropped after the lock. Loading runs under
 * reload_mu only, so users never wait for a load; current is written only
 * under both locks, so a reload may read it under reload_mu alone. */
#include "logify/live.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "logify/csv.h"
#include "logify/llm.h"
#include "logify/model.h"
#include "logify/rules.h"

#define META_MAX (16u << 20) /* meta.json read for the checksum */

/* ---- The recipe -------------------------------------------------------------- */

lg_err lg_pset_source_config(const lg_pset_source *src, lg_config *cfg, lg_errmsg *err) {
    lg_err e = lg_config_init(cfg, err);
    if (e) return e;
    if (src->config_path && (e = lg_config_load(src->config_path, cfg, err))) goto fail;
    if (src->rules_path) {
        free(cfg->rules_path);
        if (!(cfg->rules_path = lg_strdup(src->rules_path))) goto oom;
    }
    if (src->model_dir) {
        free(cfg->model_dir);
        if (!(cfg->model_dir = lg_strdup(src->model_dir))) goto oom;
    }
    if (src->threshold >= 0) cfg->threshold = src->threshold;
    for (size_t i = 0; i < src->n_routes; i++)
        if ((e = lg_routes_apply_flag(&cfg->routes, src->routes[i], err))) goto fail;
    return LG_OK;
oom:
    e = lg_fail(err, LG_ENOMEM, "pipeline sources: out of memory");
fail:
    lg_config_free(cfg);
    return e;
}

/* ---- A set ------------------------------------------------------------------- */

struct lg_pset {
    unsigned refs;            /* atomic */
    lg_config cfg;
    lg_resources res;
    lg_pipeline *pl;
    pthread_mutex_t pool_mu;
    lg_worker **pool;         /* (pool_cap) idle workers of pl */
    size_t pool_n, pool_cap;
    lg_pset_info info;
    const char **labels;      /* (info.n_labels) borrowed from rules, model, cfg */
};

static double wall_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pset_free(lg_pset *s) {
    for (size_t i = 0; i < s->pool_n; i++) lg_worker_free(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->pool_mu);
    lg_pipeline_free(s->pl);
    lg_resources_free(&s->res);
    lg_config_free(&s->cfg);
    free(s->labels);
    free(s);
}

void lg_pset_retain(lg_pset *s) { __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); }

void lg_pset_release(lg_pset *s) {
    if (!s) return;
    if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) pset_free(s);
}

unsigned lg_pset_refs(const lg_pset *s) { return __atomic_load_n(&s->refs, __ATOMIC_ACQUIRE); }

const lg_pipeline *lg_pset_pipeline(const lg_pset *s) { return s->pl; }
const lg_resources *lg_pset_resources(const lg_pset *s) { return &s->res; }
const lg_config *lg_pset_config(const lg_pset *s) { return &s->cfg; }
const lg_pset_info *lg_pset_get_info(const lg_pset *s) { return &s->info; }

static lg_err worker_get(lg_pset *s, lg_worker **out, lg_errmsg *err) {
    lg_worker *w = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n) w = s->pool[--s->pool_n];
    pthread_mutex_unlock(&s->pool_mu);
    *out = NULL;
    if (!w) {
        lg_err e = lg_worker_new(s->pl, &w, err);
        if (e) return e;
    }
    lg_worker_begin_run(w); /* one request / batch, one run */
    *out = w;
    return LG_OK;
}

lg_worker *lg_pset_worker_get(lg_pset *s, lg_errmsg *err) {
    lg_worker *w;
    return worker_get(s, &w, err) ? NULL : w;
}

void lg_pset_worker_put(lg_pset *s, lg_worker *w) {
    if (!w) return;
    pthread_mutex_lock(&s->pool_mu);
    if (s->pool_n == s->pool_cap) {
        size_t cap = s->pool_cap ? s->pool_cap * 2 : 8;
        lg_worker **p = realloc(s->pool, cap * sizeof *p);
        if (p) {
            s->pool = p;
            s->pool_cap = cap;
        }
    }
    if (s->pool_n < s->pool_cap) {
        s->pool[s->pool_n++] = w;
        w = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    lg_worker_free(w); /* only when the pool could not grow */
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every label the set can answer: rule labels, model labels, the routes'
 * explicit LLM labels, Unclassified; sorted, unique. */
static lg_err gather_labels(lg_pset *s, lg_errmsg *err) {
    size_t n_rules = s->res.rules ? lg_rules_count(s->res.rules) : 0;
    size_t n_model = s->res.model ? lg_model_n_labels(s->res.model) : 0;
    size_t cap = n_rules + n_model + 1;
    for (size_t i = 0; i < s->cfg.routes.n; i++)
        for (size_t j = 0; j < s->cfg.routes.routes[i].n_stages; j++)
            cap += s->cfg.routes.routes[i].stages[j].n_labels;
    const char **l = malloc(cap * sizeof *l);
    if (!l) return lg_fail(err, LG_ENOMEM, "pipeline labels: out of memory");
    size_t n = 0;
    l[n++] = LG_UNCLASSIFIED;
    for (size_t i = 0; i < n_rules; i++) l[n++] = lg_rules_get(s->res.rules, i)->label;
    for (size_t i = 0; i < n_model; i++) l[n++] = lg_model_label(s->res.model, i);
    for (size_t i = 0; i < s->cfg.routes.n; i++) {
        const lg_route *r = &s->cfg.routes.routes[i];
        for (size_t j = 0; j < r->n_stages; j++)
            if (r->stages[j].kind == LG_STAGE_LLM)
                for (size_t k = 0; k < r->stages[j].n_labels; k++) l[n++] = r->stages[j].labels[k];
    }
    qsort(l, n, sizeof *l, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (!u || strcmp(l[u - 1], l[i])) l[u++] = l[i];
    s->labels = l;
    s->info.labels = l;
    s->info.n_labels = u;
    return LG_OK;
}

/* FNV-1a 64 of the bundle's meta.json (it holds the encoder's config hash
 * and the checksums of the weights), as hex. */
static lg_err model_checksum(const char *dir, char out[17], lg_errmsg *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *text = NULL;
    size_t len = 0;
    lg_err e = lg_read_file(path, META_MAX, &text, &len, err);
    if (e) return e;
    snprintf(out, 17, "%016llx", (unsigned long long)lg_fnv1a64(text, len, 0));
    free(text);
    return LG_OK;
}

lg_err lg_pset_load(const lg_pset_source *src, lg_pset **out, lg_errmsg *err) {
    *out = NULL;
    lg_pset *s = calloc(1, sizeof *s);
    if (!s) return lg_fail(err, LG_ENOMEM, "pipeline set: out of memory");
    s->refs = 1;
    pthread_mutex_init(&s->pool_mu, NULL);
    lg_err e = lg_pset_source_config(src, &s->cfg, err); /* on failure: nothing to free */
    if (e) goto fail;
    if ((e = lg_resources_load(&s->cfg, &s->res, err))) goto fail;
    if ((e = lg_pipeline_new(&s->cfg.routes, &s->res, &s->pl, err))) goto fail;
    /* the check: a worker can be made (every stage's scratch); it stays in
     * the pool for the first user */
    lg_worker *w;
    if ((e = worker_get(s, &w, err))) goto fail;
    lg_pset_worker_put(s, w);
    if ((e = gather_labels(s, err))) goto fail;
    lg_pset_info *in = &s->info;
    in->config_path = s->cfg.path;
    in->rules_name = s->cfg.rules_path ? s->cfg.rules_path : "built-in";
    in->n_rules = s->res.rules ? lg_rules_count(s->res.rules) : 0;
    in->model_dir = s->res.model ? s->res.model_dir : NULL;
    if (in->model_dir && (e = model_checksum(in->model_dir, in->model_checksum, err))) goto fail;
    in->llm_model = s->res.llm ? lg_llm_model(s->res.llm) : NULL;
    in->loaded_at = wall_clock();
    *out = s;
    return LG_OK;
fail:
    pset_free(s);
    return e;
}

lg_err lg_pset_describe_json(const lg_pset *s, lg_buf *out) {
    const lg_pset_info *in = &s->info;
    lg_err e = lg_buf_printf(out, "{\"generation\":%llu,\"loaded_at\":%.3f,\"config\":",
                             (unsigned long long)in->generation, in->loaded_at);
    if (!e) e = in->config_path ? lg_json_put_string(out, in->config_path, strlen(in->config_path))
                                : lg_buf_append(out, "null", 4);
    if (!e) e = lg_buf_append(out, ",\"rules\":{\"file\":", 17);
    if (!e) e = lg_json_put_string(out, in->rules_name, strlen(in->rules_name));
    if (!e) e = lg_buf_printf(out, ",\"count\":%zu},\"model\":", in->n_rules);
    if (!e && in->model_dir) {
        e = lg_buf_append(out, "{\"dir\":", 7);
        if (!e) e = lg_json_put_string(out, in->model_dir, strlen(in->model_dir));
        if (!e) e = lg_buf_printf(out, ",\"checksum\":\"%s\"}", in->model_checksum);
    } else if (!e) {
        e = lg_buf_append(out, "null", 4);
    }
    if (!e) e = lg_buf_append(out, ",\"llm\":", 7);
    if (!e && in->llm_model) {
        e = lg_buf_append(out, "{\"model\":", 9);
        if (!e) e = lg_json_put_string(out, in->llm_model, strlen(in->llm_model));
        if (!e) e = lg_buf_putc(out, '}');
    } else if (!e) {
        e = lg_buf_append(out, "null", 4);
    }
    if (!e) e = lg_buf_append(out, ",\"labels\":[", 11);
    for (size_t i = 0; i < in->n_labels && !e; i++) {
        if (i) e = lg_buf_putc(out, ',');
        if (!e) e = lg_json_put_string(out, in->labels[i], strlen(in->labels[i]));
    }
    if (!e) e = lg_buf_append(out, "]}", 2);
    return e;
}

/* ---- The live slot ----------------------------------------------------------- */

struct lg_live {
    pthread_mutex_t mu;        /* current, and taking a reference to it */
    pthread_mutex_t reload_mu; /* one reload at a time */
    lg_pset *current;
    uint64_t generation;       /* atomic: current->info.generation */
    uint64_t reloads, failed;  /* atomics */
    double last_failure_at;    /* under mu */
    lg_pset_source src;        /* points into the copies below */
    char *config_path, *rules_path, *model_dir;
    char **routes;             /* (src.n_routes) */
};

static void live_free_source(lg_live *l) {
    free(l->config_path);
    free(l->rules_path);
    free(l->model_dir);
    for (size_t i = 0; l->routes && i < l->src.n_routes; i++) free(l->routes[i]);
    free(l->routes);
}

static int copy_str(const char *in, char **out) {
    *out = NULL;
    return in && !(*out = lg_strdup(in));
}

lg_err lg_live_new(const lg_pset_source *src, lg_live **out, lg_errmsg *err) {
    *out = NULL;
    lg_live *l = calloc(1, sizeof *l);
    if (!l) return lg_fail(err, LG_ENOMEM, "live pipeline: out of memory");
    int oom = copy_str(src->config_path, &l->config_path) | copy_str(src->rules_path, &l->rules_path) |
              copy_str(src->model_dir, &l->model_dir);
    l->routes = calloc(src->n_routes + 1, sizeof *l->routes);
    l->src.n_routes = src->n_routes;
    oom |= !l->routes;
    for (size_t i = 0; !oom && i < src->n_routes; i++) oom |= copy_str(src->routes[i], &l->routes[i]);
    if (oom) {
        live_free_source(l);
        free(l);
        return lg_fail(err, LG_ENOMEM, "live pipeline: out of memory");
    }
    l->src.config_path = l->config_path;
    l->src.rules_path = l->rules_path;
    l->src.model_dir = l->model_dir;
    l->src.routes = (const char *const *)l->routes;
    l->src.threshold = src->threshold;
    lg_err e = lg_pset_load(&l->src, &l->current, err);
    if (e) {
        live_free_source(l);
        free(l);
        return e;
    }
    l->current->info.generation = l->generation = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->reload_mu, NULL);
    *out = l;
    return LG_OK;
}

void lg_live_free(lg_live *l) {
    if (!l) return;
    lg_pset_release(l->current);
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->reload_mu);
    live_free_source(l);
    free(l);
}

lg_pset *lg_live_acquire(lg_live *l) {
    pthread_mutex_lock(&l->mu);
    lg_pset *s = l->current;
    lg_pset_retain(s);
    pthread_mutex_unlock(&l->mu);
    return s;
}

uint64_t lg_live_generation(const lg_live *l) {
    return __atomic_load_n(&l->generation, __ATOMIC_ACQUIRE);
}

lg_err lg_live_reload(lg_live *l, lg_pset **loaded, lg_errmsg *err) {
    if (loaded) *loaded = NULL;
    lg_errmsg why = {0};
    pthread_mutex_lock(&l->reload_mu);
    uint64_t gen = lg_live_generation(l); /* only reloads change it, and we hold reload_mu */
    /* a persisted LLM cache (llm.cache: FILE) is read by the new client:
     * write out what the current one learned first (when anything changed) */
    if (lg_llm_cache_save(l->current->res.llm, &why))
        lg_log(LG_LOG_WARN, "reload: %s", why.msg);
    lg_pset *next = NULL;
    lg_err e = lg_pset_load(&l->src, &next, &why);
    /* the default bundle (no --model) is optional at start, but a reload
     * must not drop a model in use because its files are broken or half
     * copied: the current set's reads the same directory */
    if (!e && l->current->res.model && !next->res.model) {
        snprintf(why.msg, sizeof why.msg, "%.400s (the set in use has a model from %.200s)",
                 next->res.model_missing, l->current->res.model_dir);
        e = LG_EMODEL;
        lg_pset_release(next);
        next = NULL;
    }
    if (e) {
        pthread_mutex_lock(&l->mu);
        l->last_failure_at = wall_clock();
        pthread_mutex_unlock(&l->mu);
        __atomic_add_fetch(&l->failed, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&l->reload_mu);
        lg_log(LG_LOG_ERROR, "reload refused: %s; keeping generation %llu", why.msg,
               (unsigned long long)gen);
        return lg_fail(err, e, "%s", why.msg);
    }
    next->info.generation = gen + 1;
    if (loaded) {
        lg_pset_retain(next);
        *loaded = next;
    }
    pthread_mutex_lock(&l->mu);
    lg_pset *old = l->current;
    l->current = next;
    __atomic_store_n(&l->generation, gen + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&l->mu);
    __atomic_add_fetch(&l->reloads, 1, __ATOMIC_RELAXED);
    const lg_pset_info *in = &next->info;
    lg_log(LG_LOG_INFO, "reload: generation %llu: %zu rules (%s), model %s%s%s%s, %zu labels",
           (unsigned long long)in->generation, in->n_rules, in->rules_name,
           in->model_dir ? in->model_dir : "none", in->model_dir ? " (" : "",
           in->model_dir ? in->model_checksum : "", in->model_dir ? ")" : "", in->n_labels);
    pthread_mutex_unlock(&l->reload_mu);
    lg_pset_release(old); /* freed here unless requests in flight still hold it */
    return LG_OK;
}

void lg_live_get_stats(const lg_live *l, lg_live_stats *out) {
    lg_live *m = (lg_live *)l; /* the lock only; nothing is changed */
    pthread_mutex_lock(&m->mu);
    out->generation = l->current->info.generation;
    out->loaded_at = l->current->info.loaded_at;
    out->last_failure_at = l->last_failure_at;
    pthread_mutex_unlock(&m->mu);
    out->reloads = __atomic_load_n(&l->reloads, __ATOMIC_RELAXED);
    out->failed = __atomic_load_n(&l->failed, __ATOMIC_RELAXED);
}

/* ---- A thread that keeps its worker across batches ------------------------------- */

lg_err lg_live_handle_refresh(lg_live *l, lg_live_handle *h, lg_errmsg *err) {
    if (h->set && h->set->info.generation == lg_live_generation(l)) return LG_OK;
    lg_pset *cur = lg_live_acquire(l);
    if (cur == h->set) { /* a reload finished between the two reads */
        lg_pset_release(cur);
        return LG_OK;
    }
    lg_worker *w;
    lg_err e = worker_get(cur, &w, err);
    if (e) {
        lg_pset_release(cur);
        return e;
    }
    lg_live_handle_release(h);
    h->set = cur;
    h->worker = w;
    return LG_OK;
}

void lg_live_handle_release(lg_live_handle *h) {
    if (h->set) {
        lg_pset_worker_put(h->set, h->worker);
        lg_pset_release(h->set);
    }
    h->set = NULL;
    h->worker = NULL;
}
