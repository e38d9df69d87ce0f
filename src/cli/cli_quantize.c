/* cli_quantize.c - `--quantize int8|none` of the commands that load a
 * sentence-BERT model (embed, classify, train, serve, eval): the choice
 * goes to $LOGIFY_SBERT_QUANTIZE, which lg_sbert_load reads (as
 * --llm-constrain goes to $LOGIFY_LLM_CONSTRAIN), so that it reaches the
 * model however deep in the pipeline the bundle's encoder is built, and
 * is kept across serve's reloads. docs/bert.md, "int8". */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_quantize_option(const char *arg, const char *cmd, const char *usage) {
    if (strcmp(arg, "int8") != 0 && strcmp(arg, "none") != 0)
        return cli_usage_error(usage, "%s: --quantize must be int8 or none (got '%.64s')", cmd,
                               arg);
    setenv("LOGIFY_SBERT_QUANTIZE", arg, 1);
    return CLI_OK;
}
