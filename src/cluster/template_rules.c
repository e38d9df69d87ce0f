/* template_rules.c - template-first clustering (the default of `logify
 * cluster` and of the console's cluster job, docs/cluster.md): mine the
 * rows' templates (docs/templates.md), give every row its template group's
 * text to embed (rows of one template share one string, hence one weighted
 * point: clusters never split a template), and suggest rules per template,
 * as `logify templates --rules` does: every template group is one group for
 * the rule suggester (cluster_rules.c: the group's rows become an anchored
 * regex with typed wildcards, compiled by the rules engine and measured on
 * every input row: coverage and, with labels, precision). Groups are
 * numbered by first appearance and named "template <id>" (plus the DBSCAN
 * cluster they fell in) in the rules file's comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logify/cluster.h"
#include "logify/templates.h"

/* ---- Mining ----------------------------------------------------------------------- */

void lg_cluster_templates_free(lg_cluster_templates *tt) {
    for (size_t i = 0; tt->text && i < tt->n_text; i++) free(tt->text[i]);
    free(tt->text), free(tt->row_text), free(tt->row_len), free(tt->tpl);
    lg_tpl_miner_free(tt->miner);
    memset(tt, 0, sizeof *tt);
}

lg_err lg_cluster_templates_mine(const char *const *msgs, const size_t *lens, size_t n,
                                 lg_progress_fn progress, void *puser, lg_cluster_templates *tt,
                                 lg_errmsg *err) {
    memset(tt, 0, sizeof *tt);
    size_t cap = n ? n : 1;
    int *variant = NULL; /* (n) each row's lg_tpl_result.variant */
    tt->tpl = malloc(cap * sizeof *tt->tpl);
    tt->row_text = malloc(cap * sizeof *tt->row_text);
    tt->row_len = malloc(cap * sizeof *tt->row_len);
    lg_err e = LG_OK;
    if (!tt->tpl || !tt->row_text || !tt->row_len) {
        e = lg_fail(err, LG_ENOMEM, "out of memory mining templates of %zu rows", n);
        goto done;
    }
    if (!(variant = malloc(cap * sizeof *variant))) {
        e = lg_fail(err, LG_ENOMEM, "out of memory mining templates of %zu rows", n);
        goto done;
    }
    if ((e = lg_tpl_miner_new(NULL, &tt->miner, err))) goto done;
    for (size_t i = 0; i < n; i++) {
        lg_tpl_result r;
        lg_errmsg terr;
        if ((e = lg_tpl_add(tt->miner, msgs[i], lens[i], &r, &terr))) {
            lg_fail(err, e, "templates: %s", terr.msg);
            goto done;
        }
        tt->tpl[i] = r.index;
        variant[i] = r.variant;
        if (((i + 1) % 4096 == 0 || i + 1 == n) &&
            (e = lg_progress_check(progress, puser, "templates", i + 1, n, err)))
            goto done;
    }
    /* all rows are in hand, as in `logify templates`' spooled run: a word
     * that turned <*> before its template settled is split back, and each
     * row goes to its word's template (docs/templates.md, rule 7) */
    if (lg_tpl_split_words(tt->miner))
        for (size_t i = 0; i < n; i++) tt->tpl[i] = (uint32_t)lg_tpl_resolve(tt->miner, tt->tpl[i], variant[i]);
    tt->n_text = lg_tpl_count(tt->miner);
    tt->text = calloc(tt->n_text ? tt->n_text : 1, sizeof *tt->text);
    if (!tt->text) {
        e = lg_fail(err, LG_ENOMEM, "cluster templates: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t g = lg_tpl_group(tt->miner, tt->tpl[i]);
        if (!tt->text[g]) {
            lg_buf b;
            lg_buf_init(&b, (size_t)64 << 20);
            if (lg_tpl_text(tt->miner, g, &b) || !(tt->text[g] = lg_strdup(lg_buf_cstr(&b)))) {
                lg_buf_free(&b);
                e = lg_fail(err, LG_ENOMEM, "cluster templates: out of memory");
                goto done;
            }
            lg_buf_free(&b);
            tt->groups++;
        }
        tt->row_text[i] = tt->text[g];
        tt->row_len[i] = strlen(tt->text[g]);
    }
done:
    free(variant);
    if (e) lg_cluster_templates_free(tt);
    return e;
}

/* ---- Rules per template ------------------------------------------------------------- */

lg_err lg_cluster_template_rules(const lg_tpl_miner *m, const uint32_t *tpl, const int32_t *cluster,
                                 const lg_suggest_input *base, lg_suggested_rule **out, size_t *n_out,
                                 lg_errmsg *err) {
    size_t n = base->n, nt = lg_tpl_count(m), ng = 0;
    int32_t *dense = malloc((nt ? nt : 1) * sizeof *dense), *cl = malloc((n ? n : 1) * sizeof *cl);
    char **names = calloc(nt ? nt : 1, sizeof *names);
    lg_err e = LG_OK;
    if (!dense || !cl || !names) {
        e = lg_fail(err, LG_ENOMEM, "template rules: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nt; i++) dense[i] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t g = lg_tpl_group(m, tpl[i]);
        if (dense[g] < 0) {
            char id[17], name[96];
            lg_tpl_format_id(lg_tpl_id(m, g), id);
            if (!cluster) snprintf(name, sizeof name, "template %s", id);
            else if (cluster[i] < 0) snprintf(name, sizeof name, "template %s (noise)", id);
            else snprintf(name, sizeof name, "template %s in cluster %d", id, (int)cluster[i]);
            if (!(names[ng] = lg_strdup(name))) {
                e = lg_fail(err, LG_ENOMEM, "template rules: out of memory");
                goto done;
            }
            dense[g] = (int32_t)ng++;
        }
        cl[i] = dense[g];
    }
    lg_suggest_input in = *base;
    in.cluster = cl;
    in.n_clusters = ng;
    in.names = (const char *const *)names;
    e = lg_suggest_rules(&in, out, n_out, err);
done:
    for (size_t i = 0; names && i < ng; i++) free(names[i]);
    free(names);
    free(dense);
    free(cl);
    return e;
}
