/* pipeline.c - resources, routes -> stage instances, batch execution. */
#include "logify/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Resources ----------------------------------------------------------- */

/* Set by embedded.S: rules/default.yaml as bytes, and their length. */
extern const char lg_embedded_rules[];
extern const uint64_t lg_embedded_rules_size;

const char *lg_default_rules_text(size_t *len) {
    *len = (size_t)lg_embedded_rules_size;
    return lg_embedded_rules;
}

/* A copy of dir (free() it); NULL with *no_memory set when out of memory. */
static char *copy_dir(const char *dir, int *no_memory) {
    char *p = lg_strdup(dir);
    *no_memory = !p;
    return p;
}

/* The default model bundle location: $LOGIFY_MODEL, else models/default
 * beside the binary's parent directory (build/../models/default), else the
 * installed share directory. Returns NULL if none exists, or with
 * *no_memory set when the copy could not be allocated. */
static char *default_model_dir(int *no_memory) {
    *no_memory = 0;
    const char *env = getenv("LOGIFY_MODEL");
    if (env && *env) return copy_dir(env, no_memory);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[4200];
            const char *rel[] = {"/../models/default", "/../share/logify/models/default"};
            for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
                snprintf(cand, sizeof cand, "%s%s/meta.json", exe, rel[i]);
                if (access(cand, R_OK) == 0) {
                    snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
                    return copy_dir(cand, no_memory);
                }
            }
        }
    }
    return NULL;
}

lg_err lg_resources_load(const lg_config *cfg, lg_resources *res, lg_errmsg *err) {
    memset(res, 0, sizeof *res);
    res->threshold = cfg->threshold;
    lg_err e;
    if (cfg->rules_path) {
        e = lg_rules_load(cfg->rules_path, NULL, &res->rules, err);
    } else {
        size_t len;
        const char *text = lg_default_rules_text(&len);
        e = lg_rules_parse(text, len, "built-in rules/default.yaml", NULL, &res->rules, err);
    }
    if (e) return e;

    lg_errmsg why;
    int no_memory;
    char *dir = cfg->model_dir ? copy_dir(cfg->model_dir, &no_memory) : default_model_dir(&no_memory);
    if (no_memory) {
        lg_resources_free(res);
        return lg_fail(err, LG_ENOMEM, "out of memory while loading the model");
    }
    if (dir) {
        e = lg_model_load(dir, &res->model, &why);
        if (e && (cfg->model_dir || e == LG_ENOMEM)) { /* asked for explicitly, or no memory: an error */
            free(dir);
            lg_resources_free(res);
            return lg_fail(err, e, "%.255s", why.msg);
        }
        if (e) snprintf(res->model_missing, sizeof res->model_missing, "%.255s", why.msg);
        if (e) free(dir);
        else res->model_dir = dir; /* which bundle it was (live reload reports it) */
    } else {
        snprintf(res->model_missing, sizeof res->model_missing, "stage model not available");
    }

    /* not configured (LG_ENOTFOUND): the stage is off; a bad setting is an
     * error, so that a typo does not silently switch the stage off */
    e = lg_llm_new(cfg, &res->llm, &why);
    if (e && e != LG_ENOTFOUND && e != LG_EUNSUPPORTED) {
        lg_resources_free(res);
        return lg_fail(err, e, "%s", why.msg);
    }
    if (e) snprintf(res->llm_missing, sizeof res->llm_missing, "%.255s", why.msg);
    return LG_OK;
}

void lg_resources_free(lg_resources *res) {
    if (!res) return;
    lg_rules_free(res->rules);
    lg_model_free(res->model);
    lg_llm_free(res->llm);
    free(res->model_dir);
    res->model_dir = NULL;
    res->rules = NULL;
    res->model = NULL;
    res->llm = NULL;
}

/* ---- Pipeline ----------------------------------------------------------- */

typedef struct {
    char *source; /* "*" or exact */
    lg_stage stages[LG_ROUTE_MAX_STAGES];
    size_t n_stages;
} route_inst;

struct lg_pipeline {
    route_inst *routes;
    size_t n;
    size_t star;  /* index of the "*" route, or n */
};

struct lg_worker {
    const lg_pipeline *p;
    void **scratch;      /* (n routes * LG_ROUTE_MAX_STAGES) */
    lg_record **gather;  /* records of one route */
    size_t *route_idx;   /* route of each record of the batch */
    size_t cap;
    lg_worker_stats stats;
};

void lg_pipeline_free(lg_pipeline *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->routes[i].n_stages; j++) lg_stage_free(&p->routes[i].stages[j]);
        free(p->routes[i].source);
    }
    free(p->routes);
    free(p);
}

static lg_err make_stage(const lg_stage_spec *spec, const lg_resources *res, lg_stage *out,
                         lg_errmsg *err) {
    switch (spec->kind) {
    case LG_STAGE_RULES:
        if (res->rules) return lg_rules_stage_new(res->rules, spec, out, err);
        return lg_stage_unavailable_new(spec->kind, res->rules_missing[0] ? res->rules_missing
                                                                          : "stage rules not available",
                                        out, err);
    case LG_STAGE_MODEL:
        if (res->model) return lg_model_stage_new(res->model, spec, res->threshold, out, err);
        return lg_stage_unavailable_new(spec->kind, res->model_missing[0] ? res->model_missing
                                                                          : "stage model not available",
                                        out, err);
    case LG_STAGE_LLM:
        if (res->llm) return lg_llm_stage_new(res->llm, spec, out, err);
        return lg_stage_unavailable_new(spec->kind, res->llm_missing[0] ? res->llm_missing
                                                                        : "stage llm not available",
                                        out, err);
    default:
        return lg_fail(err, LG_EINVAL, "unknown stage kind %d", (int)spec->kind);
    }
}

lg_err lg_pipeline_new(const lg_route_table *routes, const lg_resources *res, lg_pipeline **out,
                       lg_errmsg *err) {
    *out = NULL;
    lg_pipeline *p = calloc(1, sizeof *p);
    if (!p) return lg_fail(err, LG_ENOMEM, "pipeline: out of memory");
    p->routes = calloc(routes->n ? routes->n : 1, sizeof *p->routes);
    if (!p->routes) {
        free(p);
        return lg_fail(err, LG_ENOMEM, "pipeline routes: out of memory");
    }
    p->star = routes->n;
    lg_err e = LG_OK;
    for (size_t i = 0; i < routes->n && !e; i++) {
        const lg_route *r = &routes->routes[i];
        route_inst *ri = &p->routes[p->n++];
        if (!(ri->source = lg_strdup(r->source))) {
            e = lg_fail(err, LG_ENOMEM, "pipeline routes: out of memory");
            break;
        }
        if (!strcmp(r->source, "*") && p->star == routes->n) p->star = i;
        for (size_t j = 0; j < r->n_stages && !e; j++) {
            e = make_stage(&r->stages[j], res, &ri->stages[j], err);
            if (!e) ri->n_stages++;
            lg_stage_kind k = r->stages[j].kind;
            const char *why = k == LG_STAGE_MODEL ? res->model_missing
                              : k == LG_STAGE_LLM ? res->llm_missing
                                                  : res->rules_missing;
            if (!e && why[0]) { /* said when rows get there (stage.c), not now */
                int llm = k == LG_STAGE_LLM;
                char warning[768];
                snprintf(warning, sizeof warning,
                         "route '%.100s' uses the %s stage: %.255s; its rows stay Unclassified%s%s%s",
                         r->source, lg_stage_kind_name(k), why, llm ? " (" : "",
                         llm ? LG_LLM_CONFIG_HINT : "", llm ? ")" : "");
                lg_stage_unavailable_warn(&ri->stages[j], warning);
            }
        }
    }
    if (e) {
        lg_pipeline_free(p);
        return e;
    }
    *out = p;
    return LG_OK;
}

lg_err lg_worker_new(const lg_pipeline *p, lg_worker **out, lg_errmsg *err) {
    *out = NULL;
    lg_worker *w = calloc(1, sizeof *w);
    if (!w) return lg_fail(err, LG_ENOMEM, "pipeline worker: out of memory");
    w->p = p;
    w->scratch = calloc(p->n * LG_ROUTE_MAX_STAGES + 1, sizeof *w->scratch);
    if (!w->scratch) {
        free(w);
        return lg_fail(err, LG_ENOMEM, "pipeline worker scratch: out of memory");
    }
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->routes[i].n_stages; j++) {
            const lg_stage *s = &p->routes[i].stages[j];
            if (!s->ops->scratch_new) continue;
            lg_err e = s->ops->scratch_new(s->ctx, &w->scratch[i * LG_ROUTE_MAX_STAGES + j], err);
            if (e) {
                lg_worker_free(w);
                return e;
            }
        }
    }
    *out = w;
    return LG_OK;
}

void lg_worker_free(lg_worker *w) {
    if (!w) return;
    const lg_pipeline *p = w->p;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->routes[i].n_stages; j++) {
            const lg_stage *s = &p->routes[i].stages[j];
            void *sc = w->scratch[i * LG_ROUTE_MAX_STAGES + j];
            if (sc && s->ops->scratch_free) s->ops->scratch_free(sc);
        }
    }
    free(w->scratch);
    free(w->gather);
    free(w->route_idx);
    free(w);
}

const lg_worker_stats *lg_worker_get_stats(const lg_worker *w) { return &w->stats; }

void lg_worker_begin_run(lg_worker *w) {
    const lg_pipeline *p = w->p;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->routes[i].n_stages; j++) {
            const lg_stage *s = &p->routes[i].stages[j];
            void *sc = w->scratch[i * LG_ROUTE_MAX_STAGES + j];
            if (sc && s->ops->scratch_begin_run) s->ops->scratch_begin_run(sc);
        }
    }
}

void lg_record_reset(lg_record *rec) {
    rec->label = NULL;
    rec->stage = LG_STAGE_NONE;
    rec->confidence = -1;
    rec->detail[0] = '\0';
}

/* Route index for a source: exact match first, then "*", else p->n. */
static size_t route_of(const lg_pipeline *p, const char *source) {
    for (size_t i = 0; i < p->n; i++)
        if (i != p->star && !strcmp(p->routes[i].source, source)) return i;
    return p->star;
}

lg_err lg_pipeline_run(const lg_pipeline *p, lg_worker *w, lg_record *recs, size_t n,
                       lg_errmsg *err) {
    if (n > w->cap) {
        lg_record **g = realloc(w->gather, n * sizeof *g);
        if (g) w->gather = g;
        size_t *ri = g ? realloc(w->route_idx, n * sizeof *ri) : NULL;
        if (ri) w->route_idx = ri;
        if (!g || !ri) return lg_fail(err, LG_ENOMEM, "pipeline batch: out of memory");
        w->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        size_t r = route_of(p, recs[i].source);
        w->route_idx[i] = r;
        if (r == p->n) lg_record_detail(&recs[i], "no route for source '%s'", recs[i].source);
    }
    /* each route's records, gathered in input order, go through its stages */
    for (size_t ri = 0; ri < p->n; ri++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (w->route_idx[i] == ri) w->gather[m++] = &recs[i];
        const route_inst *route = &p->routes[ri];
        for (size_t j = 0; j < route->n_stages && m; j++) {
            const lg_stage *s = &route->stages[j];
            double t0 = lg_now();
            lg_err e = s->ops->process(s->ctx, w->scratch[ri * LG_ROUTE_MAX_STAGES + j], w->gather,
                                       m, err);
            w->stats.seconds[s->ops->kind] += lg_now() - t0;
            if (e) return e;
            size_t k = 0;
            for (size_t i = 0; i < m; i++) {
                if (w->gather[i]->label) w->stats.decided[w->gather[i]->stage]++;
                else w->gather[k++] = w->gather[i];
            }
            m = k;
        }
    }
    for (size_t i = 0; i < n; i++) {
        lg_record *rec = &recs[i];
        if (!rec->label) {
            rec->label = LG_UNCLASSIFIED;
            rec->stage = LG_STAGE_NONE;
            rec->confidence = -1;
            w->stats.decided[LG_STAGE_NONE]++;
        }
    }
    w->stats.rows += n;
    return LG_OK;
}
