/* cmd_eval.c - `logify eval`: run the whole cascade over a labeled CSV and
 * report accuracy per label, per stage, and why rows stayed Unclassified. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "logify/confusion.h"
#include "logify/evalplot.h"
#include "logify/pipeline.h"
#include "logify/report.h"
#include "logify/train.h"

static const char usage_text[] =
    "usage: logify eval --data CSV [options]\n"
    "  --data CSV             labeled data: columns source, log_message, target_label\n"
    "  --model DIR            model bundle (default: models/default)\n"
    "  --config FILE          configuration file (routes, rules, model, llm)\n"
    "  --rules FILE           rules file (default: the built-in rules)\n"
    "  --route SRC=STAGES     override a route, as in 'logify classify'\n"
    "  --threshold X          default model threshold (default 0.5)\n"
    "  --json                 print one JSON object (rows, accuracy, macro_f1,\n"
    "                         per_label, per_stage, unclassified, confusion)\n"
    "  --plot FILE.svg        write the confusion matrix and per-label precision,\n"
    "                         recall and F1 as one SVG\n"
    "  --no-progress          no progress line (drawn on stderr only when it is a terminal)\n";

#define EVAL_BATCH 1024
#define MAX_REASONS 64

/* Row counts by a short text key (at most MAX_REASONS keys, the rest
 * counted as "other"). */
typedef struct {
    char *key[MAX_REASONS];
    uint64_t rows[MAX_REASONS];
    size_t n;
    uint64_t other;
} tally;

static void tally_add(tally *t, const char *key) {
    for (size_t i = 0; i < t->n; i++) {
        if (!strcmp(t->key[i], key)) {
            t->rows[i]++;
            return;
        }
    }
    if (t->n == MAX_REASONS || !(t->key[t->n] = lg_strdup(key))) {
        t->other++;
        return;
    }
    t->rows[t->n++] = 1;
}

static void tally_clear(tally *t) {
    for (size_t i = 0; i < t->n; i++)
        free(t->key[i]);
}

static json_t *tally_json(const tally *t, const char *other) {
    json_t *o = json_object();
    for (size_t i = 0; o && i < t->n; i++)
        json_object_set_new(o, t->key[i], json_integer((json_int_t)t->rows[i]));
    if (o && t->other) json_object_set_new(o, other, json_integer((json_int_t)t->other));
    return o;
}

typedef struct {
    uint64_t rows[LG_STAGE_KINDS], correct[LG_STAGE_KINDS];
    tally reasons; /* why rows stayed Unclassified */
    tally unknown; /* true labels the model does not know, among the rows it saw */
} eval_counts;

/* Groups a detail by its text before the first ':' (so "model below
 * threshold: Error p=0.41 < 0.50" counts as "model below threshold"). */
static void count_reason(eval_counts *c, const char *detail) {
    char key[96];
    size_t n = strcspn(detail, ":");
    if (n >= sizeof key) n = sizeof key - 1;
    memcpy(key, detail, n);
    key[n] = '\0';
    if (!key[0]) snprintf(key, sizeof key, "(no reason given)");
    tally_add(&c->reasons, key);
}

static double ratio(uint64_t a, uint64_t b) {
    return b ? (double)a / (double)b : 0.0;
}

static void print_text(const char *data, const lg_report *rep, const eval_counts *c,
                       const char *model) {
    printf("data: %s, %llu rows; model: %s\n", data, (unsigned long long)rep->rows, model);
    printf("by stage:\n");
    for (int k = 1; k <= LG_STAGE_KINDS; k++) {
        int s = k % LG_STAGE_KINDS; /* rules, model, llm, then none */
        printf("  %-6s %6llu rows", s ? lg_stage_kind_name((lg_stage_kind)s) : "none",
               (unsigned long long)c->rows[s]);
        if (s && c->rows[s]) printf(", accuracy %.4f", ratio(c->correct[s], c->rows[s]));
        if (!s) printf(" (Unclassified)");
        printf("\n");
    }
    if (c->rows[0]) {
        printf("Unclassified, by reason:\n");
        for (size_t i = 0; i < c->reasons.n; i++)
            printf("  %6llu  %s\n", (unsigned long long)c->reasons.rows[i], c->reasons.key[i]);
        if (c->reasons.other)
            printf("  %6llu  (other reasons)\n", (unsigned long long)c->reasons.other);
    }
    if (c->unknown.n || c->unknown.other) {
        printf("labels the model does not know (rows that reached it; always a miss there):\n");
        for (size_t i = 0; i < c->unknown.n; i++)
            printf("  %6llu  %s\n", (unsigned long long)c->unknown.rows[i], c->unknown.key[i]);
        if (c->unknown.other)
            printf("  %6llu  (other labels)\n", (unsigned long long)c->unknown.other);
    }
    printf("\nreport (all rows; Unclassified counts as a wrong answer):\n");
    lg_report_print(rep, stdout, "  ");
}

static json_t *to_json(const lg_report *rep, const lg_confusion *cm, const eval_counts *c,
                       const char *model) {
    json_t *j = lg_report_json(rep), *conf = lg_confusion_json(cm);
    if (!conf) {
        json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "confusion", conf);
    json_t *per = json_object(), *reasons = tally_json(&c->reasons, "(other reasons)");
    json_t *unknown = tally_json(&c->unknown, "(other labels)");
    if (!j || !per || !reasons || !unknown) {
        json_decref(j);
        json_decref(per);
        json_decref(reasons);
        json_decref(unknown);
        return NULL;
    }
    for (int s = 0; s < LG_STAGE_KINDS; s++)
        json_object_set_new(per, lg_stage_kind_name((lg_stage_kind)s),
                            json_pack("{s:I, s:I, s:f}", "rows", (json_int_t)c->rows[s], "correct",
                                      (json_int_t)c->correct[s], "accuracy",
                                      ratio(c->correct[s], c->rows[s])));
    json_object_set_new(j, "per_stage", per);
    json_object_set_new(
        j, "unclassified",
        json_pack("{s:I, s:o}", "rows", (json_int_t)c->rows[0], "reasons", reasons));
    json_object_set_new(j, "unknown_to_model", unknown);
    json_object_set_new(j, "model", json_string(model));
    return j;
}

/* --plot: the SVG (logify/evalplot.h), written atomically. */
static int write_plot(const char *path, const char *data, const lg_report *rep,
                      const lg_confusion *cm) {
    lg_buf b;
    lg_buf_init(&b, (size_t)256 << 20);
    lg_errmsg err;
    const char *base = strrchr(data, '/');
    char title[300];
    snprintf(title, sizeof title, "logify eval: %s", base ? base + 1 : data);
    int rc = CLI_FAIL;
    cli_outfile of = {0};
    if (lg_evalplot_svg(rep, cm, title, &b, &err)) {
        cli_error("%s: %s", path, err.msg);
    } else if (cli_outfile_open(&of, path) == CLI_OK) {
        if (fwrite(b.data, 1, b.len, of.f) != b.len) {
            cli_error("%s: %s", path, strerror(errno));
            cli_outfile_abort(&of);
        } else {
            rc = cli_outfile_commit(&of);
        }
    }
    lg_buf_free(&b);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    enum { O_DATA = 256, O_JSON, O_PLOT };
    static const struct option longopts[] = {{"data", required_argument, 0, O_DATA},
                                             CLI_OPT_MODEL,
                                             CLI_OPT_CONFIG,
                                             CLI_OPT_RULES,
                                             CLI_OPT_ROUTE,
                                             CLI_OPT_THRESHOLD,
                                             {"json", no_argument, 0, O_JSON},
                                             {"plot", required_argument, 0, O_PLOT},
                                             CLI_OPT_NO_PROGRESS,
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    const char *data = NULL, *plot = NULL;
    int json = 0, no_progress = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        CLI_PIPELINE_CASES:
            if (cli_pipeline_option(c, optarg, &po, "eval", usage_text)) return CLI_USAGE;
            break;
        case O_JSON: json = 1; break;
        case O_PLOT: plot = optarg; break;
        case CLI_O_NO_PROGRESS: no_progress = 1; break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "eval: unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_text, "eval: unexpected argument '%s'", argv[optind]);
    if (!data) return cli_usage_error(usage_text, "eval: --data is required");

    lg_config cfg;
    if (cli_build_config(&po, &cfg) != CLI_OK) return CLI_FAIL;
    int rc = CLI_FAIL;
    lg_errmsg err;
    lg_resources res;
    lg_pipeline *pl = NULL;
    lg_worker *w = NULL;
    lg_dataset ds = {0};
    lg_record *recs = NULL;
    lg_report rep;
    lg_report_init(&rep);
    lg_confusion cm;
    lg_confusion_init(&cm);
    lg_progress *prog = NULL;
    eval_counts counts;
    memset(&counts, 0, sizeof counts);
    if (cli_load_pipeline(&cfg, &res, &pl) != CLI_OK) {
        lg_config_free(&cfg);
        return CLI_FAIL;
    }
    char model_desc[LG_DETAIL_MAX + 32];
    if (res.model)
        snprintf(model_desc, sizeof model_desc, "%s",
                 po.model_dir ? po.model_dir : "default bundle");
    else
        snprintf(model_desc, sizeof model_desc, "none (%s)", res.model_missing);
    prog = cli_progress_start("eval", no_progress, 0);
    lg_progress_phase(prog, "reading", "rows", 0, cli_path_size(data));
    if (lg_dataset_load_progress(data, prog, &ds, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (lg_worker_new(pl, &w, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    lg_worker_begin_run(w);
    recs = calloc(EVAL_BATCH, sizeof *recs);
    if (!recs) {
        cli_error("out of memory");
        goto done;
    }
    lg_progress_phase(prog, "classifying", "rows", ds.n, 0);
    for (size_t start = 0; start < ds.n; start += EVAL_BATCH) {
        lg_progress_set(prog, start, 0);
        size_t n = ds.n - start < EVAL_BATCH ? ds.n - start : EVAL_BATCH;
        for (size_t i = 0; i < n; i++) {
            const lg_labeled_row *r = &ds.rows[start + i];
            lg_record *rec = &recs[i];
            rec->source = r->source;
            rec->source_len = strlen(r->source);
            rec->message = r->message;
            rec->message_len = r->message_len;
            lg_record_reset(rec);
        }
        if (lg_pipeline_run(pl, w, recs, n, &err)) {
            cli_error("%s", err.msg);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const lg_record *rec = &recs[i];
            const char *truth = ds.rows[start + i].label;
            int ok = !strcmp(rec->label, truth);
            counts.rows[rec->stage]++;
            counts.correct[rec->stage] += ok && rec->stage != LG_STAGE_NONE;
            if (rec->stage == LG_STAGE_NONE) count_reason(&counts, rec->detail);
            size_t k;
            int saw_model = rec->stage == LG_STAGE_MODEL ||
                            (rec->stage == LG_STAGE_NONE && !strncmp(rec->detail, "model", 5));
            if (res.model && saw_model && lg_model_label_index(res.model, truth, &k, NULL))
                tally_add(&counts.unknown, truth);
            if (lg_report_add(&rep, truth, rec->label, &err) ||
                lg_confusion_add(&cm, truth, rec->label, &err)) {
                cli_error("%s", err.msg);
                goto done;
            }
        }
    }
    lg_progress_set(prog, ds.n, 0);
    cli_progress_end(prog);
    prog = NULL;
    if (plot && write_plot(plot, data, &rep, &cm) != CLI_OK) goto done;
    if (json) {
        if (cli_print_json(to_json(&rep, &cm, &counts, model_desc)) != CLI_OK) goto done;
    } else {
        print_text(data, &rep, &counts, model_desc);
    }
    cli_llm_failures(res.llm, 0);
    rc = CLI_OK;
done:
    cli_progress_end(prog);
    lg_confusion_clear(&cm);
    tally_clear(&counts.reasons);
    tally_clear(&counts.unknown);
    lg_report_clear(&rep);
    free(recs);
    lg_worker_free(w);
    lg_pipeline_free(pl);
    lg_resources_free(&res);
    lg_dataset_free(&ds);
    lg_config_free(&cfg);
    return rc;
}
