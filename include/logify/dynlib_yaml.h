/*
 * dynlib_yaml.h - libyaml (the YAML files: config, rules, templates
 * rules; logify/ytree.h), loaded on first use (logify/dynlib.h says why).
 * Call lg_yaml_load() first, then lg_yaml()->f(...) for yaml_f(...). A new
 * function goes into LG_YAML_FUNCTIONS.
 */
#ifndef LOGIFY_DYNLIB_YAML_H
#define LOGIFY_DYNLIB_YAML_H

#include <yaml.h>
#include "logify/dynlib.h"

/* the functions Logify calls, without their prefix "yaml_" */
#define LG_YAML_FUNCTIONS(X) \
    X(parser_initialize) X(parser_set_input_string) X(parser_parse) X(parser_delete) \
    X(event_delete)

/* their addresses, typed as the library's header declares them */
typedef struct lg_yaml_api {
#define LG_YAML_MEMBER(f) __typeof__(&yaml_##f) f;
    LG_YAML_FUNCTIONS(LG_YAML_MEMBER)
#undef LG_YAML_MEMBER
} lg_yaml_api;

/* The table; its pointers are NULL until lg_yaml_load (logify/dynlib.h)
 * succeeded. */
const lg_yaml_api *lg_yaml(void);

#endif
