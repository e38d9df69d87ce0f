/* cmd_classify.c - `logify classify`: label a CSV file or stdin. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logify/job.h"
#include "logify/pipeline.h"
#include "logify/templates.h"

static const char usage_text[] =
    "usage: logify classify INPUT.csv|- [options]\n"
    "  -o, --output FILE      write here instead of stdout: a regular file atomically\n"
    "                         (mode and owner kept), a device or FIFO as a stream\n"
    "      --format csv|jsonl output format (default csv)\n"
    "      --explain          add stage, confidence, detail and template_id columns\n"
    "      --templates        add template_id: each row's log template\n"
    "                         (the miner of `logify templates`, docs/templates.md)\n"
    "      --on-error fail|skip  a malformed row stops the run (default) or is\n"
    "                         skipped and reported on stderr with its line\n"
    "      --config FILE      configuration file (routes, rules, model, llm)\n"
    "      --rules FILE       rules file (default: the built-in rules)\n"
    "      --model DIR        model bundle (default: models/default)\n"
    "      --route SRC=STAGES route rows of source SRC (or *) through STAGES,\n"
    "                         e.g. '*=rules,model:0.6' or 'LegacyCRM=llm'\n"
    "      --threshold X      default model threshold (default 0.5)\n"
    "      --batch N          rows per batch (default 1024)\n"
    "      --threads N        threads in all: one parses, N-1 classify and write\n"
    "                         (1: everything on one; default: cores + 1, at most 17)\n"
    "      --summary          print counts by stage and label to stderr\n"
    "      --stats            also print where the time went\n"
    "      --quantize Q       int8 or none (default): a bundle's sbert encoder runs its\n"
    "                         projections in int8 (docs/bert.md, \"int8\")\n"
    "      --llm-constrain M  auto|schema|grammar|json|none: how llm answers are kept\n"
    "                         to the allowed labels (docs/llm.md)\n"
    "      --no-progress      no progress line (drawn on stderr only when it is a\n"
    "                         terminal and the rows do not go to one)\n"
    "Reading a pipe or a terminal (e.g. tail -f app.csv | logify classify -), rows\n"
    "that have waited 0.2 s with no more input are classified and written at once.\n";

#define LIVE_FLUSH_MS 200

typedef struct {
    FILE *f;
    int live;         /* flush every write: a reader downstream waits for each row */
    const char *name; /* for messages: the -o path, or "stdout" */
    int failed;       /* a write failed: the message names the output, not the input */
} file_sink;

static lg_err sink_file(void *user, const char *data, size_t len, lg_errmsg *err) {
    file_sink *s = user;
    if (fwrite(data, 1, len, s->f) != len || (s->live && fflush(s->f))) {
        s->failed = 1;
        return lg_fail(err, LG_EIO, "%s: write failed: %s", s->name, strerror(errno));
    }
    return LG_OK;
}

/* Reads a pipe or a terminal as it comes (fread would wait for a whole
 * buffer): rows that have waited LIVE_FLUSH_MS with no more input behind
 * them are classified and written without waiting for a full batch. */
static lg_err read_live(lg_job *job, int fd, char *buf, size_t cap, lg_progress *prog,
                        lg_errmsg *err) {
    int pending = 0;
    for (;;) {
        if (pending) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = poll(&p, 1, LIVE_FLUSH_MS);
            if (r < 0 && errno == EINTR) continue;
            if (r == 0) {
                lg_err e = lg_job_flush(job, err);
                if (e) return e;
                pending = 0;
                continue;
            }
        }
        ssize_t n = read(fd, buf, cap);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return lg_fail(err, LG_EIO, "reading: %s", strerror(errno));
        if (n == 0) return LG_OK;
        lg_err e = lg_job_feed(job, buf, (size_t)n, err);
        if (e) return e;
        lg_progress_set(prog, lg_job_rows_read(job), 0);
        pending = 1;
    }
}

static void on_skip(void *user, uint64_t line, const char *msg) {
    (void)user;
    cli_note("logify: warning: line %llu skipped: %s\n", (unsigned long long)line, msg);
}

static void print_summary(const lg_job_stats *st, double secs, int with_times) {
    fprintf(stderr, "logify: %llu rows in %.3f s (%.0f rows/s)", (unsigned long long)st->rows, secs,
            secs > 0 ? (double)st->rows / secs : 0.0);
    if (st->skipped) /* the lines are in the warnings above */
        fprintf(stderr, "; %llu rows read = %llu written + %llu malformed skipped",
                (unsigned long long)st->rows_read, (unsigned long long)st->rows,
                (unsigned long long)st->skipped);
    if (st->new_templates) fprintf(stderr, ", %llu templates", (unsigned long long)st->new_templates);
    fprintf(stderr, "\n  by stage:");
    for (int k = 1; k < LG_STAGE_KINDS; k++)
        fprintf(stderr, " %s %llu,", lg_stage_kind_name((lg_stage_kind)k),
                (unsigned long long)st->decided[k]);
    fprintf(stderr, " unclassified %llu\n  by label:", (unsigned long long)st->decided[0]);
    for (size_t i = 0; i < st->n_labels; i++)
        fprintf(stderr, "%s %s %llu", i ? "," : "", st->labels[i], (unsigned long long)st->label_rows[i]);
    fputc('\n', stderr);
    if (with_times) {
        fprintf(stderr, "  time: parse %.3f s", st->parse_seconds > 0 ? st->parse_seconds : 0.0);
        for (int k = 1; k < LG_STAGE_KINDS; k++)
            fprintf(stderr, ", %s %.3f s", lg_stage_kind_name((lg_stage_kind)k), st->stage_seconds[k]);
        fprintf(stderr, ", write %.3f s\n", st->write_seconds);
    }
}

int cmd_classify(int argc, char **argv) {
    enum { O_FORMAT = 256, O_EXPLAIN, O_ONERR, O_BATCH, O_THREADS, O_SUMMARY, O_STATS, O_TEMPLATES,
           O_CONSTRAIN };
    lg_progress *prog = NULL;
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, O_FORMAT},
        {"explain", no_argument, 0, O_EXPLAIN}, {"templates", no_argument, 0, O_TEMPLATES}, {"on-error", required_argument, 0, O_ONERR},
        CLI_OPT_CONFIG, CLI_OPT_RULES,
        CLI_OPT_MODEL, CLI_OPT_ROUTE,
        CLI_OPT_THRESHOLD, {"batch", required_argument, 0, O_BATCH},
        {"threads", required_argument, 0, O_THREADS}, {"summary", no_argument, 0, O_SUMMARY},
        {"stats", no_argument, 0, O_STATS}, {"llm-constrain", required_argument, 0, O_CONSTRAIN}, CLI_OPT_NO_PROGRESS, CLI_OPT_QUANTIZE,
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_pipeline_opts po = {0};
    po.threshold = -1;
    const char *output = NULL;
    lg_job_opts jo = {0};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    jo.threads = (int)(cores < 1 ? 1 : cores > 16 ? 16 : cores) + 1;
    int summary = 0, stats = 0, templates = 0, no_progress = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case O_FORMAT:
            if (!strcmp(optarg, "csv")) jo.format = LG_OUT_CSV;
            else if (!strcmp(optarg, "jsonl")) jo.format = LG_OUT_JSONL;
            else return cli_usage_error(usage_text, "classify: --format must be csv or jsonl");
            break;
        case O_EXPLAIN: jo.explain = templates = 1; break; /* issue 17: --explain carries template_id */
        case O_TEMPLATES: templates = 1; break;
        case O_ONERR:
            if (!strcmp(optarg, "skip")) jo.skip_bad = 1;
            else if (!strcmp(optarg, "fail")) jo.skip_bad = 0;
            else return cli_usage_error(usage_text, "classify: --on-error must be fail or skip");
            break;
        CLI_PIPELINE_CASES:
            if (cli_pipeline_option(c, optarg, &po, "classify", usage_text)) return CLI_USAGE;
            break;
        case O_BATCH: {
            long v;
            if (cli_parse_long(optarg, 1, 1000000, &v))
                return cli_usage_error(usage_text, "classify: --batch must be 1..1000000");
            jo.batch_rows = (size_t)v;
            break;
        }
        case O_THREADS: {
            long v;
            if (cli_parse_long(optarg, 1, 64, &v)) return cli_usage_error(usage_text, "classify: --threads must be 1..64");
            jo.threads = (int)v;
            break;
        }
        case O_SUMMARY: summary = 1; break;
        case O_STATS: summary = stats = 1; break;
        case O_CONSTRAIN: /* as LOGIFY_LLM_CONSTRAIN, which lg_llm_new reads and checks */
            setenv("LOGIFY_LLM_CONSTRAIN", optarg, 1);
            break;
        case CLI_O_NO_PROGRESS: no_progress = 1; break;
        case CLI_O_QUANTIZE:
            if (cli_quantize_option(optarg, "classify", usage_text)) return CLI_USAGE;
            break;
        case 'h': fputs(usage_text, stdout); return CLI_OK;
        default: return cli_usage_error(usage_text, "classify: unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(usage_text, "classify: expected one input (a CSV file, or - for stdin)");
    const char *input = argv[optind];

    lg_config cfg;
    if (cli_build_config(&po, &cfg) != CLI_OK) return CLI_FAIL;
    int rc = CLI_FAIL;
    lg_errmsg err = {{0}};
    lg_resources res;
    lg_pipeline *pl = NULL;
    lg_job *job = NULL;
    FILE *in = NULL;
    cli_outfile of = {0};
    file_sink sink = {stdout, 0, "stdout", 0};
    char *chunk = NULL;
    if (cli_load_pipeline(&cfg, &res, &pl) != CLI_OK) {
        lg_config_free(&cfg);
        return CLI_FAIL;
    }
    in = strcmp(input, "-") ? fopen(input, "rb") : stdin;
    if (!in) {
        cli_error("%s: %s", input, strerror(errno));
        goto done;
    }
    if (output) {
        if (cli_outfile_open(&of, output) != CLI_OK) goto done;
        sink.f = of.f;
        sink.live = of.stream;
        sink.name = output;
    }
    if (templates && lg_tpl_miner_new(NULL, &jo.templates, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    jo.template_column = templates;
    jo.pipeline = pl;
    jo.sink = sink_file;
    jo.sink_user = &sink;
    jo.on_skip = on_skip;
    /* before the workers start: it takes over the log sink */
    prog = cli_progress_start("classify", no_progress, !output || of.stream);
    if (lg_job_new(&jo, &job, &err)) {
        cli_error("%s", err.msg);
        goto done;
    }
    double t0 = lg_now();
    size_t chunk_size = 1 << 20, n;
    chunk = malloc(chunk_size);
    if (!chunk) {
        cli_error("classify: read buffer: out of memory");
        goto done;
    }
    lg_err e = LG_OK;
    struct stat ist;
    lg_progress_phase(prog, NULL, "rows", 0, cli_file_size(in));
    if (fstat(fileno(in), &ist) == 0 && !S_ISREG(ist.st_mode)) {
        sink.live = !output || of.stream;
        e = read_live(job, fileno(in), chunk, chunk_size, prog, &err);
    } else {
        uint64_t bytes = 0;
        while (!e && (n = fread(chunk, 1, chunk_size, in)) > 0) {
            e = lg_job_feed(job, chunk, n, &err);
            bytes += n;
            lg_progress_set(prog, lg_job_rows_read(job), bytes);
        }
        if (!e && ferror(in)) e = lg_fail(&err, LG_EIO, "reading %s: %s", input, strerror(errno));
    }
    if (!e) e = lg_job_finish(job, &err);
    if (!e) lg_progress_set(prog, lg_job_rows_read(job), cli_file_size(in));
    if (e) {
        if (sink.failed) cli_error("%s", err.msg);
        else cli_error("%s: %s", strcmp(input, "-") ? input : "stdin", err.msg);
        goto done;
    }
    if (!output && fflush(stdout) != 0) {
        cli_error("writing stdout: %s", strerror(errno));
        goto done;
    }
    if (output) {
        sink.f = NULL;
        if (cli_outfile_commit(&of) != CLI_OK) goto done;
    }
    rc = CLI_OK;
    cli_progress_end(prog);
    prog = NULL;
    cli_llm_failures(res.llm, summary);
    if (summary) {
        lg_job_stats st;
        lg_job_get_stats(job, &st);
        print_summary(&st, lg_now() - t0, stats);
        if (res.llm) { /* the LLM stage's counters (docs/llm.md) */
            lg_llm_counters lc;
            lg_buf lb;
            lg_buf_init(&lb, 1024);
            lg_llm_get_counters(res.llm, &lc);
            if (lg_llm_counters_format(&lc, &lb) == LG_OK) fprintf(stderr, "  %s\n", lg_buf_cstr(&lb));
            lg_buf_free(&lb);
        }
        if (output) fprintf(stderr, "  wrote %s\n", output);
    }
done:
    if (of.final_path) cli_outfile_abort(&of);
    free(chunk);
    if (in && in != stdin) fclose(in);
    lg_job_free(job);
    cli_progress_end(prog); /* after the workers: it gives the log sink back */
    lg_tpl_miner_free(jo.templates);
    lg_pipeline_free(pl);
    lg_resources_free(&res);
    lg_config_free(&cfg);
    return rc;
}
