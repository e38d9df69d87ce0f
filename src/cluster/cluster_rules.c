/* cluster_rules.c - rules suggested from clusters: one template per cluster
 * (src/cluster/template.c) turned into a rule of Logify's rules format, compiled by
 * the rules engine (src/rules/rules.c) so that every suggestion is known to
 * compile, and measured on the data it came from: coverage (rows matched)
 * and, with labels, precision (rows of the rule's label among them).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/cluster.h"
#include "logify/rules.h"

#define RULES_TEXT_MAX ((size_t)64 << 20)

void lg_suggested_rules_free(lg_suggested_rule *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) {
        free(r[i].id);
        free(r[i].label);
        free(r[i].pattern);
        free(r[i].readable);
        free(r[i].group);
    }
    free(r);
}

/* ---- YAML helpers ---------------------------------------------------------------- */

/* Single-quoted YAML scalar: quotes doubled, nothing else escaped. Control
 * characters cannot appear (patterns escape them; labels come from CSV
 * fields and are replaced by blanks). */
static lg_err put_yaml_sq(lg_buf *b, const char *s) {
    lg_err e = lg_buf_putc(b, '\'');
    for (; !e && *s; s++) {
        if (*s == '\'') e = lg_buf_append(b, "''", 2);
        else e = lg_buf_putc(b, (unsigned char)*s < 0x20 ? ' ' : *s);
    }
    return e ? e : lg_buf_putc(b, '\'');
}

/* "c12-user-logged-in" from the cluster id and up to 4 words of the
 * readable template. Caller frees. */
static char *make_id(char kind, size_t cluster, const char *readable) {
    lg_buf b;
    lg_buf_init(&b, 128);
    lg_buf_printf(&b, "%c%zu", kind, cluster);
    int words = 0, in_word = 0, skip = 0;
    for (const char *p = readable; *p && words < 4 && b.len < 60; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '<') skip = 1;
        if (skip) {
            if (c == '>') skip = 0;
            in_word = 0;
            continue;
        }
        if (isalpha(c)) {
            if (!in_word) {
                lg_buf_putc(&b, '-');
                words++;
                in_word = 1;
            }
            lg_buf_putc(&b, (char)tolower(c));
        } else {
            in_word = 0;
        }
    }
    char *id = lg_strdup(lg_buf_cstr(&b));
    lg_buf_free(&b);
    return id;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_coverage(const void *a, const void *b) {
    const lg_suggested_rule *x = a, *y = b;
    if (x->coverage != y->coverage) return x->coverage > y->coverage ? -1 : 1;
    return x->cluster < y->cluster ? -1 : x->cluster > y->cluster;
}

/* Compiles the rules as one file; for the measurement only. */
static lg_err compile_all(const lg_suggested_rule *r, size_t n, lg_rules **out, lg_errmsg *err) {
    lg_buf y;
    lg_buf_init(&y, RULES_TEXT_MAX);
    lg_err e = lg_buf_printf(&y, "version: 1\nrules:\n");
    for (size_t i = 0; i < n && !e; i++) {
        e = lg_buf_printf(&y, "  - id: r%zu\n    label: ", i);
        if (!e) e = put_yaml_sq(&y, r[i].label);
        if (!e) e = lg_buf_printf(&y, "\n    pattern: ");
        if (!e) e = put_yaml_sq(&y, r[i].pattern);
        if (!e) e = lg_buf_putc(&y, '\n');
    }
    if (!e) e = lg_rules_parse(y.data, y.len, "suggested rules", NULL, out, err);
    else lg_fail(err, e, "suggested rules: text too large");
    lg_buf_free(&y);
    return e;
}

/* ---- Suggestions ----------------------------------------------------------------- */

lg_err lg_suggest_rules(const lg_suggest_input *in, lg_suggested_rule **out, size_t *n_out,
                        lg_errmsg *err) {
    *out = NULL;
    *n_out = 0;
    size_t n = in->n, nc = in->n_clusters;
    size_t *start = calloc(nc + 1, sizeof *start), *fill = calloc(nc + 1, sizeof *fill);
    size_t *members = malloc((n ? n : 1) * sizeof *members), *order = malloc((nc ? nc : 1) * sizeof *order);
    const char **msgs = malloc((n ? n : 1) * sizeof *msgs);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    lg_suggested_rule *rules = calloc(nc ? nc : 1, sizeof *rules);
    lg_rules *db = NULL;
    lg_rules_scratch *scratch = NULL;
    lg_rule_outcome *oc = NULL;
    size_t nr = 0;
    lg_template t;
    lg_template_init(&t);
    lg_err e = LG_OK;
    if (!start || !fill || !members || !order || !msgs || !lens || !rules) {
        e = lg_fail(err, LG_ENOMEM, "suggest: out of memory");
        goto done;
    }
    /* members of each cluster, in input order */
    for (size_t i = 0; i < n; i++)
        if (in->cluster[i] >= 0) start[in->cluster[i] + 1]++;
    for (size_t c = 0; c < nc; c++) start[c + 1] += start[c];
    for (size_t i = 0; i < n; i++)
        if (in->cluster[i] >= 0) {
            size_t c = (size_t)in->cluster[i];
            members[start[c] + fill[c]++] = i;
        }
    /* clusters by size, largest first */
    for (size_t c = 0; c < nc; c++) order[c] = c;
    for (size_t a = 1; a < nc; a++) { /* insertion sort: stable, nc is small */
        size_t v = order[a], b = a;
        size_t sv = start[v + 1] - start[v];
        while (b > 0 && start[order[b - 1] + 1] - start[order[b - 1]] < sv) {
            order[b] = order[b - 1];
            b--;
        }
        order[b] = v;
    }
    for (size_t oi = 0; oi < nc; oi++) {
        size_t c = order[oi], m = start[c + 1] - start[c];
        if (m < in->min_size || m == 0) break;
        if (in->max_rules && nr >= in->max_rules) break;
        for (size_t a = 0; a < m; a++) {
            msgs[a] = in->msgs[members[start[c] + a]];
            lens[a] = in->lens[members[start[c] + a]];
        }
        lg_errmsg terr;
        if (lg_template_build(msgs, lens, m, &t, &terr)) continue;
        /* a useful rule keeps some words: a constant token with a letter,
         * and at least a third of the tokens constant */
        int has_word = 0;
        for (const char *p = lg_buf_cstr(&t.readable); *p && !has_word; p++)
            has_word = isalpha((unsigned char)*p) && 1;
        if (t.constant == 0 || !has_word || 3 * t.constant < t.tokens) continue;
        const char *pat = lg_buf_cstr(&t.regex);
        int dup = 0;
        for (size_t k = 0; k < nr && !dup; k++) dup = !strcmp(rules[k].pattern, pat);
        if (dup) continue;
        lg_suggested_rule *r = &rules[nr];
        r->cluster = c;
        r->cluster_size = m;
        r->pattern = lg_strdup(pat);
        r->readable = lg_strdup(lg_buf_cstr(&t.readable));
        r->id = make_id(in->names ? 't' : 'c', c, r->readable);
        r->group = in->names && in->names[c] ? lg_strdup(in->names[c]) : NULL;
        r->precision = -1;
        if (in->labels) { /* dominant label of the cluster: sort, count runs */
            for (size_t a = 0; a < m; a++) msgs[a] = in->labels[members[start[c] + a]];
            qsort(msgs, m, sizeof *msgs, cmp_str);
            size_t best = 0, best_n = 0;
            for (size_t a = 0; a < m;) {
                size_t b = a;
                while (b < m && !strcmp(msgs[a], msgs[b])) b++;
                if (b - a > best_n) {
                    best_n = b - a;
                    best = a;
                }
                a = b;
            }
            r->label = lg_strdup(msgs[best]);
        } else {
            lg_buf lb;
            lg_buf_init(&lb, 64);
            lg_buf_printf(&lb, "Cluster %zu", c);
            r->label = lg_strdup(lg_buf_cstr(&lb));
            lg_buf_free(&lb);
        }
        nr++;
        if (!r->pattern || !r->readable || !r->id || !r->label || (in->names && in->names[c] && !r->group)) {
            e = lg_fail(err, LG_ENOMEM, "suggest: out of memory");
            goto done;
        }
    }
    if (nr == 0) goto done;
    /* measure all rules on all rows in one scan per row. One compile of the
     * whole set (a compile per rule made up most of `logify cluster`'s
     * output phase); only when the set does not compile are the rules
     * tried one by one, and a pattern the engines reject is dropped (kept
     * out of the file). */
    lg_errmsg cerr;
    if (compile_all(rules, nr, &db, &cerr) != LG_OK) {
        size_t kept = 0;
        for (size_t k = 0; k < nr; k++) {
            lg_rules *one = NULL;
            if (compile_all(&rules[k], 1, &one, &cerr)) {
                lg_log(LG_LOG_WARN, "cluster %zu: template does not compile, skipped: %s",
                       rules[k].cluster, cerr.msg);
                free(rules[k].pattern), free(rules[k].readable), free(rules[k].id);
                free(rules[k].label), free(rules[k].group);
            } else {
                rules[kept++] = rules[k];
            }
            lg_rules_free(one);
        }
        for (size_t k = kept; k < nr; k++) memset(&rules[k], 0, sizeof rules[k]);
        nr = kept;
        if (nr == 0) goto done;
        if ((e = compile_all(rules, nr, &db, err))) goto done;
    }
    if ((e = lg_rules_scratch_new(db, &scratch, err))) goto done;
    oc = malloc(nr * sizeof *oc);
    if (!oc) {
        e = lg_fail(err, LG_ENOMEM, "suggest: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if ((e = lg_rules_explain(db, scratch, NULL, in->msgs[i], in->lens[i], oc, err))) goto done;
        for (size_t k = 0; k < nr; k++)
            if (oc[k] == LG_RULE_MATCHED) {
                rules[k].coverage++;
                if (in->labels && !strcmp(in->labels[i], rules[k].label)) rules[k].correct++;
            }
    }
    for (size_t k = 0; k < nr; k++)
        if (in->labels && rules[k].coverage)
            rules[k].precision = (double)rules[k].correct / (double)rules[k].coverage;
    qsort(rules, nr, sizeof *rules, cmp_coverage);
done:
    lg_template_free(&t);
    lg_rules_scratch_free(scratch);
    lg_rules_free(db);
    free(start), free(fill), free(members), free(order), free(msgs), free(lens), free(oc);
    if (e) {
        lg_suggested_rules_free(rules, nr);
        return e;
    }
    *out = rules;
    *n_out = nr;
    return LG_OK;
}

lg_err lg_suggested_rules_yaml(const lg_suggested_rule *r, size_t n, size_t n_rows, int has_labels,
                               lg_buf *out, lg_errmsg *err) {
    size_t low = 0;
    int by_template = n && r[0].group;
    for (size_t i = 0; i < n; i++) low += has_labels && r[i].precision < 1.0;
    lg_err e = lg_buf_printf(
        out,
        "# Rules suggested by Logify from %zu rows: one per %s, ordered by\n"
        "# coverage (rows of this data each pattern matches).\n"
        "# Review before appending to a rules file: the label is the %s's\n"
        "# dominant label%s.\n",
        n_rows, by_template ? "mined template (docs/templates.md)" : "cluster template",
        by_template ? "template" : "cluster",
        has_labels ? "" : " (the data had no labels: rename 'Cluster N')");
    if (!e && has_labels)
        e = lg_buf_printf(out,
                          "# %zu of %zu rules match rows of another label on this data\n"
                          "# (precision < 1.0): they are marked REVIEW, not hidden.\n",
                          low, n);
    if (!e) /* an empty list must still be a list */
        e = lg_buf_printf(out, n ? "version: 1\nrules:\n"
                                 : "# No cluster gave a template worth a rule.\nversion: 1\nrules: []\n");
    for (size_t i = 0; i < n && !e; i++) {
        const lg_suggested_rule *s = &r[i];
        int review = has_labels && s->precision < 1.0;
        double pct = n_rows ? 100.0 * (double)s->coverage / (double)n_rows : 0;
        lg_buf desc;
        lg_buf_init(&desc, 1024);
        char what[160];
        if (s->group) snprintf(what, sizeof what, "%s", s->group);
        else snprintf(what, sizeof what, "cluster %zu", s->cluster);
        if (has_labels)
            e = lg_buf_printf(&desc, "%s%s (%zu rows): coverage %zu rows (%.1f%%), precision %.3f (%zu/%zu)",
                              review ? "REVIEW: " : "", what, s->cluster_size, s->coverage, pct,
                              s->precision, s->correct, s->coverage);
        else
            e = lg_buf_printf(&desc, "%s (%zu rows): coverage %zu rows (%.1f%%)", what, s->cluster_size,
                              s->coverage, pct);
        if (!e) e = lg_buf_printf(out, "\n  # %s\n  # template: ", lg_buf_cstr(&desc));
        for (const char *p = s->readable; !e && *p; p++) /* one comment line */
            e = lg_buf_putc(out, (*p == '\n' || *p == '\r') ? ' ' : *p);
        if (!e) e = lg_buf_printf(out, "\n  - id: %s\n    label: ", s->id);
        if (!e) e = put_yaml_sq(out, s->label);
        if (!e) e = lg_buf_printf(out, "\n    pattern: ");
        if (!e) e = put_yaml_sq(out, s->pattern);
        if (!e) e = lg_buf_printf(out, "\n    description: ");
        if (!e) e = put_yaml_sq(out, lg_buf_cstr(&desc));
        if (!e) e = lg_buf_putc(out, '\n');
        lg_buf_free(&desc);
    }
    if (e) return lg_fail(err, e, e == LG_ENOMEM ? "suggested rules: out of memory" : "suggested rules: output too large");
    return LG_OK;
}
