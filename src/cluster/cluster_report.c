/* cluster_report.c - `logify cluster --by-message`'s analysis of a CSV held in memory,
 * answered as one JSON document: what the console's clusters view (a job
 * of `logify serve`, docs/console.md) draws. The same steps as the command
 * (src/cli/cmd_cluster.c): embed into distinct vectors, weighted DBSCAN
 * (exactly that of every row), the silhouette, UMAP of the distinct
 * vectors, a readable template per cluster and the suggested rules, each
 * also as a one-rule rules file (the YAML the console copies).
 *
 * JSON shape (docs/console.md):
 *   {"rows": N, "distinct": M, "clusters": C, "noise": K, "silhouette": S|null,
 *    "labels": true|false, "encoder": "hash",
 *    "points": [x0, y0, c0, x1, y1, c1, ...]   (per input row, input order;
 *                                               c = -1 for noise)
 *    "groups": [{"id", "size", "label", "label_share", "template",
 *                "examples": [...], "rule": {"id", "label", "pattern",
 *                "readable", "coverage", "precision", "yaml"} | null}, ...]}
 * groups are largest first, noise (id -1) last. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "logify/cluster.h"
#include "logify/csv.h"
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

/* One group's object (c == nc: the noise). rows: its rows. */
static lg_err put_group(lg_buf *b, const rows_t *t, int has_labels, size_t c, size_t nc,
                        const size_t *r, size_t m, const lg_suggested_rule *rule,
                        const char **ms, size_t *ls, lg_template *tp, lg_errmsg *err) {
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
    if (!e) e = lg_buf_append(b, "],\"rule\":", 9);
    if (!e && !rule) e = lg_buf_append(b, "null", 4);
    if (!e && rule) {
        lg_buf y;
        lg_buf_init(&y, (size_t)16 << 20);
        e = lg_suggested_rules_yaml(rule, 1, t->n, has_labels, &y, err);
        if (!e) e = lg_buf_append(b, "{\"id\":", 6);
        if (!e) e = put_str(b, rule->id);
        if (!e) e = lg_buf_append(b, ",\"label\":", 9);
        if (!e) e = put_str(b, rule->label);
        if (!e) e = lg_buf_append(b, ",\"pattern\":", 11);
        if (!e) e = put_str(b, rule->pattern);
        if (!e) e = lg_buf_append(b, ",\"readable\":", 12);
        if (!e) e = put_str(b, rule->readable);
        if (!e) e = lg_buf_printf(b, ",\"coverage\":%zu,\"precision\":", rule->coverage);
        if (!e) e = rule->precision < 0 ? lg_buf_append(b, "null", 4)
                                        : lg_buf_printf(b, "%.4f", rule->precision);
        if (!e) e = lg_buf_append(b, ",\"yaml\":", 8);
        if (!e) e = lg_json_put_string(b, y.data ? y.data : "", y.len);
        if (!e) e = lg_buf_putc(b, '}');
        lg_buf_free(&y);
    }
    if (!e) e = lg_buf_putc(b, '}');
    return e;
}

static lg_err put_groups(lg_buf *b, const rows_t *t, int has_labels, const int32_t *cl, size_t nc,
                         const lg_suggested_rule *rules, size_t n_rules, lg_errmsg *err) {
    size_t n = t->n;
    lg_cluster_groups g;
    lg_err e = lg_cluster_groups_make(cl, n, nc, &g, err);
    if (e) return e;
    size_t *rule_of = malloc((nc + 1) * sizeof *rule_of), *ls = malloc(n * sizeof *ls);
    const char **ms = malloc(n * sizeof *ms);
    lg_template tp;
    lg_template_init(&tp);
    if (!rule_of || !ls || !ms) {
        e = lg_fail(err, LG_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c <= nc; c++) rule_of[c] = SIZE_MAX;
    for (size_t i = 0; i < n_rules; i++)
        if (rules[i].cluster < nc) rule_of[rules[i].cluster] = i;
    e = lg_buf_append(b, ",\"groups\":[", 11);
    int first = 1;
    for (size_t oi = 0; oi <= nc && !e; oi++) {
        size_t c = g.order[oi];
        if (!g.size[c]) continue;
        if (!first) e = lg_buf_putc(b, ',');
        first = 0;
        if (!e)
            e = put_group(b, t, has_labels, c, nc, g.rows + g.start[c], g.size[c],
                          rule_of[c] == SIZE_MAX ? NULL : &rules[rule_of[c]], ms, ls, &tp, err);
    }
    if (!e) e = lg_buf_putc(b, ']');
done:
    lg_template_free(&tp);
    lg_cluster_groups_free(&g);
    free(rule_of), free(ls), free(ms);
    return e;
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
    size_t n_rules = 0, nc = 0;
    lg_buf_reset(out);
    lg_err e = read_rows(csv, len, &t, err);
    if (e) goto done;
    size_t n = t.n;
    int has_labels = 0;
    for (size_t i = 0; i < n && !has_labels; i++) has_labels = t.lab[i][0] != '\0';
    e = lg_cluster_embed_distinct(o->encoder, (const char *const *)t.msg, t.len, n, o->dims,
                                  o->max_distinct, progress, puser, &vs, err);
    if (e) goto done;
    size_t m = vs.m, d = vs.d;
    cl = malloc(n * sizeof *cl);
    cld = malloc(m * sizeof *cld);
    xyd = calloc(2 * m, sizeof *xyd);
    if (!cl || !cld || !xyd) {
        e = lg_fail(err, LG_ENOMEM, "out of memory");
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
    if (progress) progress(puser, "rules", 0, 1);
    lg_suggest_input si = {(const char *const *)t.msg, t.len,
                           has_labels ? (const char *const *)t.lab : NULL, n, cl, nc,
                           o->min_size, 500, NULL};
    if ((e = lg_suggest_rules(&si, &rules, &n_rules, err))) goto done;
    e = lg_buf_printf(out, "{\"rows\":%zu,\"distinct\":%zu,\"clusters\":%zu,\"noise\":%zu,"
                           "\"silhouette\":",
                      n, m, nc, noise);
    if (!e) e = isnan(sil) ? lg_buf_append(out, "null", 4) : lg_buf_printf(out, "%.4f", sil);
    if (!e) e = lg_buf_printf(out, ",\"labels\":%s,\"encoder\":", has_labels ? "true" : "false");
    if (!e) e = put_str(out, o->encoder);
    if (!e) e = lg_buf_append(out, ",\"points\":[", 11);
    for (size_t i = 0; i < n && !e; i++) {
        const float *p = xyd + 2 * (size_t)vs.row_vec[i];
        e = lg_buf_printf(out, "%s%.4f,%.4f,%d", i ? "," : "", (double)p[0], (double)p[1], (int)cl[i]);
    }
    if (!e) e = lg_buf_putc(out, ']');
    if (!e) e = put_groups(out, &t, has_labels, cl, nc, rules, n_rules, err);
    if (!e) e = lg_buf_putc(out, '}');
    if (e == LG_ELIMIT) lg_fail(err, e, "the report is larger than %zu bytes", out->max);
    if (!e && progress) progress(puser, "rules", 1, 1);
done:
    lg_suggested_rules_free(rules, n_rules);
    lg_vecset_free(&vs);
    lg_cluster_rows_free(&t);
    free(cl), free(cld), free(xyd);
    return e;
}
