/* cmd_train.c - `logify train`: the prototype's training notebook as a
 * command (the work is in src/model/train.c). */
#include <getopt.h>
#include <limits.h>
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
    "  --encoder SPEC         default: hash:text=1 for logreg (masked tokens keep their\n"
    "                         text), hash:text=1,pos=3,hdr=1 for svm (and the first and\n"
    "                         last 3 tokens their place, a line's header apart);\n"
    "                         hash:dim=N,seed=S,text=0|1,pos=N,hdr=0|1,path=0|1,\n"
    "                         or sbert:DIR\n"
    "  --quantize Q           int8 or none (default): the sbert encoder runs its\n"
    "                         projections in int8 (docs/bert.md, \"int8\")\n"
    "  --seed N               seed of the stratified train/test split (default 42)\n"
    "  --test-fraction F      share of each label held out for the test report (0.2)\n"
    "  --min-label-rows N     labels with fewer rows are left to other stages (1: every\n"
    "                         label is learned; what is set aside is listed on stderr)\n"
    "  --classifier K         auto (default: logreg up to 32 labels, else svm), logreg\n"
    "                         (multinomial logistic regression) or svm (one-vs-rest\n"
    "                         linear SVM over the nearest classes)\n"
    "  --C X                  inverse L2 strength (svm 100, logreg 10)\n"
    "  --feature-weights W    auto (default: purity for svm, none for logreg),\n"
    "                         purity (features that recur in every line of a label\n"
    "                         weigh most), idf or none; fitted on the training lines,\n"
    "                         stored in the bundle\n"
    "  --source-feature S     auto (default: on for svm with feature weights when the\n"
    "                         rows name 2+ sources), on or off: the source column as\n"
    "                         one more feature (lines two systems share)\n"
    "  --candidates N         svm: classes scored per line (64)\n"
    "  --threads N            svm: classes trained, candidates searched and report lines\n"
    "                         predicted at once (2; same result for any N)\n"
    "  --threshold X          answer threshold recorded in the bundle (0.5)\n"
    "  --unknown-threshold X  open set, recorded in the bundle: a line whose best\n"
    "                         similarity to a class centroid is lower is passed on\n"
    "                         (default: min(0.5, held-out 1st percentile - 0.05))\n"
    "  --config FILE          configuration (routes, rules) used to set rows aside\n"
    "  --rules FILE           rules file (default: the built-in rules)\n"
    "  --route SRC=STAGES     override a route, as in 'logify classify'\n"
    "  --json                 print the figures as one JSON object\n"
    "  --no-progress          no progress line (drawn on stderr only when it is a terminal)\n";

/* CPU seconds of the whole process (the dev machines are shared: wall time
 * includes the neighbours). */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double fit_seconds(const lg_train_result *r, int final) {
    if (r->kind == LG_CLF_SVM) return final ? r->svm_final.seconds : r->svm_split.seconds;
    return final ? r->final_fit.seconds : r->split_fit.seconds;
}

static void print_text(const lg_train_result *r, const lg_train_opts *o, const char *data,
                       const char *out, double secs) {
    printf("data: %s, %zu rows\n", data, r->rows);
    printf("  decided by rules:     %zu\n", r->by_rules);
    printf("  routed to the LLM:    %zu\n", r->to_llm);
    if (r->no_model) printf("  no model stage:       %zu\n", r->no_model);
    if (r->rare_labels)
        printf("  rare labels set aside: %zu (%zu rows, < %zu rows each)\n", r->rare_labels,
               r->rare_rows, o->min_label_rows);
    printf("  training rows:        %zu (%zu labels), encoder %s, classifier %s\n", r->used,
           r->bundle->n_labels, r->bundle->encoder_spec,
           r->kind == LG_CLF_SVM ? "ovr_linear_svm" : "multinomial_logreg");
    printf("split (stratified, seed %llu): train %zu, test %zu\n", (unsigned long long)o->seed,
           r->train_rows, r->test_rows);
    printf("\ntrain:\n");
    lg_report_print(&r->train, stdout, "  ");
    printf("\ntest:\n");
    lg_report_print(&r->test, stdout, "  ");
    printf("\naccuracy gap (train - test): %.4f\n",
           lg_report_accuracy(&r->train) - lg_report_accuracy(&r->test));
    json_t *os = json_object_get(r->figures, "open_set");
    if (json_object_get(os, "held_out_share_below"))
        printf("open set: %lld of %zu held-out rows below the unknown threshold %.2f\n",
               (long long)json_integer_value(json_object_get(os, "held_out_below_threshold")),
               r->test_rows, r->bundle->unknown_threshold);
    if (r->kind == LG_CLF_SVM)
        printf("refit on all %zu rows: %zu (row, class) pairs, %.1f epochs a class on average\n",
               r->used, r->svm_final.pairs, r->svm_final.mean_epochs);
    else
        printf("refit on all %zu rows: %d iterations, %s\n", r->used, r->final_fit.iterations,
               r->final_fit.status_text);
    printf("time: encode %.3f s, fit %.3f s, refit %.3f s, total %.3f s (CPU %.3f s)\n",
           r->encode_seconds, fit_seconds(r, 0), fit_seconds(r, 1), secs, cpu_seconds());
    printf("wrote %s (%s, %s, %s)\n", out, LG_BUNDLE_META, LG_BUNDLE_WEIGHTS,
           LG_BUNDLE_CENTROIDS);
}

/* Labels set aside are said on stderr every time: count and first names. */
static void print_set_aside(const lg_train_result *r, const lg_train_opts *o) {
    if (!r->rare_labels) return;
    json_t *rare = json_object_get(r->figures, "rare_labels");
    fprintf(stderr, "logify: train: %zu label(s) with fewer than %zu rows set aside (%zu rows):",
            r->rare_labels, o->min_label_rows, r->rare_rows);
    for (size_t i = 0; i < json_array_size(rare) && i < 5; i++)
        fprintf(stderr, "%s %s (%lld)", i ? "," : "",
                json_string_value(json_object_get(json_array_get(rare, i), "label")),
                (long long)json_integer_value(json_object_get(json_array_get(rare, i), "rows")));
    fprintf(stderr, "%s\n", r->rare_labels > 5 ? ", ..." : "");
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
        O_JSON,
        O_CLF,
        O_UNK,
        O_CAND,
        O_THREADS,
        O_FW,
        O_SRC
    };
    static const struct option longopts[] = {{"data", required_argument, 0, O_DATA},
                                             {"out", required_argument, 0, O_OUT},
                                             {"encoder", required_argument, 0, O_ENC},
                                             {"seed", required_argument, 0, O_SEED},
                                             {"test-fraction", required_argument, 0, O_FRAC},
                                             {"min-label-rows", required_argument, 0, O_MIN},
                                             {"C", required_argument, 0, O_C},
                                             {"threshold", required_argument, 0, O_THRESH},
                                             {"classifier", required_argument, 0, O_CLF},
                                             {"unknown-threshold", required_argument, 0, O_UNK},
                                             {"candidates", required_argument, 0, O_CAND},
                                             {"threads", required_argument, 0, O_THREADS},
                                             {"feature-weights", required_argument, 0, O_FW},
                                             {"source-feature", required_argument, 0, O_SRC},
                                             CLI_OPT_CONFIG,
                                             CLI_OPT_RULES,
                                             CLI_OPT_ROUTE,
                                             {"json", no_argument, 0, O_JSON},
                                             CLI_OPT_NO_PROGRESS,
                                             CLI_OPT_QUANTIZE,
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    lg_train_opts o;
    lg_train_opts_default(&o);
    const char *data = NULL, *out = NULL;
    int json = 0, no_progress = 0, c;
    o.svm.threads = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_DATA: data = optarg; break;
        case O_OUT: out = optarg; break;
        case O_ENC: o.encoder_spec = optarg; break;
        case CLI_O_QUANTIZE:
            if (cli_quantize_option(optarg, "train", usage_text)) return CLI_USAGE;
            break;
        case O_SEED: {
            long v;
            if (cli_parse_long(optarg, 0, LONG_MAX, &v))
                return cli_usage_error(usage_text, "train: --seed must be a non-negative integer");
            o.seed = (uint64_t)v;
            break;
        }
        case O_FRAC:
            if (cli_parse_double(optarg, &o.test_fraction) ||
                !(o.test_fraction > 0 && o.test_fraction < 1))
                return cli_usage_error(usage_text, "train: --test-fraction must be in (0, 1)");
            break;
        case O_MIN: {
            long v;
            if (cli_parse_long(optarg, 1, 1000000, &v))
                return cli_usage_error(usage_text, "train: --min-label-rows must be 1..1000000");
            o.min_label_rows = (size_t)v;
            break;
        }
        case O_C:
            if (cli_parse_double(optarg, &o.lr.C) || !(o.lr.C > 0 && o.lr.C < 1e12))
                return cli_usage_error(usage_text, "train: --C must be a positive number");
            o.svm.C = o.lr.C;
            break;
        case O_CLF:
            if (strcmp(optarg, "auto") && strcmp(optarg, "logreg") && strcmp(optarg, "svm"))
                return cli_usage_error(usage_text, "train: --classifier must be auto, logreg or svm");
            o.classifier = optarg;
            break;
        case O_FW:
            if (strcmp(optarg, "auto") && strcmp(optarg, "idf") && strcmp(optarg, "none") &&
                strcmp(optarg, "purity"))
                return cli_usage_error(usage_text,
                                       "train: --feature-weights must be auto, purity, idf or none");
            o.feature_weights = optarg;
            break;
        case O_SRC:
            if (strcmp(optarg, "auto") && strcmp(optarg, "on") && strcmp(optarg, "off"))
                return cli_usage_error(usage_text, "train: --source-feature must be auto, on or off");
            o.source_feature = optarg;
            break;
        case O_UNK:
            if (cli_parse_double(optarg, &o.unknown_threshold) ||
                !(o.unknown_threshold >= 0 && o.unknown_threshold <= 1))
                return cli_usage_error(usage_text, "train: --unknown-threshold must be in [0, 1]");
            break;
        case O_CAND: {
            long v;
            if (cli_parse_long(optarg, 1, 100000, &v))
                return cli_usage_error(usage_text, "train: --candidates must be 1..100000");
            o.svm.candidates = (size_t)v;
            break;
        }
        case O_THREADS: {
            long v;
            if (cli_parse_long(optarg, 1, 64, &v))
                return cli_usage_error(usage_text, "train: --threads must be 1..64");
            o.svm.threads = (int)v;
            break;
        }
        case O_THRESH:
            if (cli_parse_double(optarg, &o.threshold) || !(o.threshold >= 0 && o.threshold <= 1))
                return cli_usage_error(usage_text, "train: --threshold must be in [0, 1]");
            break;
        case CLI_O_CONFIG:
        case CLI_O_RULES:
        case CLI_O_ROUTE:
            if (cli_pipeline_option(c, optarg, &po, "train", usage_text)) return CLI_USAGE;
            break;
        case O_JSON: json = 1; break;
        case CLI_O_NO_PROGRESS: no_progress = 1; break;
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
    lg_errmsg err = {{0}};
    lg_rules *rules = NULL;
    lg_dataset ds = {0};
    lg_train_result res = {0};
    lg_progress *prog = NULL;
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
    prog = cli_progress_start("train", no_progress, 0);
    lg_progress_phase(prog, "reading", "rows", 0, cli_path_size(data));
    if (lg_dataset_load_progress(data, prog, &ds, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    const char *base = strrchr(data, '/');
    o.data_name = base ? base + 1 : data;
    o.rules = rules;
    o.routes = &cfg.routes;
    o.progress = prog;
    if (lg_train_run(&ds, &o, &res, &err)) {
        cli_error("train: %s", err.msg);
        goto done;
    }
    cli_progress_end(prog);
    prog = NULL;
    print_set_aside(&res, &o);
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
                                          "fit", fit_seconds(&res, 0), "refit",
                                          fit_seconds(&res, 1), "total", secs, "cpu_total",
                                          cpu_seconds()));
        }
        if (cli_print_json(j) != CLI_OK) goto done;
    } else {
        print_text(&res, &o, data, out, secs);
    }
    rc = CLI_OK;
done:
    cli_progress_end(prog);
    lg_train_result_free(&res);
    lg_dataset_free(&ds);
    lg_rules_free(rules);
    lg_config_free(&cfg);
    return rc;
}
