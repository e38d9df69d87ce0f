/* cmd_train.c - `logify train`: the prototype's training notebook as a
 * command (the work is in src/model/train.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "logify/pipeline.h"
#include "logify/train.h"

static const char usage_text[] =
    "usage: logify train --data CSV --out DIR [options]\n"
    "  --data CSV             labeled data: columns source, log_message, target_label\n"
    "  --out DIR              write the model bundle here (meta.json, weights.bin)\n"
    "  --encoder SPEC         hash (default), hash:dim=N,seed=S, or sbert:DIR\n"
    "  --seed N               seed of the stratified train/test split (default 42)\n"
    "  --test-fraction F      share of each label held out for the test report (0.2)\n"
    "  --min-label-rows N     labels with fewer rows are left to other stages (10)\n"
    "  --C X                  inverse L2 strength of the logistic regression (10)\n"
    "  --threshold X          answer threshold recorded in the bundle (0.5)\n"
    "  --config FILE          configuration (routes, rules) used to set rows aside\n"
    "  --rules FILE           rules file (default: the built-in rules)\n"
    "  --route SRC=STAGES     override a route, as in 'logify classify'\n"
    "  --json                 print the figures as one JSON object\n";

/* CPU seconds of the whole process (the dev machines are shared: wall time
 * includes the neighbours). */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void print_text(const lg_train_result *r, const lg_train_opts *o, const char *data,
                       const char *out, double secs) {
    printf("data: %s, %zu rows\n", data, r->rows);
    printf("  decided by rules:     %zu\n", r->by_rules);
    printf("  routed to the LLM:    %zu\n", r->to_llm);
    if (r->no_model) printf("  no model stage:       %zu\n", r->no_model);
    json_t *rare = json_object_get(r->figures, "rare_labels");
    if (json_array_size(rare)) {
        printf("  rare labels (< %zu rows, left to other stages):", o->min_label_rows);
        for (size_t i = 0; i < json_array_size(rare); i++) {
            json_t *x = json_array_get(rare, i);
            printf("%s %s (%lld)", i ? "," : "", json_string_value(json_object_get(x, "label")),
                   (long long)json_integer_value(json_object_get(x, "rows")));
        }
        printf("\n");
    }
    printf("  training rows:        %zu (%zu labels), encoder %s\n", r->used, r->bundle->n_labels,
           r->bundle->encoder_spec);
    printf("split (stratified, seed %llu): train %zu, test %zu\n", (unsigned long long)o->seed,
           r->train_rows, r->test_rows);
    printf("\ntrain:\n");
    lg_report_print(&r->train, stdout, "  ");
    printf("\ntest:\n");
    lg_report_print(&r->test, stdout, "  ");
    printf("\naccuracy gap (train - test): %.4f\n",
           lg_report_accuracy(&r->train) - lg_report_accuracy(&r->test));
    printf("refit on all %zu rows: %d iterations, %s\n", r->used, r->final_fit.iterations,
           r->final_fit.status_text);
    printf("time: encode %.3f s, fit %.3f s, refit %.3f s, total %.3f s (CPU %.3f s)\n",
           r->encode_seconds, r->split_fit.seconds, r->final_fit.seconds, secs, cpu_seconds());
    printf("wrote %s (%s, %s)\n", out, LG_BUNDLE_META, LG_BUNDLE_WEIGHTS);
}

int cmd_train(int argc, char **argv) {
    enum {
        O_DATA = 256,
        O_OUT,
        O_ENC,
        O_SEED,
        O_FRAC,
        O_MIN,
        O_C,
        O_THRESH,
        O_JSON
    };
    static const struct option longopts[] = {{"data", required_argument, 0, O_DATA},
                                             {"out", required_argument, 0, O_OUT},
                                             {"encoder", required_argument, 0, O_ENC},
                                             {"seed", required_argument, 0, O_SEED},
                                             {"test-fraction", required_argument, 0, O_FRAC},
                                             {"min-label-rows", required_argument, 0, O_MIN},
                                             {"C", required_argument, 0, O_C},
                                             {"threshold", required_argument, 0, O_THRESH},
                                             CLI_OPT_CONFIG,
                                             CLI_OPT_RULES,
                                             CLI_OPT_ROUTE,
                                             {"json", no_argument, 0, O_JSON},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    lg_train_opts o;
    lg_train_opts_default(&o);
    const char *data = NULL, *out = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_OUT: out = optarg; break;
        case O_ENC: o.encoder_spec = optarg; break;
        case O_SEED:
            o.seed = strtoull(optarg, &end, 10);
            if (*end || end == optarg || optarg[0] == '-')
                return cli_usage_error(usage_text, "train: --seed must be a non-negative integer");
            break;
        case O_FRAC:
            o.test_fraction = strtod(optarg, &end);
            if (*end || end == optarg || !(o.test_fraction > 0 && o.test_fraction < 1))
                return cli_usage_error(usage_text, "train: --test-fraction must be in (0, 1)");
            break;
        case O_MIN: {
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000)
                return cli_usage_error(usage_text, "train: --min-label-rows must be 1..1000000");
            o.min_label_rows = (size_t)v;
            break;
        }
        case O_C:
            o.lr.C = strtod(optarg, &end);
            if (*end || end == optarg || !(o.lr.C > 0 && o.lr.C < 1e12))
                return cli_usage_error(usage_text, "train: --C must be a positive number");
            break;
        case O_THRESH:
            o.threshold = strtod(optarg, &end);
            if (*end || end == optarg || !(o.threshold >= 0 && o.threshold <= 1))
                return cli_usage_error(usage_text, "train: --threshold must be in [0, 1]");
            break;
        case CLI_O_CONFIG:
        case CLI_O_RULES:
        case CLI_O_ROUTE:
            if (cli_pipeline_option(c, optarg, &po, "train", usage_text)) return CLI_USAGE;
            break;
        case O_JSON: json = 1; break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "train: unknown option");
        }
    }
    if (optind != argc)
        return cli_usage_error(usage_text, "train: unexpected argument '%s'", argv[optind]);
    if (!data || !out) return cli_usage_error(usage_text, "train: --data and --out are required");

    lg_config cfg;
    if (cli_build_config(&po, &cfg) != CLI_OK) return CLI_FAIL;
    int rc = CLI_FAIL;
    lg_errmsg err;
    lg_rules *rules = NULL;
    lg_dataset ds = {0};
    lg_train_result res = {0};
    double t0 = lg_now();
    lg_err e;
    if (cfg.rules_path) {
        e = lg_rules_load(cfg.rules_path, NULL, &rules, &err);
    } else {
        size_t len;
        const char *text = lg_default_rules_text(&len);
        e = lg_rules_parse(text, len, "built-in rules/default.yaml", NULL, &rules, &err);
    }
    if (e) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (lg_dataset_load(data, &ds, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    const char *base = strrchr(data, '/');
    o.data_name = base ? base + 1 : data;
    o.rules = rules;
    o.routes = &cfg.routes;
    if (lg_train_run(&ds, &o, &res, &err)) {
        cli_error("train: %s", err.msg);
        goto done;
    }
    if (lg_bundle_write(out, res.bundle, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    double secs = lg_now() - t0;
    if (json) {
        json_t *j = json_deep_copy(res.figures);
        if (j) {
            json_object_set_new(j, "out", json_string(out));
            json_object_set_new(j, "seconds",
                                json_pack("{s:f, s:f, s:f, s:f, s:f}", "encode", res.encode_seconds,
                                          "fit", res.split_fit.seconds, "refit",
                                          res.final_fit.seconds, "total", secs, "cpu_total",
                                          cpu_seconds()));
        }
        if (cli_print_json(j) != CLI_OK) goto done;
    } else {
        print_text(&res, &o, data, out, secs);
    }
    rc = CLI_OK;
done:
    lg_train_result_free(&res);
    lg_dataset_free(&ds);
    lg_rules_free(rules);
    lg_config_free(&cfg);
    return rc;
}
