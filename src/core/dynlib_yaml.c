/*
 * dynlib_yaml.c - libyaml-0.so.2 on first use: the table of logify/dynlib_yaml.h.
 */
#include "logify/dynlib_yaml.h"

#include "logify/dynlib.h"

static lg_yaml_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_YAML_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "yaml_" #f, &api.f, err);
    LG_YAML_FUNCTIONS(LG_YAML_RESOLVE)
#undef LG_YAML_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libyaml-0.so.2", "libyaml-0-2",
                   "reading YAML (the configuration, rules files, the default rules)", resolve);

lg_err lg_yaml_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_yaml_api *lg_yaml(void) { return &api; }
