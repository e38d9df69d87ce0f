/* cmd_eval.c - `logify eval`: run the whole cascade over a labeled CSV and
 * report accuracy per label, per stage, and why rows stayed Unclassified. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "logify/confusion.h"
#include "logify/eval.h"
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
    "  --quantize Q           int8 or none (default): a bundle's sbert encoder runs its\n"
    "                         projections in int8 (docs/bert.md, \"int8\")\n"
    "  --json                 print one JSON object (rows, accuracy, macro_f1,\n"
    "                         per_label, per_stage, unclassified, confusion)\n"
    "  --plot FILE.svg        write the confusion matrix and per-label precision,\n"
    "                         recall and F1 as one SVG\n"
    "  --no-progress          no progress line (drawn on stderr only when it is a terminal)\n";

static double ratio(uint64_t a, uint64_t b) { return b ? (double)a / (double)b : 0.0; }

static void print_text(const char *data, const lg_report *rep, const lg_eval *c,
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

/* --plot: the SVG (logify/evalplot.h), written atomically. */
static int write_plot(const char *path, const char *data, const lg_report *rep,
                      const lg_confusion *cm) {
    lg_buf b;
    lg_buf_init(&b, (size_t)256 << 20);
    lg_errmsg err = {{0}};
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
                                             CLI_OPT_QUANTIZE,
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
        case CLI_O_QUANTIZE:
            if (cli_quantize_option(optarg, "eval", usage_text)) return CLI_USAGE;
            break;
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
    lg_errmsg err = {{0}};
    lg_resources res;
    lg_pipeline *pl = NULL;
    lg_worker *w = NULL;
    lg_dataset ds = {0};
    lg_eval ev;
    lg_eval_init(&ev);
    lg_progress *prog = NULL;
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
    lg_progress_phase(prog, "classifying", "rows", ds.n, 0);
    if (lg_eval_rows(&ev, pl, w, res.model, ds.rows, ds.n, prog, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    cli_progress_end(prog);
    prog = NULL;
    if (plot && write_plot(plot, data, &ev.rep, &ev.cm) != CLI_OK) goto done;
    if (json) {
        if (cli_print_json(lg_eval_json(&ev, model_desc)) != CLI_OK) goto done;
    } else {
        print_text(data, &ev.rep, &ev, model_desc);
    }
    cli_llm_failures(res.llm, 0);
    rc = CLI_OK;
done:
    cli_progress_end(prog);
    lg_eval_clear(&ev);
    lg_worker_free(w);
    lg_pipeline_free(pl);
    lg_resources_free(&res);
    lg_dataset_free(&ds);
    lg_config_free(&cfg);
    return rc;
}
