/* cli.h - the `logify` command: one function per subcommand, plus the
 * helpers they share. The CLI only parses arguments and prints; all the
 * work is in the library. Exit codes: 0 success, 1 failure, 2 usage. */
#ifndef LOGIFY_CLI_H
#define LOGIFY_CLI_H

#include "logify/common.h"
#include <jansson.h>
#include <stdio.h>

#include "logify/config.h"
#include "logify/pipeline.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

int cmd_classify(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_templates(int argc, char **argv);

/* Prints "logify: error: <msg>" to stderr and returns CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "logify <cmd>: <msg>\n<usage>" and returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
enum { CLI_O_CONFIG = 0x1000, CLI_O_RULES, CLI_O_MODEL, CLI_O_ROUTE, CLI_O_THRESHOLD };
#define CLI_OPT_CONFIG {"config", required_argument, 0, CLI_O_CONFIG}
#define CLI_OPT_RULES {"rules", required_argument, 0, CLI_O_RULES}
#define CLI_OPT_MODEL {"model", required_argument, 0, CLI_O_MODEL}
#define CLI_OPT_ROUTE {"route", required_argument, 0, CLI_O_ROUTE}
#define CLI_OPT_THRESHOLD {"threshold", required_argument, 0, CLI_O_THRESHOLD}
#define CLI_PIPELINE_CASES                                                                         \
    case CLI_O_CONFIG:                                                                             \
    case CLI_O_RULES:                                                                              \
    case CLI_O_MODEL:                                                                              \
    case CLI_O_ROUTE:                                                                              \
    case CLI_O_THRESHOLD

/* Stores one pipeline option (c: a CLI_O_* id) into po. Returns CLI_OK, or
 * CLI_USAGE after printing "logify CMD: <problem>" and the usage text. */
int cli_pipeline_option(int c, const char *arg, cli_pipeline_opts *po, const char *cmd,
                        const char *usage);

/* Loads the config file (if any) and applies the flags over it. */
int cli_build_config(const cli_pipeline_opts *o, lg_config *cfg);

/* Loads the resources cfg names (rules, model, LLM) and builds the
 * pipeline. On failure prints the error, leaves nothing allocated (*pl
 * NULL, res freed) and returns CLI_FAIL. Free with lg_pipeline_free and
 * lg_resources_free. */
int cli_load_pipeline(const lg_config *cfg, lg_resources *res, lg_pipeline **pl);

/* Prints j as indented JSON on stdout and releases it (j may be NULL, which
 * is reported as out of memory). */
int cli_print_json(json_t *j);

/* Writes to a temporary file beside `path` and renames it into place on
 * commit, so a failed run never leaves a half-written file. A path that is
 * not a regular file (/dev/null, a FIFO) is written in place. */
typedef struct {
    char *final_path;
    char *tmp_path;
    FILE *f;
} cli_outfile;

int cli_outfile_open(cli_outfile *o, const char *path);
int cli_outfile_commit(cli_outfile *o);   /* fclose + rename */
void cli_outfile_abort(cli_outfile *o);   /* fclose + unlink */

#endif
