/* config.h - the route table (which stages run for which source, in which
 * order, with which settings) and the configuration file that holds it.
 *
 * Config file (YAML), every key optional:
 *
 *   rules: rules/default.yaml      # rules file; default: the built-in rules
 *   model: models/default          # model bundle directory
 *   threshold: 0.5                 # default model threshold
 *   routes:                        # first route whose source matches wins;
 *     - source: LegacyCRM          # "*" matches every source
 *       stages: [llm]
 *     - source: "*"
 *       stages:
 *         - rules
 *         - {stage: model, threshold: 0.6}
 *         - {stage: llm, labels: [Workflow Error, Deprecation Warning]}
 *   llm: {...}                     # read by the LLM stage (docs/llm.md)
 */
#ifndef LOGIFY_CONFIG_H
#define LOGIFY_CONFIG_H

#include "logify/common.h"
#include "logify/stage.h"
#include "logify/ytree.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LG_ROUTE_MAX_STAGES 8

typedef struct {
    char *source;                 /* exact source name, or "*" */
    lg_stage_spec stages[LG_ROUTE_MAX_STAGES];
    size_t n_stages;
} lg_route;

typedef struct {
    lg_route *routes;
    size_t n;
} lg_route_table;

/* The prototype's table: LegacyCRM -> llm; * -> rules, model. */
lg_err lg_routes_default(lg_route_table *out, lg_errmsg *err);
/* Parses a `routes:` YAML list (name is the file, for messages). */
lg_err lg_routes_from_yaml(const lg_ynode *list, const char *name, lg_route_table *out,
                           lg_errmsg *err);
/* Applies a command-line route "SOURCE=stage,stage[:threshold]" (e.g.
 * "*=rules,model:0.7" or "LegacyCRM=llm"): replaces the route for SOURCE,
 * or adds it before a "*" route. */
lg_err lg_routes_apply_flag(lg_route_table *t, const char *spec, lg_errmsg *err);
/* Route for a source: the first exact match, else the first "*", else NULL. */
const lg_route *lg_routes_find(const lg_route_table *t, const char *source);
void lg_routes_free(lg_route_table *t);
/* Deep copy. */
lg_err lg_routes_copy(const lg_route_table *src, lg_route_table *dst, lg_errmsg *err);
/* Writes a one-line description ("LegacyCRM=llm; *=rules,model"). */
lg_err lg_routes_describe(const lg_route_table *t, lg_buf *out);

typedef struct {
    char *path;            /* the file it came from, or NULL */
    char *rules_path;      /* NULL: the built-in default rules */
    char *model_dir;       /* NULL: the built-in default model, if any */
    double threshold;      /* default model threshold (0.5) */
    lg_route_table routes;
    lg_ynode *doc;         /* the whole document, for sections other modules
                              read (llm); NULL without a file */
} lg_config;

/* Fills cfg with the defaults (prototype route table, threshold 0.5). */
lg_err lg_config_init(lg_config *cfg, lg_errmsg *err);
/* Loads a config file over the defaults; relative paths in it are taken
 * relative to the file's directory. */
lg_err lg_config_load(const char *path, lg_config *cfg, lg_errmsg *err);
void lg_config_free(lg_config *cfg);

#ifdef __cplusplus
}
#endif
#endif
