/* cmd_kafka.c - `logify kafka`: a consumer-group worker (docs/kafka.md).
 * Loads the pipeline set (live.h), then runs the worker on a thread of its
 * own until SIGTERM/SIGINT: stop fetching, finish and commit what is in
 * flight, leave the group, exit 0. SIGHUP reloads the rules, model, routes
 * and LLM settings (docs/reload.md): the next batch takes the new set, the
 * batches in flight finish on theirs; a set that does not load is refused
 * and the old one stays. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_signals.h"
#include "logify/kafka.h"
#include "logify/live.h"
#include "logify/pipeline.h"
#include "logify/templates.h"

static const char usage_text[] =
    "usage: logify kafka --brokers HOST:PORT[,..] --group G --input TOPIC --output TOPIC [options]\n"
    "      --brokers LIST      the Kafka cluster's bootstrap brokers\n"
    "      --group G           consumer group: the workers of a group share the input's partitions\n"
    "      --input TOPIC       topic to read: JSON objects, or plain text with --source\n"
    "      --output TOPIC      topic to write (it must exist): the input object plus target_label;\n"
    "                          input partition p goes to output partition p mod its partition count\n"
    "      --dead-letter TOPIC bad messages (invalid JSON or UTF-8, a missing field, too big) go\n"
    "                          here as they were, the reason in header logify-error (default:\n"
    "                          to the output, labelled Unclassified, with the reason in error)\n"
    "      --exactly-once      Kafka transactions, the input offsets committed in them (default:\n"
    "                          at-least-once: offsets committed once the outputs are acknowledged)\n"
    "      --transactional-id ID  with --exactly-once (default logify-GROUP-HOST-PID)\n"
    "      --explain           add stage, confidence, detail and template_id\n"
    "      --source NAME       the values are plain text lines of source NAME\n"
    "      --source-field F    JSON field holding the source (default source)\n"
    "      --message-field F   JSON field holding the log message (default log_message)\n"
    "      --batch N           messages per batch at most (default 1024)\n"
    "      --threads N         classifying threads (default: the cores, at most 16; 1 with\n"
    "                          --explain, whose template ids come from one miner)\n"
    "      --max-value SIZE    longer values are bad messages (default 512K)\n"
    "      --grace S           on SIGTERM, seconds to finish what is in flight (default 30)\n"
    "      --metrics-port N    Prometheus metrics at http://127.0.0.1:N/metrics (0: a free port)\n"
    "      --metrics-all       serve the metrics on every address, not only 127.0.0.1\n"
    "  -X, --property K=V      a librdkafka property for both clients; consumer.K=V or\n"
    "                          producer.K=V for one (e.g. -X security.protocol=ssl)\n"
    "      --config FILE       configuration file (routes, rules, model, llm, and a kafka:\n"
    "                          section with these settings: the flags win)\n"
    "      --rules FILE        rules file (default: the built-in rules)\n"
    "      --model DIR         model bundle (default: models/default)\n"
    "      --route SRC=STAGES  route rows of source SRC (or *) through STAGES\n"
    "      --threshold X       default model threshold (default 0.5)\n"
    "      --quiet             only warnings and errors on stderr\n"
    "SIGHUP reloads the rules, model, routes and LLM settings from the same files and\n"
    "options; a set that does not load is refused and the old one stays (docs/reload.md).\n";

/* ---- Signals ---------------------------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP reach the main thread through the self-pipe
 * of cli_signals.c; the worker's thread wakes it when it is done. */

typedef struct {
    lg_kafka_worker *w;
    lg_err e;
    lg_errmsg err;
} worker_job;

static void *worker_main(void *arg) {
    worker_job *j = arg;
    j->e = lg_kafka_worker_run(j->w, &j->err);
    cli_signals_wake();
    return NULL;
}

/* ---- The config file's kafka: section ---------------------------------------- */

/* Fills what the command line left unset from the config file's kafka:
 * section (the flags win; the file's -X properties come first, so that the
 * command line's override them), then checks the whole. */
static int merge_file(const lg_config *cfg, lg_kafka_opts *ko, int *metrics_port, char *mem[2]) {
    lg_kafka_opts fo;
    memset(&fo, 0, sizeof fo);
    int file_port = -1;
    lg_errmsg err = {{0}};
    if (lg_kafka_opts_from_config(cfg, &fo, &file_port, mem, &err)) return cli_error("%s", err.msg);
#define FROM_FILE(f) \
    if (!ko->f) ko->f = fo.f
    FROM_FILE(brokers);
    FROM_FILE(group);
    FROM_FILE(input);
    FROM_FILE(output);
    FROM_FILE(dead_letter);
    FROM_FILE(source);
    FROM_FILE(source_field);
    FROM_FILE(message_field);
    FROM_FILE(explain);
    FROM_FILE(exactly_once);
    FROM_FILE(transactional_id);
    FROM_FILE(batch_max);
    FROM_FILE(threads);
    FROM_FILE(max_value);
#undef FROM_FILE
    if (ko->grace_seconds <= 0) ko->grace_seconds = fo.grace_seconds;
    if (*metrics_port < 0) *metrics_port = file_port;
    if (fo.n_props + ko->n_props > LG_KAFKA_MAX_PROPS)
        return cli_usage_error(usage_text, "kafka: more than %d properties (-X and the config file's)",
                               LG_KAFKA_MAX_PROPS);
    memmove(ko->props + fo.n_props, ko->props, ko->n_props * sizeof *ko->props);
    memcpy(ko->props, fo.props, fo.n_props * sizeof *ko->props);
    ko->n_props += fo.n_props;
    if (!ko->brokers || !ko->group || !ko->input || !ko->output)
        return cli_usage_error(usage_text, "kafka: --brokers, --group, --input and --output are required "
                                           "(or brokers, group, input and output in the config file's kafka: section)");
    if (ko->transactional_id && !ko->exactly_once)
        return cli_usage_error(usage_text, "kafka: --transactional-id goes with --exactly-once");
    if (ko->source && (ko->source_field || ko->message_field))
        return cli_usage_error(usage_text, "kafka: --source (plain text) takes no --source-field/--message-field");
    return CLI_OK;
}

int cmd_kafka(int argc, char **argv) {
    enum { O_BROKERS = 256, O_GROUP, O_INPUT, O_OUTPUT, O_DEAD, O_EOS, O_TXID, O_EXPLAIN, O_SOURCE,
           O_SFIELD, O_MFIELD, O_BATCH, O_THREADS, O_MAXVAL, O_GRACE, O_MPORT, O_MALL, O_QUIET };
    static const struct option longopts[] = {
        {"brokers", required_argument, 0, O_BROKERS}, {"group", required_argument, 0, O_GROUP},
        {"input", required_argument, 0, O_INPUT}, {"output", required_argument, 0, O_OUTPUT},
        {"dead-letter", required_argument, 0, O_DEAD}, {"exactly-once", no_argument, 0, O_EOS},
        {"transactional-id", required_argument, 0, O_TXID}, {"explain", no_argument, 0, O_EXPLAIN},
        {"source", required_argument, 0, O_SOURCE}, {"source-field", required_argument, 0, O_SFIELD},
        {"message-field", required_argument, 0, O_MFIELD}, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS},
        {"max-value", required_argument, 0, O_MAXVAL}, {"grace", required_argument, 0, O_GRACE},
        {"metrics-port", required_argument, 0, O_MPORT}, {"metrics-all", no_argument, 0, O_MALL},
        {"property", required_argument, 0, 'X'}, {"quiet", no_argument, 0, O_QUIET},
        CLI_OPT_CONFIG, CLI_OPT_RULES, CLI_OPT_MODEL, CLI_OPT_ROUTE, CLI_OPT_THRESHOLD,
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    lg_kafka_opts ko = {0};
    int metrics_port = -1, metrics_all = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "X:h", longopts, NULL)) != -1) {
        switch (c) {
        case O_BROKERS: ko.brokers = optarg; break;
        case O_GROUP: ko.group = optarg; break;
        case O_INPUT: ko.input = optarg; break;
        case O_OUTPUT: ko.output = optarg; break;
        case O_DEAD: ko.dead_letter = optarg; break;
        case O_EOS: ko.exactly_once = 1; break;
        case O_TXID: ko.transactional_id = optarg; break;
        case O_EXPLAIN: ko.explain = 1; break;
        case O_SOURCE: ko.source = optarg; break;
        case O_SFIELD: ko.source_field = optarg; break;
        case O_MFIELD: ko.message_field = optarg; break;
        case O_BATCH: {
            long v;
            if (cli_parse_long(optarg, 1, 100000, &v)) return cli_usage_error(usage_text, "kafka: --batch must be 1..100000");
            ko.batch_max = (size_t)v;
            break;
        }
        case O_THREADS: {
            long v;
            if (cli_parse_long(optarg, 1, 64, &v)) return cli_usage_error(usage_text, "kafka: --threads must be 1..64");
            ko.threads = (int)v;
            break;
        }
        case O_MAXVAL:
            if (lg_parse_size(optarg, &ko.max_value) || ko.max_value < 1 || ko.max_value > (256u << 20))
                return cli_usage_error(usage_text, "kafka: --max-value must be a size such as 512K (at most 256M)");
            break;
        case O_GRACE:
            if (cli_parse_double(optarg, &ko.grace_seconds) || ko.grace_seconds <= 0 ||
                ko.grace_seconds > 86400)
                return cli_usage_error(usage_text, "kafka: --grace must be a number of seconds in (0, 86400]");
            break;
        case O_MPORT: {
            long v;
            if (cli_parse_long(optarg, 0, 65535, &v))
                return cli_usage_error(usage_text, "kafka: --metrics-port must be 0..65535");
            metrics_port = (int)v;
            break;
        }
        case O_MALL: metrics_all = 1; break;
        case 'X':
            if (ko.n_props == LG_KAFKA_MAX_PROPS)
                return cli_usage_error(usage_text, "kafka: at most %d -X properties", LG_KAFKA_MAX_PROPS);
            if (!strchr(optarg, '=') || *optarg == '=')
                return cli_usage_error(usage_text, "kafka: -X takes KEY=VALUE, not '%s'", optarg);
            ko.props[ko.n_props++] = optarg;
            break;
        case O_QUIET: quiet = 1; break;
        CLI_PIPELINE_CASES:
            if (cli_pipeline_option(c, optarg, &po, "kafka", usage_text)) return CLI_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "kafka: unknown option");
        }
    }
    if (optind != argc) return cli_usage_error(usage_text, "kafka: unexpected argument '%s'", argv[optind]);
    if (!quiet) lg_log_set_level(LG_LOG_INFO);

    lg_config cfg;
    if (cli_build_config(&po, &cfg) != CLI_OK) return CLI_FAIL;
    char *file_mem[2] = {NULL, NULL};
    int mrc = merge_file(&cfg, &ko, &metrics_port, file_mem);
    if (mrc != CLI_OK) {
        free(file_mem[0]);
        free(file_mem[1]);
        lg_config_free(&cfg);
        return mrc;
    }
    int rc = CLI_FAIL;
    lg_errmsg err = {{0}};
    lg_live *live = NULL;
    lg_kafka_worker *w = NULL;
    lg_kafka_metrics_server *ms = NULL;
    /* from here a signal waits in the pipe: one during the first load is
     * acted on once the worker runs */
    if (cli_signals_open()) {
        lg_config_free(&cfg);
        return cli_error("pipe: %s", strerror(errno));
    }
    signal(SIGPIPE, SIG_IGN);
    lg_pset_source src = cli_pset_source(&po); /* the first set and every reload */
    if (lg_live_new(&src, &live, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    ko.live = live;
    if (ko.explain && lg_tpl_miner_new(NULL, &ko.templates, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (lg_kafka_worker_new(&ko, &w, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (metrics_port >= 0) {
        int port = 0;
        if (lg_kafka_metrics_serve(w, metrics_port, metrics_all, &ms, &port, &err)) {
            cli_error("%s", err.msg);
            goto done;
        }
        fprintf(stderr, "logify: kafka: metrics on http://%s:%d/metrics\n", metrics_all ? "0.0.0.0" : "127.0.0.1",
                port);
        fflush(stderr);
    }
    /* the worker runs on a thread of its own; this one takes the signals */
    worker_job job = {.w = w};
    pthread_t tid;
    if (pthread_create(&tid, NULL, worker_main, &job)) {
        cli_error("cannot start the worker's thread");
        goto done;
    }
    int sig, stopping = 0;
    while ((sig = cli_signals_next()) != 0) {
        if (sig == SIGHUP) {
            /* lg_live_reload logs the outcome (a refusal as an ERROR line,
             * so even with --quiet); the generation in use is printed
             * either way. Batches in flight finish on the set they began
             * with; the next batch takes the new one. */
            fprintf(stderr, "logify: SIGHUP: reloading\n");
            fflush(stderr);
            lg_err e = lg_live_reload(live, NULL, NULL);
            fprintf(stderr, "logify: SIGHUP: %s; generation %llu in use\n", e ? "reload refused" : "reloaded",
                    (unsigned long long)lg_live_generation(live));
            fflush(stderr);
        } else if (!stopping) {
            stopping = 1;
            lg_kafka_worker_stop(w);
        }
    }
    pthread_join(tid, NULL);
    if (job.e) {
        cli_error("%s", job.err.msg);
        goto done;
    }
    lg_log(LG_LOG_INFO, "kafka: stopped");
    rc = CLI_OK;
done:
    cli_signals_close();
    lg_kafka_metrics_server_free(ms);
    lg_kafka_worker_free(w);
    lg_tpl_miner_free(ko.templates);
    lg_live_free(live);
    lg_config_free(&cfg);
    free(file_mem[0]);
    free(file_mem[1]);
    return rc;
}
