/* config.c - route table and configuration file. */
#include "logify/config.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_FILE (4u << 20)

static void spec_clear(lg_stage_spec *s) {
    for (size_t i = 0; i < s->n_labels; i++) free(s->labels[i]);
    free(s->labels);
    s->labels = NULL;
    s->n_labels = 0;
}

void lg_routes_free(lg_route_table *t) {
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        free(t->routes[i].source);
        for (size_t j = 0; j < t->routes[i].n_stages; j++) spec_clear(&t->routes[i].stages[j]);
    }
    free(t->routes);
    t->routes = NULL;
    t->n = 0;
}

/* Appends an empty route for source; returns it or NULL. */
static lg_route *route_add(lg_route_table *t, const char *source) {
    lg_route *r = realloc(t->routes, (t->n + 1) * sizeof *r);
    if (!r) return NULL;
    t->routes = r;
    lg_route *nr = &t->routes[t->n];
    memset(nr, 0, sizeof *nr);
    if (!(nr->source = lg_strdup(source))) return NULL;
    t->n++;
    return nr;
}

static void spec_init(lg_stage_spec *s, lg_stage_kind k) {
    memset(s, 0, sizeof *s);
    s->kind = k;
    s->threshold = -1;
}

lg_err lg_routes_default(lg_route_table *out, lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    lg_route *r = route_add(out, "LegacyCRM");
    if (!r) goto oom;
    spec_init(&r->stages[r->n_stages++], LG_STAGE_LLM);
    if (!(r = route_add(out, "*"))) goto oom;
    spec_init(&r->stages[r->n_stages++], LG_STAGE_RULES);
    spec_init(&r->stages[r->n_stages++], LG_STAGE_MODEL);
    return LG_OK;
oom:
    lg_routes_free(out);
    return lg_fail(err, LG_ENOMEM, "the default routes: out of memory");
}

const lg_route *lg_routes_find(const lg_route_table *t, const char *source) {
    const lg_route *star = NULL;
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->routes[i].source, "*")) {
            if (!star) star = &t->routes[i];
        } else if (source && !strcmp(t->routes[i].source, source)) {
            return &t->routes[i];
        }
    }
    return star;
}

static lg_err check_kind_once(const lg_route *r, lg_stage_kind k, const char *name, unsigned line,
                              lg_errmsg *err) {
    char where[160]; /* "file:line" of a config file, or the flag itself (line 0) */
    if (line) snprintf(where, sizeof where, "%s:%u", name, line);
    else snprintf(where, sizeof where, "%s", name);
    for (size_t i = 0; i < r->n_stages; i++)
        if (r->stages[i].kind == k)
            return lg_fail(err, LG_EINVAL, "%s: route '%s' lists stage %s twice", where, r->source,
                           lg_stage_kind_name(k));
    if (r->n_stages >= LG_ROUTE_MAX_STAGES)
        return lg_fail(err, LG_EINVAL, "%s: too many stages", where);
    return LG_OK;
}

static lg_err parse_stage(const lg_ynode *n, const char *name, lg_route *r, lg_errmsg *err) {
    const lg_ynode *kind_node = n->kind == LG_Y_MAP ? lg_ymap_get(n, "stage") : n;
    const char *kname = lg_yscalar(kind_node);
    lg_stage_kind k;
    if (!kname || lg_stage_kind_parse(kname, &k) != LG_OK)
        return lg_fail(err, LG_EINVAL, "%s:%u: unknown stage '%s' (known: rules, model, llm)", name,
                       n->line, kname ? kname : "?");
    lg_err e = check_kind_once(r, k, name, n->line, err);
    if (e) return e;
    lg_stage_spec *s = &r->stages[r->n_stages];
    spec_init(s, k);
    if (n->kind == LG_Y_MAP) {
        for (size_t i = 0; i < n->n; i += 2) {
            const char *key = n->items[i]->str;
            const lg_ynode *v = n->items[i + 1];
            if (!strcmp(key, "stage")) continue;
            if (!strcmp(key, "threshold") && k == LG_STAGE_MODEL) {
                if ((e = lg_ynumber(v, "threshold", &s->threshold, err))) return e;
                if (s->threshold < 0 || s->threshold > 1)
                    return lg_fail(err, LG_EINVAL, "%s:%u: threshold must be between 0 and 1",
                                   name, v->line);
            } else if (!strcmp(key, "labels") && k == LG_STAGE_LLM) {
                if (v->kind != LG_Y_SEQ || v->n == 0)
                    return lg_fail(err, LG_EINVAL, "%s:%u: labels must be a non-empty list", name,
                                   v->line);
                s->labels = calloc(v->n, sizeof *s->labels);
                if (!s->labels) return lg_fail(err, LG_ENOMEM, "a route's labels: out of memory");
                for (size_t j = 0; j < v->n; j++) {
                    const char *l = lg_yscalar(v->items[j]);
                    if (!l || !*l) {
                        spec_clear(s);
                        return lg_fail(err, LG_EINVAL, "%s:%u: each label must be a string", name,
                                       v->items[j]->line);
                    }
                    s->labels[s->n_labels++] = lg_strdup(l);
                }
            } else {
                return lg_fail(err, LG_EINVAL, "%s:%u: stage %s has no setting '%s'", name,
                               n->items[i]->line, kname, key);
            }
        }
    }
    r->n_stages++;
    return LG_OK;
}

lg_err lg_routes_from_yaml(const lg_ynode *list, const char *name, lg_route_table *out,
                           lg_errmsg *err) {
    memset(out, 0, sizeof *out);
    lg_err e = LG_OK;
    if (list->kind != LG_Y_SEQ)
        return lg_fail(err, LG_EINVAL, "%s:%u: routes must be a list", name, list->line);
    for (size_t i = 0; i < list->n && !e; i++) {
        const lg_ynode *rn = list->items[i];
        const char *src = lg_yscalar(lg_ymap_get(rn, "source"));
        const lg_ynode *stages = lg_ymap_get(rn, "stages");
        if (!src) {
            e = lg_fail(err, LG_EINVAL, "%s:%u: route needs a source (a name or \"*\")", name,
                        rn->line);
            break;
        }
        if (!stages || stages->kind != LG_Y_SEQ || stages->n == 0) {
            e = lg_fail(err, LG_EINVAL, "%s:%u: route '%s' needs a stages list (one or more of rules, model, llm)", name, rn->line,
                        src);
            break;
        }
        for (size_t j = 0; j < rn->n; j += 2)
            if (strcmp(rn->items[j]->str, "source") && strcmp(rn->items[j]->str, "stages"))
                e = lg_fail(err, LG_EINVAL, "%s:%u: route has no setting '%s'", name,
                            rn->items[j]->line, rn->items[j]->str);
        lg_route *r = e ? NULL : route_add(out, src);
        if (!e && !r) e = lg_fail(err, LG_ENOMEM, "a route: out of memory");
        for (size_t j = 0; !e && j < stages->n; j++) e = parse_stage(stages->items[j], name, r, err);
    }
    if (e) lg_routes_free(out);
    return e;
}

lg_err lg_routes_apply_flag(lg_route_table *t, const char *spec, lg_errmsg *err) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec)
        return lg_fail(err, LG_EINVAL, "--route '%s': expected SOURCE=stage[,stage...]", spec);
    char *source = lg_strndup(spec, (size_t)(eq - spec));
    if (!source) return lg_fail(err, LG_ENOMEM, "--route: out of memory");
    lg_route nr;
    memset(&nr, 0, sizeof nr);
    nr.source = source;
    lg_err e = LG_OK;
    const char *p = eq + 1;
    char flag[96];
    snprintf(flag, sizeof flag, "--route '%.80s'", spec);
    while (*p && !e) {
        size_t n = strcspn(p, ",");
        char item[64];
        if (n == 0 || (p[n] == ',' && !p[n + 1])) {
            e = lg_fail(err, LG_EINVAL, "--route '%s': an empty stage name (a stray comma?)", spec);
            break;
        }
        if (n >= sizeof item) {
            e = lg_fail(err, LG_EINVAL, "--route '%s': stage name too long", spec);
            break;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char *colon = strchr(item, ':');
        double th = -1;
        if (colon) {
            *colon = '\0';
            char *end;
            th = strtod(colon + 1, &end);
            if (*end || end == colon + 1 || th < 0 || th > 1) {
                e = lg_fail(err, LG_EINVAL, "--route '%s': bad threshold '%s'", spec, colon + 1);
                break;
            }
        }
        lg_stage_kind k;
        if (lg_stage_kind_parse(item, &k) != LG_OK) {
            e = lg_fail(err, LG_EINVAL, "--route '%s': unknown stage '%s' (known: rules, model, llm)",
                        spec, item);
            break;
        }
        if (colon && k != LG_STAGE_MODEL) {
            e = lg_fail(err, LG_EINVAL, "--route '%s': only the model stage takes a threshold", spec);
            break;
        }
        if ((e = check_kind_once(&nr, k, flag, 0, err))) break;
        spec_init(&nr.stages[nr.n_stages], k);
        nr.stages[nr.n_stages++].threshold = th;
        p += n;
        if (*p == ',') p++;
    }
    if (!e && nr.n_stages == 0) /* '*=' would leave every row Unclassified, silently */
        e = lg_fail(err, LG_EINVAL, "--route '%s': no stages (give one or more of rules, model, llm)",
                    spec);
    if (e) {
        free(source);
        for (size_t j = 0; j < nr.n_stages; j++) spec_clear(&nr.stages[j]);
        return e;
    }
    /* replace an existing route for the same source, keeping its place */
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->routes[i].source, source)) {
            lg_route old = t->routes[i];
            t->routes[i] = nr;
            free(old.source);
            for (size_t j = 0; j < old.n_stages; j++) spec_clear(&old.stages[j]);
            return LG_OK;
        }
    }
    lg_route *grown = realloc(t->routes, (t->n + 1) * sizeof *grown);
    if (!grown) {
        free(source);
        return lg_fail(err, LG_ENOMEM, "--route: out of memory");
    }
    t->routes = grown;
    /* an exact source goes before the first "*" so that it takes effect */
    size_t at = t->n;
    if (strcmp(source, "*") != 0)
        for (size_t i = 0; i < t->n; i++)
            if (!strcmp(t->routes[i].source, "*")) {
                at = i;
                break;
            }
    memmove(&t->routes[at + 1], &t->routes[at], (t->n - at) * sizeof *t->routes);
    t->routes[at] = nr;
    t->n++;
    return LG_OK;
}

lg_err lg_routes_copy(const lg_route_table *src, lg_route_table *dst, lg_errmsg *err) {
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; i < src->n; i++) {
        lg_route *r = route_add(dst, src->routes[i].source);
        if (!r) goto oom;
        for (size_t j = 0; j < src->routes[i].n_stages; j++) {
            const lg_stage_spec *s = &src->routes[i].stages[j];
            lg_stage_spec *d = &r->stages[j];
            *d = *s;
            d->labels = NULL;
            d->n_labels = 0;
            r->n_stages = j + 1;
            if (s->n_labels) {
                if (!(d->labels = calloc(s->n_labels, sizeof *d->labels))) goto oom;
                for (size_t k = 0; k < s->n_labels; k++) {
                    if (!(d->labels[k] = lg_strdup(s->labels[k]))) goto oom;
                    d->n_labels = k + 1;
                }
            }
        }
    }
    return LG_OK;
oom:
    lg_routes_free(dst);
    return lg_fail(err, LG_ENOMEM, "copying the routes: out of memory");
}

lg_err lg_routes_describe(const lg_route_table *t, lg_buf *out) {
    lg_err e = LG_OK;
    for (size_t i = 0; i < t->n && !e; i++) {
        e = lg_buf_printf(out, "%s%s=", i ? "; " : "", t->routes[i].source);
        for (size_t j = 0; j < t->routes[i].n_stages && !e; j++) {
            const lg_stage_spec *s = &t->routes[i].stages[j];
            e = lg_buf_printf(out, "%s%s", j ? "," : "", lg_stage_kind_name(s->kind));
            if (!e && s->threshold >= 0) e = lg_buf_printf(out, ":%g", s->threshold);
        }
    }
    return e;
}

/* ---- Config file ----------------------------------------------------------- */

lg_err lg_config_init(lg_config *cfg, lg_errmsg *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->threshold = 0.5;
    return lg_routes_default(&cfg->routes, err);
}

void lg_config_free(lg_config *cfg) {
    if (!cfg) return;
    free(cfg->path);
    free(cfg->rules_path);
    free(cfg->model_dir);
    lg_routes_free(&cfg->routes);
    lg_ytree_free(cfg->doc);
    memset(cfg, 0, sizeof *cfg);
}

/* A path from the file, made relative to the file's directory. */
static char *resolve(const char *cfg_path, const char *p) {
    if (p[0] == '/') return lg_strdup(p);
    char *copy = lg_strdup(cfg_path);
    if (!copy) return NULL;
    const char *dir = dirname(copy);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", dir, p);
    free(copy);
    return out;
}

lg_err lg_config_load(const char *path, lg_config *cfg, lg_errmsg *err) {
    lg_ynode *doc = NULL;
    lg_err e = lg_ytree_load(path, CONFIG_MAX_FILE, &doc, err);
    if (e) return e;
    if (doc->kind != LG_Y_MAP) {
        lg_ytree_free(doc);
        return lg_fail(err, LG_EINVAL, "%s: the configuration must be a map of settings", path);
    }
    for (size_t i = 0; i < doc->n && !e; i++) {
        const char *k = doc->items[i]->str;
        const lg_ynode *v = doc->items[i + 1];
        i++;
        if (!strcmp(k, "rules") || !strcmp(k, "model")) {
            const char *s = lg_yscalar(v);
            if (!s || !*s) {
                e = lg_fail(err, LG_EINVAL, "%s:%u: %s must be a path", path, v->line, k);
                break;
            }
            char **slot = !strcmp(k, "rules") ? &cfg->rules_path : &cfg->model_dir;
            free(*slot);
            if (!(*slot = resolve(path, s))) e = lg_fail(err, LG_ENOMEM, "a config path: out of memory");
        } else if (!strcmp(k, "threshold")) {
            double th;
            if ((e = lg_ynumber(v, "threshold", &th, err))) break;
            if (th < 0 || th > 1)
                e = lg_fail(err, LG_EINVAL, "%s:%u: threshold must be between 0 and 1", path,
                            v->line);
            cfg->threshold = th;
        } else if (!strcmp(k, "routes")) {
            lg_route_table t;
            if ((e = lg_routes_from_yaml(v, path, &t, err))) break;
            lg_routes_free(&cfg->routes);
            cfg->routes = t;
        } else if (!strcmp(k, "llm") || !strcmp(k, "server") || !strcmp(k, "kafka")) {
            /* read by their own modules */
        } else {
            e = lg_fail(err, LG_EINVAL,
                        "%s:%u: unknown setting '%s' (known: rules, model, threshold, routes, llm, "
                        "server, kafka)",
                        path, doc->items[i - 1]->line, k);
        }
    }
    if (e) {
        lg_ytree_free(doc);
        return e;
    }
    lg_ytree_free(cfg->doc);
    cfg->doc = doc;
    free(cfg->path);
    cfg->path = lg_strdup(path);
    return LG_OK;
}
