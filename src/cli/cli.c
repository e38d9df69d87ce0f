/* cli.c - the helpers the subcommands share (declared in cli.h): error
 * and usage messages, the pipeline options (--rules, --model, --llm ...)
 * and the pipeline they build, JSON printing, the LLM failure report
 * (output files: outfile.c). Moved out of main.c (issue 15) so
 * that the subcommands do not depend on the file that dispatches to them. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "logify/jsonguard.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lg_progress *p = cli_progress_active();
    if (p) { /* above the progress line, not across it */
        char msg[1024];
        vsnprintf(msg, sizeof msg, fmt, ap);
        lg_progress_printf(p, "logify: error: %s\n", msg);
    } else {
        fprintf(stderr, "logify: error: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage_error(const char *usage_text, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "logify: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n%s", usage_text);
    va_end(ap);
    return CLI_USAGE;
}

int cli_pipeline_option(int c, const char *arg, cli_pipeline_opts *po, const char *cmd,
                        const char *usage) {
    switch (c) {
    case CLI_O_CONFIG: po->config_path = arg; break;
    case CLI_O_RULES: po->rules_path = arg; break;
    case CLI_O_MODEL: po->model_dir = arg; break;
    case CLI_O_ROUTE:
        if (po->n_routes == sizeof po->routes / sizeof *po->routes)
            return cli_usage_error(usage, "%s: too many --route options", cmd);
        po->routes[po->n_routes++] = arg;
        break;
    case CLI_O_THRESHOLD:
        if (cli_parse_double(arg, &po->threshold) || !(po->threshold >= 0 && po->threshold <= 1))
            return cli_usage_error(usage, "%s: --threshold must be in [0, 1]", cmd);
        break;
    default: return cli_usage_error(usage, "%s: unknown option", cmd);
    }
    return CLI_OK;
}

int cli_parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

lg_pset_source cli_pset_source(const cli_pipeline_opts *o) {
    lg_pset_source src = {o->config_path, o->rules_path, o->model_dir, o->routes, o->n_routes,
                          o->threshold};
    return src;
}

int cli_build_config(const cli_pipeline_opts *o, lg_config *cfg) {
    lg_errmsg err = {{0}};
    lg_pset_source src = cli_pset_source(o);
    if (lg_pset_source_config(&src, cfg, &err)) return cli_error("%s", err.msg);
    return CLI_OK;
}

int cli_load_pipeline(const lg_config *cfg, lg_resources *res, lg_pipeline **pl) {
    lg_errmsg err = {{0}};
    *pl = NULL;
    if (lg_resources_load(cfg, res, &err)) return cli_error("%s", err.msg);
    if (lg_pipeline_new(&cfg->routes, res, pl, &err)) {
        lg_resources_free(res);
        return cli_error("%s", err.msg);
    }
    return CLI_OK;
}

void cli_llm_failures(const lg_llm *llm, int by_reason) {
    if (!llm) return;
    lg_buf b;
    lg_buf_init(&b, 4096);
    if (lg_llm_failures_format(llm, &b) == LG_OK && b.len)
        fprintf(stderr, "logify: warning: %s\n", lg_buf_cstr(&b));
    lg_buf_free(&b);
    if (!by_reason) return;
    lg_llm_counters c;
    lg_llm_get_counters(llm, &c);
    if (!c.rows_unlabelled) return;
    fprintf(stderr, "  llm unlabelled by reason:");
    for (int k = 0; k < LG_LLM_WHY_KINDS; k++)
        fprintf(stderr, "%s %s %llu", k ? "," : "", lg_llm_why_name((lg_llm_why)k),
                (unsigned long long)c.unlabelled_by[k]);
    fputc('\n', stderr);
}

int cli_print_json(json_t *j) {
    char *text = lg_json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!text) return cli_error("JSON output: out of memory");
    puts(text);
    free(text);
    return CLI_OK;
}

