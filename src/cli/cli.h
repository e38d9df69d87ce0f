/* cli.h - the `logify` command: one function per subcommand, plus the
 * helpers they share. The CLI only parses arguments and prints; all the
 * work is in the library. Exit codes: 0 success, 1 failure, 2 usage. */
#ifndef LOGIFY_CLI_H
#define LOGIFY_CLI_H

#include "logify/common.h"
#include <jansson.h>
#include <stdio.h>

#include "logify/cluster.h"
#include "logify/config.h"
#include "logify/live.h"
#include "logify/llm.h"
#include "logify/pipeline.h"
#include "cli/cli_progress.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2
#define CLI_CUT 3 /* serve: stopped with requests cut off by the shutdown */

int cmd_classify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_templates(int argc, char **argv);
int cmd_kafka(int argc, char **argv);

/* Prints "logify: error: <msg>" to stderr and returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "logify <cmd>: <msg>\n<usage>" and returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Option values, strictly: the whole of `s` is the number (no leading or
 * trailing blank, no empty string, no overflow; a double must be finite).
 * 0 with *out set, or -1 with *out untouched; the caller says what the
 * option must be. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);

/* Options shared by every command that builds a pipeline. */
typedef struct {
    const char *config_path;
    const char *rules_path;
    const char *model_dir;
    const char *routes[32];
    size_t n_routes;
    double threshold; /* < 0: keep the config's */
} cli_pipeline_opts;

/* getopt_long ids and table entries of the pipeline options; a command
 * lists the entries it takes and hands those ids to cli_pipeline_option. */
enum { CLI_O_CONFIG = 0x1000, CLI_O_RULES, CLI_O_MODEL, CLI_O_ROUTE, CLI_O_THRESHOLD,
       CLI_O_NO_PROGRESS, CLI_O_QUANTIZE };
#define CLI_OPT_CONFIG {"config", required_argument, 0, CLI_O_CONFIG}
#define CLI_OPT_RULES {"rules", required_argument, 0, CLI_O_RULES}
#define CLI_OPT_MODEL {"model", required_argument, 0, CLI_O_MODEL}
#define CLI_OPT_ROUTE {"route", required_argument, 0, CLI_O_ROUTE}
#define CLI_OPT_THRESHOLD {"threshold", required_argument, 0, CLI_O_THRESHOLD}
#define CLI_OPT_NO_PROGRESS {"no-progress", no_argument, 0, CLI_O_NO_PROGRESS}
#define CLI_OPT_QUANTIZE {"quantize", required_argument, 0, CLI_O_QUANTIZE}
#define CLI_PIPELINE_CASES                                                                         \
    case CLI_O_CONFIG:                                                                             \
    case CLI_O_RULES:                                                                              \
    case CLI_O_MODEL:                                                                              \
    case CLI_O_ROUTE:                                                                              \
    case CLI_O_THRESHOLD

/* --quantize int8|none (cli_quantize.c): sets $LOGIFY_SBERT_QUANTIZE for
 * every sentence-BERT model this process loads. Returns CLI_OK, or
 * CLI_USAGE after printing the problem and the usage text. */
int cli_quantize_option(const char *arg, const char *cmd, const char *usage);

/* Stores one pipeline option (c: a CLI_O_* id) into po. Returns CLI_OK, or
 * CLI_USAGE after printing "logify CMD: <problem>" and the usage text. */
int cli_pipeline_option(int c, const char *arg, cli_pipeline_opts *po, const char *cmd,
                        const char *usage);

/* Loads the config file (if any) and applies the flags over it. */
int cli_build_config(const cli_pipeline_opts *o, lg_config *cfg);
/* The same options as a reload recipe (live.h; borrows o's strings). */
lg_pset_source cli_pset_source(const cli_pipeline_opts *o);

/* Loads the resources cfg names (rules, model, LLM) and builds the
 * pipeline. On failure prints the error, leaves nothing allocated (*pl
 * NULL, res freed) and returns CLI_FAIL. Free with lg_pipeline_free and
 * lg_resources_free. */
int cli_load_pipeline(const lg_config *cfg, lg_resources *res, lg_pipeline **pl);

/* After a run: prints once on stderr what cost the LLM stage rows (a
 * warning; nothing when it labelled them all), and with by_reason a
 * summary line counting them by reason. llm may be NULL. */
void cli_llm_failures(const lg_llm *llm, int by_reason);

/* Prints j as indented JSON on stdout and releases it (j may be NULL, which
 * is reported as out of memory). */
int cli_print_json(json_t *j);

/* `-o PATH` (outfile.c): a regular file is written to a temporary file
 * beside it and renamed into place on commit, so a failed run never leaves
 * a half-written file; an existing file keeps its mode and owner. "-",
 * character devices and FIFOs are written through as streams; a symbolic
 * link is followed (its target is replaced, the link stays). */
typedef struct {
    char *final_path; /* the target (a symbolic link resolved) */
    char *tmp_path;   /* NULL when writing through */
    FILE *f;
    int stream;       /* 1: writing through (stdout, a device, a FIFO) */
    int slot;         /* its place among the files a signal removes, or -1 */
} cli_outfile;

int cli_outfile_open(cli_outfile *o, const char *path);
int cli_outfile_commit(cli_outfile *o);   /* fclose + rename (a stream: flush) */
void cli_outfile_abort(cli_outfile *o);   /* fclose + unlink */

#endif
