/*
 * dynlib_hs.c - libhs.so.5 (Vectorscan) on first use: the table of logify/dynlib_hs.h.
 */
#include "logify/dynlib_hs.h"

#include "logify/dynlib.h"

static lg_hs_api api; /* written once, under lib.lock, before lib.loaded */

static lg_err resolve(const lg_dynlib *lib, void *handle, lg_errmsg *err) {
    lg_err e = LG_OK;
#define LG_HS_RESOLVE(f) \
    if (e == LG_OK) e = lg_dynlib_sym(lib, handle, "hs_" #f, &api.f, err);
    LG_HS_FUNCTIONS(LG_HS_RESOLVE)
#undef LG_HS_RESOLVE
    return e;
}

static lg_dynlib lib =
    LG_DYNLIB_INIT("libhs.so.5", "libvectorscan5",
                   "the rules stage (classify, eval, train, serve, rules check)", resolve);

lg_err lg_hs_load(lg_errmsg *err) { return lg_dynlib_load(&lib, err); }

const lg_hs_api *lg_hs(void) { return &api; }
