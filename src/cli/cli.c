/* cli.c - the helpers the subcommands share (declared in cli.h): error
 * and usage messages, the pipeline options (--rules, --model, --llm ...)
 * and the pipeline they build, JSON printing, output files written to a
 * temporary name and renamed into place. Moved out of main.c (issue 15) so
 * that the subcommands do not depend on the file that dispatches to them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

int cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "logify: error: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
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
    char *end;
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
        po->threshold = strtod(arg, &end);
        if (*end || end == arg || !(po->threshold >= 0 && po->threshold <= 1))
            return cli_usage_error(usage, "%s: --threshold must be in [0, 1]", cmd);
        break;
    default: return cli_usage_error(usage, "%s: unknown option", cmd);
    }
    return CLI_OK;
}

int cli_build_config(const cli_pipeline_opts *o, lg_config *cfg) {
    lg_errmsg err;
    if (lg_config_init(cfg, &err)) return cli_error("%s", err.msg);
    if (o->config_path && lg_config_load(o->config_path, cfg, &err)) {
        lg_config_free(cfg);
        return cli_error("%s", err.msg);
    }
    if (o->rules_path) {
        free(cfg->rules_path);
        cfg->rules_path = lg_strdup(o->rules_path);
    }
    if (o->model_dir) {
        free(cfg->model_dir);
        cfg->model_dir = lg_strdup(o->model_dir);
    }
    if (o->threshold >= 0) cfg->threshold = o->threshold;
    for (size_t i = 0; i < o->n_routes; i++) {
        if (lg_routes_apply_flag(&cfg->routes, o->routes[i], &err)) {
            lg_config_free(cfg);
            return cli_error("%s", err.msg);
        }
    }
    return CLI_OK;
}

int cli_load_pipeline(const lg_config *cfg, lg_resources *res, lg_pipeline **pl) {
    lg_errmsg err;
    *pl = NULL;
    if (lg_resources_load(cfg, res, &err)) return cli_error("%s", err.msg);
    if (lg_pipeline_new(&cfg->routes, res, pl, &err)) {
        lg_resources_free(res);
        return cli_error("%s", err.msg);
    }
    return CLI_OK;
}

int cli_print_json(json_t *j) {
    char *text =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(j);
    if (!text) return cli_error("out of memory");
    puts(text);
    free(text);
    return CLI_OK;
}

int cli_outfile_open(cli_outfile *o, const char *path) {
    memset(o, 0, sizeof *o);
    size_t n = strlen(path) + 16;
    o->final_path = lg_strdup(path);
    o->tmp_path = malloc(n);
    if (!o->final_path || !o->tmp_path) return cli_error("out of memory");
    snprintf(o->tmp_path, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(o->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(o->tmp_path);
        o->tmp_path = NULL;
        return cli_error("cannot create %s: %s", path, strerror(e));
    }
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        close(fd);
        cli_outfile_abort(o);
        return cli_error("cannot open %s", path);
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return CLI_OK;
}

int cli_outfile_commit(cli_outfile *o) {
    int rc = CLI_OK;
    if (fflush(o->f) != 0 || ferror(o->f)) rc = cli_error("writing %s: %s", o->final_path, strerror(errno));
    if (fclose(o->f) != 0 && rc == CLI_OK) rc = cli_error("closing %s: %s", o->final_path, strerror(errno));
    o->f = NULL;
    if (rc == CLI_OK) {
        /* mkstemp makes 0600 files; give the output ordinary permissions */
        mode_t mask = umask(0);
        umask(mask);
        chmod(o->tmp_path, 0666 & ~mask);
        if (rename(o->tmp_path, o->final_path) != 0)
            rc = cli_error("cannot rename %s to %s: %s", o->tmp_path, o->final_path, strerror(errno));
    }
    if (rc != CLI_OK) unlink(o->tmp_path);
    free(o->tmp_path);
    free(o->final_path);
    memset(o, 0, sizeof *o);
    return rc;
}

void cli_outfile_abort(cli_outfile *o) {
    if (o->f) fclose(o->f);
    if (o->tmp_path) unlink(o->tmp_path);
    free(o->tmp_path);
    free(o->final_path);
    memset(o, 0, sizeof *o);
}
