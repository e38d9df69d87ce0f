/* cluster_report.c - `logify cluster`'s analysis of a CSV held in memory,
 * answered as one JSON document: what the console's clusters view (a job
 * of `logify serve`, docs/console.md) draws. The same steps as the command
 * (src/cli/cmd_cluster.c): mine templates (unless by_message) and embed
 * each row's template text (or its message) into distinct vectors,
 * weighted DBSCAN (exactly that of every row), the silhouette, UMAP of the
 * distinct vectors, a readable template per cluster and the suggested
 * rules (one per template, or per cluster by_message), each also as a
 * one-rule rules file (the YAML the console copies), and all of them as
 * the command's suggested_rules.yaml.
 *
 * JSON shape (docs/console.md):
 *   {"rows": N, "distinct": M, "clusters": C, "noise": K, "silhouette": S|null,
 *    "labels": true|false, "encoder": "hash", "by": "template"|"message",
 *    "templates": T|null,
 *    "points": [x0, y0, c0, x1, y1, c1, ...]   (per input row, input order;
 *                                               c = -1 for noise)
 *    "groups": [{"id", "size", "label", "label_share", "template",
 *                "examples": [...], "rules": [{"id", "label", "pattern",
 *                "readable", "group", "size", "coverage", "precision",
 *                "yaml"}, ...]}, ...],
 *    "suggested_rules": "<suggested_rules.yaml>"}
 * groups are largest first, noise (id -1) last; a group's rules are those
 * of its templates (by_message: its one rule), largest coverage first. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/cluster.h"
#include "logify/csv.h"
#include "logify/templates.h"
#include "logify/umap.h"

/* ---- Rows --------------------------------------------------------------------------- */

typedef lg_cluster_rows rows_t;

void lg_cluster_rows_init(lg_cluster_rows *t, size_t max) {
    memset(t, 0, sizeof *t);
    t->max = max;
    t->col_msg = t->col_src = t->col_lab = -1;
}

void lg_cluster_rows_free(lg_cluster_rows *t) {
    for (size_t i = 0; i < t->n; i++) free(t->msg[i]), free(t->src[i]), free(t->lab[i]);
    free(t->msg), free(t->src), free(t->lab), free(t->len);
    lg_cluster_rows_init(t, t->max);
}

lg_err lg_cluster_rows_on_row(void *user, const lg_csv_row *row, lg_errmsg *err) {
    lg_cluster_rows *t = user;
    if (!t->header_done) {
        for (size_t i = 0; i < row->nfields; i++) {
            if (!strcmp(row->fields[i], "log_message")) t->col_msg = (long)i;
            else if (!strcmp(row->fields[i], "source")) t->col_src = (long)i;
            else if (!strcmp(row->fields[i], "target_label")) t->col_lab = (long)i;
        }
        if (t->col_msg < 0)
            return lg_fail(err, LG_ENOTFOUND, "line %llu: the header has no log_message column",
                           (unsigned long long)row->line);
        t->header_done = 1;
        return LG_OK;
    }
    if (t->max && t->n == t->max)
        return lg_fail(err, LG_ELIMIT, "line %llu: more than %zu rows: cluster a sample",
                       (unsigned long long)row->line, t->max);
    if (t->n == t->cap) {
        size_t nc = t->cap ? 2 * t->cap : 1024;
        char **m = realloc(t->msg, nc * sizeof *m);
        if (m) t->msg = m;
        char **s = realloc(t->src, nc * sizeof *s);
        if (s) t->src = s;
        char **l = realloc(t->lab, nc * sizeof *l);
        if (l) t->lab = l;
        size_t *ln = realloc(t->len, nc * sizeof *ln);
        if (ln) t->len = ln;
        if (!m || !s || !l || !ln) return lg_fail(err, LG_ENOMEM, "out of memory reading rows");
        t->cap = nc;
    }
    size_t i = t->n;
#define FIELD(c) ((c) >= 0 && (size_t)(c) < row->nfields ? row->fields[c] : "")
#define FLEN(c) ((c) >= 0 && (size_t)(c) < row->nfields ? row->lens[c] : 0)
    t->msg[i] = lg_strndup(FIELD(t->col_msg), FLEN(t->col_msg));
    t->len[i] = FLEN(t->col_msg);
    t->src[i] = lg_strdup(FIELD(t->col_src));
    t->lab[i] = lg_strdup(FIELD(t->col_lab));
#undef FIELD
#undef FLEN
    t->n++;
    if (!t->msg[i] || !t->src[i] || !t->lab[i]) return lg_fail(err, LG_ENOMEM, "out of memory reading rows");
    return LG_OK;
}

static lg_err read_rows(const char *csv, size_t len, rows_t *t, lg_errmsg *err) {
    lg_csv_reader *r = NULL;
    lg_err e = lg_csv_reader_new(NULL, lg_cluster_rows_on_row, NULL, t, &r, err);
    if (!e) e = lg_csv_feed(r, csv, len, err);
    if (!e) e = lg_csv_finish(r, err);
    lg_csv_reader_free(r);
    if (!e && !t->header_done) e = lg_fail(err, LG_EPARSE, "empty input: no header row");
    if (!e && t->n < 2) e = lg_fail(err, LG_EINVAL, "need at least 2 rows, got %zu", t->n);
    return e;
}

/* ---- Groups ----------------------------------------------------------------------------- */

typedef struct {
    size_t size, id;
} size_id;

static int cmp_size_desc(const void *a, const void *b) {
    const size_id *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int cmp_strp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void lg_cluster_groups_free(lg_cluster_groups *g) {
    free(g->size), free(g->start), free(g->rows), free(g->order);
    memset(g, 0, sizeof *g);
}

lg_err lg_cluster_groups_make(const int32_t *cl, size_t n, size_t nc, lg_cluster_groups *g,
                              lg_errmsg *err) {
    memset(g, 0, sizeof *g);
    g->nc = nc;
    g->size = calloc(nc + 1, sizeof *g->size);
    g->start = calloc(nc + 2, sizeof *g->start);
    g->rows = malloc((n ? n : 1) * sizeof *g->rows);
    g->order = malloc((nc + 1) * sizeof *g->order);
    size_t *fill = calloc(nc + 1, sizeof *fill);
    size_id *t = malloc((nc + 1) * sizeof *t);
    if (!g->size || !g->start || !g->rows || !g->order || !fill || !t) {
        free(fill), free(t);
        lg_cluster_groups_free(g);
        return lg_fail(err, LG_ENOMEM, "out of memory grouping %zu rows", n);
    }
    for (size_t i = 0; i < n; i++) g->size[cl[i] < 0 ? nc : (size_t)cl[i]]++; /* slot nc: noise */
    for (size_t c = 0; c <= nc; c++) g->start[c + 1] = g->start[c] + g->size[c];
    for (size_t i = 0; i < n; i++) {
        size_t c = cl[i] < 0 ? nc : (size_t)cl[i];
        g->rows[g->start[c] + fill[c]++] = i;
    }
    for (size_t c = 0; c < nc; c++) t[c] = (size_id){g->size[c], c};
    qsort(t, nc, sizeof *t, cmp_size_desc);
    for (size_t c = 0; c < nc; c++) g->order[c] = t[c].id;
    g->order[nc] = nc;
    free(fill), free(t);
    return LG_OK;
}

const char *lg_dominant_label(const char *const *labels, const size_t *rows, size_t m,
                              const char **scratch, size_t *count) {
    for (size_t a = 0; a < m; a++) scratch[a] = labels[rows[a]];
    qsort(scratch, m, sizeof *scratch, cmp_strp);
    size_t best = 0, best_n = 0;
    for (size_t a = 0; a < m;) {
        size_t q = a;
        while (q < m && !strcmp(scratch[a], scratch[q])) q++;
        if (q - a > best_n) best_n = q - a, best = a;
        a = q;
    }
    *count = best_n;
    return scratch[best];
}

static lg_err put_str(lg_buf *b, const char *s) { return lg_json_put_string(b, s, strlen(s)); }

/* One rule's object, with its one-rule rules file. */
static lg_err put_rule(lg_buf *b, const lg_suggested_rule *rule, size_t n_rows, int has_labels,
                       lg_errmsg *err) {
    lg_buf y;
    lg_buf_init(&y, (size_t)16 << 20);
    lg_err e = lg_suggested_rules_yaml(rule, 1, n_rows, has_labels, &y, err);
    if (!e) e = lg_buf_append(b, "{\"id\":", 6);
    if (!e) e = put_str(b, rule->id);
    if (!e) e = lg_buf_append(b, ",\"label\":", 9);
    if (!e) e = put_str(b, rule->label);
    if (!e) e = lg_buf_append(b, ",\"pattern\":", 11);
    if (!e) e = put_str(b, rule->pattern);
    if (!e) e = lg_buf_append(b, ",\"readable\":", 12);
    if (!e) e = put_str(b, rule->readable);
    if (!e) e = lg_buf_append(b, ",\"group\":", 9);
    if (!e) e = rule->group ? put_str(b, rule->group) : lg_buf_append(b, "null", 4);
    if (!e) e = lg_buf_printf(b, ",\"size\":%zu,\"coverage\":%zu,\"precision\":", rule->cluster_size,
                              rule->coverage);
    if (!e) e = rule->precision < 0 ? lg_buf_append(b, "null", 4)
                                    : lg_buf_printf(b, "%.4f", rule->precision);
    if (!e) e = lg_buf_append(b, ",\"yaml\":", 8);
    if (!e) e = lg_json_put_string(b, y.data ? y.data : "", y.len);
    if (!e) e = lg_buf_putc(b, '}');
    lg_buf_free(&y);
    return e;
}

/* One group's object (c == nc: the noise). r: its m rows; rules: its
 * n_rules rules (indices into all). */
static lg_err put_group(lg_buf *b, const rows_t *t, int has_labels, size_t c, size_t nc,
                        const size_t *r, size_t m, const lg_suggested_rule *all,
                        const size_t *rules, size_t n_rules, const char **ms, size_t *ls,
                        lg_template *tp, lg_errmsg *err) {
    lg_err e = lg_buf_printf(b, "{\"id\":%lld,\"size\":%zu,\"label\":", c == nc ? -1LL : (long long)c, m);
    if (!e && has_labels) {
        size_t best_n;
        const char *best = lg_dominant_label((const char *const *)t->lab, r, m, ms, &best_n);
        e = put_str(b, best);
        if (!e) e = lg_buf_printf(b, ",\"label_share\":%.3f", (double)best_n / (double)m);
    } else if (!e) {
        e = lg_buf_append(b, "null,\"label_share\":null", 23);
    }
    if (!e) e = lg_buf_append(b, ",\"template\":", 12);
    if (!e && c != nc) {
        for (size_t a = 0; a < m; a++) ms[a] = t->msg[r[a]], ls[a] = t->len[r[a]];
        lg_errmsg terr;
        if (lg_template_build(ms, ls, m, tp, &terr) == LG_OK)
            e = lg_json_put_string(b, lg_buf_cstr(&tp->readable), tp->readable.len);
        else
            e = lg_buf_append(b, "null", 4);
    } else if (!e) {
        e = lg_buf_append(b, "null", 4);
    }
    if (!e) e = lg_buf_append(b, ",\"examples\":[", 13);
    for (size_t k = 0; k < 3 && k < m && !e; k++) {
        if (k) e = lg_buf_putc(b, ',');
        if (!e) e = lg_json_put_string(b, t->msg[r[k * m / 3]], t->len[r[k * m / 3]]);
    }
    if (!e) e = lg_buf_append(b, "],\"rules\":[", 11);
    for (size_t k = 0; k < n_rules && !e; k++) {
        if (k) e = lg_buf_putc(b, ',');
        if (!e) e = put_rule(b, &all[rules[k]], t->n, has_labels, err);
    }
    if (!e) e = lg_buf_putc(b, ']');
    if (!e) e = lg_buf_putc(b, '}');
    return e;
}

/* rule_cl[i]: the cluster of rule i (nc: the noise). */
static lg_err put_groups(lg_buf *b, const rows_t *t, int has_labels, const int32_t *cl, size_t nc,
                         const lg_suggested_rule *rules, const size_t *rule_cl, size_t n_rules,
                         lg_errmsg *err) {
    size_t n = t->n;
    lg_cluster_groups g;
    lg_err e = lg_cluster_groups_make(cl, n, nc, &g, err);
    if (e) return e;
    /* the rules by cluster, in their order (coverage): a counting sort */
    size_t *rstart = calloc(nc + 2, sizeof *rstart), *rfill = calloc(nc + 1, sizeof *rfill);
    size_t *by = malloc((n_rules ? n_rules : 1) * sizeof *by), *ls = malloc(n * sizeof *ls);
    const char **ms = malloc(n * sizeof *ms);
    lg_template tp;
    lg_template_init(&tp);
    if (!rstart || !rfill || !by || !ls || !ms) {
        e = lg_fail(err, LG_ENOMEM, "cluster report groups: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n_rules; i++) rstart[rule_cl[i] + 1]++;
    for (size_t c = 0; c <= nc; c++) rstart[c + 1] += rstart[c];
    for (size_t i = 0; i < n_rules; i++) by[rstart[rule_cl[i]] + rfill[rule_cl[i]]++] = i;
    e = lg_buf_append(b, ",\"groups\":[", 11);
    int first = 1;
    for (size_t oi = 0; oi <= nc && !e; oi++) {
        size_t c = g.order[oi];
        if (!g.size[c]) continue;
        if (!first) e = lg_buf_putc(b, ',');
        first = 0;
        if (!e)
            e = put_group(b, t, has_labels, c, nc, g.rows + g.start[c], g.size[c], rules,
                          by + rstart[c], rstart[c + 1] - rstart[c], ms, ls, &tp, err);
    }
    if (!e) e = lg_buf_putc(b, ']');
done:
    lg_template_free(&tp);
    lg_cluster_groups_free(&g);
    free(rstart), free(rfill), free(by), free(ls), free(ms);
    return e;
}

/* The cluster of each rule (nc: noise). by template: a rule's group number
 * is its template group's rank of first appearance (as
 * lg_cluster_template_rules numbers them), and every row of a template
 * group has the same text, hence the same vector and cluster. */
static lg_err rule_clusters(const lg_cluster_templates *tt, const int32_t *cl, size_t n, size_t nc,
                            const lg_suggested_rule *rules, size_t n_rules, size_t **out,
                            lg_errmsg *err) {
    size_t *rc = malloc((n_rules ? n_rules : 1) * sizeof *rc);
    size_t *dense_cl = tt->miner ? malloc((tt->n_text ? tt->n_text : 1) * sizeof *dense_cl) : NULL;
    int32_t *seen = tt->miner ? malloc((tt->n_text ? tt->n_text : 1) * sizeof *seen) : NULL;
    if (!rc || (tt->miner && (!dense_cl || !seen))) {
        free(rc), free(dense_cl), free(seen);
        return lg_fail(err, LG_ENOMEM, "cluster report rules: out of memory");
    }
    if (tt->miner) {
        size_t ng = 0;
        for (size_t g = 0; g < tt->n_text; g++) seen[g] = 0;
        for (size_t i = 0; i < n; i++) {
            size_t g = lg_tpl_group(tt->miner, tt->tpl[i]);
            if (!seen[g]) seen[g] = 1, dense_cl[ng++] = cl[i] < 0 ? nc : (size_t)cl[i];
        }
        for (size_t i = 0; i < n_rules; i++) rc[i] = rules[i].cluster < ng ? dense_cl[rules[i].cluster] : nc;
    } else {
        for (size_t i = 0; i < n_rules; i++) rc[i] = rules[i].cluster < nc ? rules[i].cluster : nc;
    }
    free(dense_cl), free(seen);
    *out = rc;
    return LG_OK;
}

/* ---- The report ---------------------------------------------------------------------------- */

void lg_cluster_report_opts_default(lg_cluster_report_opts *o) {
    memset(o, 0, sizeof *o);
    o->encoder = "hash";
    o->dims = LG_CLUSTER_PROJ_DIM;
    o->eps = 0.2f;
    o->min_samples = 1;
    o->min_size = 5;
    o->max_rows = 1000000;
    o->max_distinct = 200000;
    lg_umap_params_default(&o->umap);
}

lg_err lg_cluster_report(const char *csv, size_t len, const lg_cluster_report_opts *o,
                         lg_progress_fn progress, void *puser, lg_buf *out, lg_errmsg *err) {
    rows_t t;
    lg_cluster_rows_init(&t, o->max_rows);
    lg_vecset vs;
    lg_vecset_init(&vs);
    int32_t *cl = NULL, *cld = NULL;
    float *xyd = NULL;
    lg_suggested_rule *rules = NULL;
    size_t n_rules = 0, nc = 0, *rule_cl = NULL;
    lg_cluster_templates tt = {0};
    lg_buf yaml;
    lg_buf_init(&yaml, out->max);
    lg_buf_reset(out);
    lg_err e = read_rows(csv, len, &t, err);
    if (e) goto done;
    size_t n = t.n;
    int has_labels = 0;
    for (size_t i = 0; i < n && !has_labels; i++) has_labels = t.lab[i][0] != '\0';
    const char *const *emsg = (const char *const *)t.msg;
    const size_t *elen = t.len;
    if (!o->by_message) { /* template-first, as `logify cluster` by default */
        if ((e = lg_cluster_templates_mine(emsg, elen, n, progress, puser, &tt, err))) goto done;
        emsg = tt.row_text;
        elen = tt.row_len;
    }
    e = lg_cluster_embed_distinct(o->encoder, emsg, elen, n, o->dims, o->max_distinct, progress,
                                  puser, &vs, err);
    if (e) goto done;
    size_t m = vs.m, d = vs.d;
    cl = malloc(n * sizeof *cl);
    cld = malloc(m * sizeof *cld);
    xyd = calloc(2 * m, sizeof *xyd);
    if (!cl || !cld || !xyd) {
        e = lg_fail(err, LG_ENOMEM, "cluster report: out of memory");
        goto done;
    }
    if ((e = lg_dbscan_weighted(vs.x, m, d, vs.weight, o->eps, o->min_samples, progress, puser, cld,
                                &nc, err)))
        goto done;
    size_t noise = 0;
    for (size_t i = 0; i < n; i++) noise += (cl[i] = cld[vs.row_vec[i]]) < 0;
    double sil;
    if ((e = lg_silhouette_cosine_weighted(vs.x, m, d, vs.weight, cld, nc, (size_t)50 << 20,
                                           o->umap.seed, &sil, err)))
        goto done;
    if (m >= 2 && (e = lg_umap_fit(vs.x, m, d, &o->umap, progress, puser, xyd, NULL, err))) goto done;
    if ((e = lg_progress_check(progress, puser, "rules", 0, 1, err))) goto done;
    lg_suggest_input si = {(const char *const *)t.msg, t.len,
                           has_labels ? (const char *const *)t.lab : NULL, n, cl, nc,
                           o->min_size, 500, NULL};
    if ((e = tt.miner ? lg_cluster_template_rules(tt.miner, tt.tpl, cl, &si, &rules, &n_rules, err)
                      : lg_suggest_rules(&si, &rules, &n_rules, err)))
        goto done;
    if ((e = rule_clusters(&tt, cl, n, nc, rules, n_rules, &rule_cl, err))) goto done;
    if ((e = lg_suggested_rules_yaml(rules, n_rules, n, has_labels, &yaml, err))) goto done;
    e = lg_buf_printf(out, "{\"rows\":%zu,\"distinct\":%zu,\"clusters\":%zu,\"noise\":%zu,"
                           "\"silhouette\":",
                      n, m, nc, noise);
    if (!e) e = isnan(sil) ? lg_buf_append(out, "null", 4) : lg_buf_printf(out, "%.4f", sil);
    if (!e) e = lg_buf_printf(out, ",\"labels\":%s,\"encoder\":", has_labels ? "true" : "false");
    if (!e) e = put_str(out, o->encoder);
    if (!e) e = lg_buf_printf(out, ",\"by\":\"%s\",\"templates\":", tt.miner ? "template" : "message");
    if (!e) e = tt.miner ? lg_buf_printf(out, "%zu", tt.groups) : lg_buf_append(out, "null", 4);
    if (!e) e = lg_buf_append(out, ",\"points\":[", 11);
    for (size_t i = 0; i < n && !e; i++) {
        const float *p = xyd + 2 * (size_t)vs.row_vec[i];
        e = lg_buf_printf(out, "%s%.4f,%.4f,%d", i ? "," : "", (double)p[0], (double)p[1], (int)cl[i]);
    }
    if (!e) e = lg_buf_putc(out, ']');
    if (!e) e = put_groups(out, &t, has_labels, cl, nc, rules, rule_cl, n_rules, err);
    if (!e) e = lg_buf_append(out, ",\"suggested_rules\":", 19);
    if (!e) e = lg_json_put_string(out, yaml.data ? yaml.data : "", yaml.len);
    if (!e) e = lg_buf_putc(out, '}');
    if (e == LG_ELIMIT) lg_fail(err, e, "the report is larger than %zu bytes", out->max);
    if (!e && progress) progress(puser, "rules", 1, 1);
done:
    lg_suggested_rules_free(rules, n_rules);
    lg_cluster_templates_free(&tt);
    lg_buf_free(&yaml);
    lg_vecset_free(&vs);
    lg_cluster_rows_free(&t);
    free(cl), free(cld), free(xyd), free(rule_cl);
    return e;
}
