/* cli.h - the `logify` command: one function per subcommand, plus the
 * helpers they share. The CLI only parses arguments and prints; all the
 * work is in the library. Exit codes: 0 success, 1 failure, 2 usage. */
#ifndef LOGIFY_CLI_H
#define LOGIFY_CLI_H

#include "logify/common.h"
#include "logify/config.h"

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

/* Loads the config file (if any) and applies the flags over it. */
int cli_build_config(const cli_pipeline_opts *o, lg_config *cfg);

/* Writes to a temporary file beside `path` and renames it into place on
 * commit, so a failed run never leaves a half-written file. */
typedef struct {
    char *final_path;
    char *tmp_path;
    FILE *f;
} cli_outfile;

int cli_outfile_open(cli_outfile *o, const char *path);
int cli_outfile_commit(cli_outfile *o);   /* fclose + rename */
void cli_outfile_abort(cli_outfile *o);   /* fclose + unlink */

#endif
