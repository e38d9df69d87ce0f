/* template_rules.c - rules suggested from mined templates, shared by
 * `logify templates --rules` and `logify cluster` (template-first, its
 * default): every template group is one group for the rule suggester
 * (src/cluster/cluster_rules.c: the group's rows become an anchored regex
 * with typed wildcards, compiled by the rules engine and measured on every
 * input row: coverage and, with labels, precision). Groups are numbered by
 * first appearance and named "template <id>" (plus the DBSCAN cluster
 * they fell in, for `logify cluster`) in the rules file's comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "logify/cluster.h"
#include "logify/templates.h"

lg_err cli_template_rules(const lg_tpl_miner *m, const uint32_t *tpl, const int32_t *cluster,
                          const lg_suggest_input *base, lg_suggested_rule **out, size_t *n_out,
                          lg_errmsg *err) {
    size_t n = base->n, nt = lg_tpl_count(m), ng = 0;
    int32_t *dense = malloc((nt ? nt : 1) * sizeof *dense), *cl = malloc((n ? n : 1) * sizeof *cl);
    char **names = calloc(nt ? nt : 1, sizeof *names);
    lg_err e = LG_OK;
    if (!dense || !cl || !names) {
        e = lg_fail(err, LG_ENOMEM, "out of memory");
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
                e = lg_fail(err, LG_ENOMEM, "out of memory");
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
